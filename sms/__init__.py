"""SMS out of hotline over SMPP 3.4 or CMPP 2.0, and MO commands in.

Others hand a message to a ``Sender`` (``sms.api``; ``sms.testing`` has its twin); the composition
root builds ``SmppSender`` or ``CmppSender`` over a ``RedisOutbox``, and the simulators
(``start_smsc``, ``start_ismg``; ``log_received`` logs what they receive); USSD over SMPP reuses
the ESME (``EsmeProtocol``, ``Pdu``, ``LinkKeeper``) and the encodings. ``sms.smpp`` and
``sms.cmpp`` are the wire layers.

The interface and the pure parts are imported here; the Twisted parts on first use, so importing
``sms.api`` stays cheap and never installs a reactor (``RedisOutbox`` brings txredisapi).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from sms import encoding, gsm0338
from sms.api import OutgoingSms, Sender
from sms.mo import Command, Keywords, parse

if TYPE_CHECKING:
    from sms.cmpp.client import CmppConfig
    from sms.cmpp.ismg import start_ismg
    from sms.cmpp.service import CmppSender
    from sms.esme import EsmeProtocol, State
    from sms.esme_config import EsmeConfig
    from sms.flow import reconnect_policy
    from sms.link import LinkKeeper
    from sms.redis_outbox import RedisOutbox
    from sms.service import LinkSender, SmppSender
    from sms.smpp.pdu import Pdu
    from sms.smsc import log_received, start_smsc

__all__ = [
    "CmppConfig",
    "CmppSender",
    "Command",
    "EsmeConfig",
    "EsmeProtocol",
    "Keywords",
    "LinkKeeper",
    "LinkSender",
    "OutgoingSms",
    "Pdu",
    "RedisOutbox",
    "Sender",
    "SmppSender",
    "State",
    "encoding",
    "gsm0338",
    "log_received",
    "parse",
    "reconnect_policy",
    "start_ismg",
    "start_smsc",
]
_ON_FIRST_USE = {
    "CmppConfig": "sms.cmpp.client", "CmppSender": "sms.cmpp.service",
    "EsmeConfig": "sms.esme_config", "EsmeProtocol": "sms.esme", "LinkKeeper": "sms.link",
    "LinkSender": "sms.service", "Pdu": "sms.smpp.pdu", "RedisOutbox": "sms.redis_outbox",
    "SmppSender": "sms.service", "State": "sms.esme", "reconnect_policy": "sms.flow",
    "start_ismg": "sms.cmpp.ismg", "start_smsc": "sms.smsc", "log_received": "sms.smsc",
}  # fmt: skip


def __getattr__(name: str) -> object:
    if name in _ON_FIRST_USE:
        return getattr(import_module(_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'sms' has no attribute {name!r}")
