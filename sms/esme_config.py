"""What the ESME link is configured with and how its requests fail (kept apart from the
protocol so ``sms.esme`` stays readable).  Re-exported by ``sms.esme``."""

from __future__ import annotations

from dataclasses import dataclass

from sms.flow import Backoff, check_window
from sms.smpp import status as st


class SmppError(Exception):
    """The SMSC answered with a non-zero command_status (or generic_nack)."""

    def __init__(self, command: str, status: int) -> None:
        super().__init__(f"{command} failed: command_status 0x{status:02X}")
        self.command = command
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status in st.RETRYABLE


class LinkLost(Exception):
    """The connection closed before the response came; the request may be sent again."""


class ResponseTimeout(Exception):
    """No response within the configured time (only that request fails, not the link)."""


class NotBound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class EsmeConfig:
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    bind_timeout: float = 30.0
    response_timeout: float = 30.0
    enquire_link_interval: float = 30.0
    unbind_timeout: float = 5.0
    tps: float | None = None  # submit_sm per second on this bind (token bucket); None = no limit
    throttle_retries: int = 5  # RTHROTTLED/RMSGQFUL resubmissions of one PDU before it fails
    throttle_backoff: Backoff = Backoff()  # noqa: RUF009 (frozen, shared safely)

    def __post_init__(self) -> None:
        check_window(self.window)
        if self.tps is not None and self.tps <= 0:
            raise ValueError(f"tps must be > 0, got {self.tps}")
