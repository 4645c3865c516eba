"""SMS out of hotline over SMPP 3.4 or CMPP 2.0.  Others need only ``sms.api`` (and
``sms.testing``'s twin); ``sms.service.SmppSender`` or ``sms.cmpp.service.CmppSender`` is built by
the composition root, ``sms.smpp`` and ``sms.cmpp`` are the wire layers."""

from sms.api import OutgoingSms, Sender

__all__ = ["OutgoingSms", "Sender"]
