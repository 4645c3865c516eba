"""``CmppSender``: ``sms.api.Sender`` over CMPP 2.0, the same outbox and pump as SMPP.

Everything that does not depend on the wire is ``sms.service.LinkSender``'s: the durable
outbox (a message is in Redis before the ISMG sees it, and in flight until every part has a
SUBMIT_RESP), start-up recovery, reconnect with backoff and jitter, receipts correlated by
Msg_Id (also one that arrives before its SUBMIT_RESP) and reassembled MO messages.  This class
adds the link (``sms.cmpp.client.CmppProtocol``), how a message becomes SUBMITs, and which
SUBMIT_RESP results are worth another attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint

from sms.api import OutgoingSms
from sms.cmpp import core
from sms.cmpp.client import CmppConfig, CmppProtocol, retryable
from sms.cmpp.codec import Deliver, Submit
from sms.outbox import Outbox
from sms.service import LinkSender, OnMessage, OnReceipt
from sms.session import State


class CmppSender(LinkSender):
    def __init__(
        self,
        host: str,
        port: int,
        config: CmppConfig,
        *,
        reactor: Any,
        clock: IReactorTime | None = None,
        outbox: Outbox | None = None,
        retry_policy: Callable[[int], float] | None = None,
        on_receipt: OnReceipt | None = None,
        on_message: OnMessage | None = None,
        endpoint: IStreamClientEndpoint | None = None,
    ) -> None:
        self.config = config
        super().__init__(
            endpoint if endpoint is not None else HostnameEndpoint(reactor, host, port),
            clock=clock if clock is not None else reactor, window=config.window, outbox=outbox,
            retry_policy=retry_policy, on_receipt=on_receipt, on_message=on_message,
            pump_options={"source_addr": config.src_id, "submit_parts": self._submits,
                          "retryable": retryable})

    def _build_link(self) -> CmppProtocol:
        return CmppProtocol(self.config, self.clock, on_receipt=self._receipt,
                            on_deliver=self._mo, on_lost=self._lost)

    def _open(self, link: CmppProtocol) -> defer.Deferred[Any]:
        return link.connect()

    def _goodbye(self, link: CmppProtocol) -> defer.Deferred[Any]:
        return link.terminate()

    def _submits(self, link: CmppProtocol, message: OutgoingSms,
                 ref: int) -> list[defer.Deferred[str]]:
        """One SUBMIT per part (Registered_Delivery 1, Src_Id and Service_Id from settings);
        the ValueError of a message too long for 255 parts comes before any is sent."""
        cfg = self.config
        parts = core.split(message.text, ref)
        return [link.submit(Submit((message.to,), part.content, msg_fmt=part.msg_fmt,
                                   tp_udhi=part.tp_udhi, pk_total=part.pk_total,
                                   pk_number=part.pk_number, registered_delivery=1,
                                   service_id=cfg.service_id, msg_src=cfg.sp_id,
                                   src_id=cfg.src_id))
                for part in parts]

    def _mo(self, deliver: Deliver, decoded: Any) -> None:
        self.mo_received(deliver.src_terminal_id, deliver.dest_id, decoded)

    @property
    def refusal(self) -> str:
        """Why the ISMG refused the last CONNECT ('' while connected or never refused)."""
        link = self._esme
        return "" if link is not None and link.state is State.BOUND else self._refusal

    _refusal = ""

    def _lost(self, esme: Any) -> None:
        self._refusal = getattr(esme, "refusal", "")
        super()._lost(esme)
