"""SMS out of hotline over SMPP 3.4.  Others need only ``sms.api`` (and ``sms.testing``'s twin);
``sms.service.SmppSender`` is built by the composition root, ``sms.smpp`` is the wire layer."""

from sms.api import OutgoingSms, Sender

__all__ = ["OutgoingSms", "Sender"]
