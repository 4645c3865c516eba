"""SMS over CMPP 2.0, China Mobile's SP <-> ISMG protocol, beside SMPP (``sms.service``).

``codec``: the PDUs and their exact bytes; ``core``: the client's decisions (CONNECT check,
SUBMIT_RESP outcomes, splitting, status reports, heartbeat); ``client``: the Twisted link;
``service.CmppSender``: the ``sms.api.Sender``; ``ismg``: a loopback gateway simulator.
"""
