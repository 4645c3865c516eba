"""Effects the voice channel runs itself (contract 2: names starting with ``channel.``).

* ``channel.transfer`` {"to": "operator"}: ``EXEC Dial <target>,<timeout>`` then
  ``GET VARIABLE DIALSTATUS``; ANSWER → ok {"outcome": "answered"}; BUSY → ``busy``; NOANSWER →
  ``noanswer``; anything else (CONGESTION, CHANUNAVAIL, CANCEL, …) → ``failed``; a name with no
  dial target configured → ``unsupported``.
* ``channel.caller`` {}: ok {"tail": last 4 digits} when the caller ID is a valid number, else
  error ``withheld`` (the menu then asks for a phone number to receive the SMS).
Anything else is ``unsupported``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog

from ivr.agi import AgiReply
from ivr.states import CallEvent
from menus.types import Effect, EffectResult, Session

log = structlog.get_logger("ivr.channel")

DIALSTATUS_ERRORS: Mapping[str, str | None] = {
    "ANSWER": None,
    "BUSY": "busy",
    "NOANSWER": "noanswer",
}


def transfer_result(dialstatus: str) -> EffectResult:
    """Map Asterisk's DIALSTATUS to the effect result of contract 2."""
    status = dialstatus.strip().upper()
    if status not in DIALSTATUS_ERRORS:
        return EffectResult(ok=False, error="failed")
    error = DIALSTATUS_ERRORS[status]
    if error is None:
        return EffectResult(ok=True, value={"outcome": "answered"})
    return EffectResult(ok=False, error=error)


async def _call_ended(*words: str, **kw: object) -> AgiReply:
    raise RuntimeError("the call has ended")


def _ignore(*_: object) -> None:
    """A callback of a call that has ended."""


class ChannelEffects:
    """Runs ``channel.*`` effects for one call; plugged into ``Dialogue`` as ``channel_effects``."""

    def __init__(
        self,
        command: Callable[..., Awaitable[AgiReply]],
        *,
        msisdn: str,
        targets: Mapping[str, str],
        dial_timeout_s: int,
        on_event: Callable[[CallEvent], None],
        on_outcome: Callable[[str], None],
    ) -> None:
        self._command = command
        self._msisdn = msisdn
        self._targets = targets
        self._dial_timeout_s = dial_timeout_s
        self._on_event = on_event
        self._on_outcome = on_outcome

    def release(self) -> None:
        """Forget the call's callbacks once it has ended (they refer back to the call: a cycle
        only the garbage collector would otherwise break); a late effect gets ``failed``."""
        self._command = _call_ended
        self._on_event = self._on_outcome = _ignore

    async def run(self, effect: Effect, session: Session) -> EffectResult:
        if effect.name == "channel.transfer":
            return await self.transfer(str(effect.args.get("to", "operator")))
        if effect.name == "channel.caller":
            if self._msisdn:
                return EffectResult(ok=True, value={"tail": self._msisdn[-4:]})
            return EffectResult(ok=False, error="withheld")
        return EffectResult(ok=False, error="unsupported")

    async def transfer(self, to: str) -> EffectResult:
        target = self._targets.get(to)
        if not target:
            self._on_outcome("unsupported")
            return EffectResult(ok=False, error="unsupported")
        self._on_event(CallEvent.TRANSFER)
        try:
            await self._command("EXEC", "Dial", f"{target},{self._dial_timeout_s}")
            status = await self._command("GET", "VARIABLE", "DIALSTATUS")
            result = transfer_result(status.data or "" if status.result == "1" else "")
        except Exception as err:  # the call ended under us: the next command will say so
            log.info("ivr.transfer_interrupted", error=str(err))
            result = EffectResult(ok=False, error="failed")
        finally:
            self._on_event(CallEvent.TRANSFERRED)  # back to the state the effect was called in
        self._on_outcome((result.value or {}).get("outcome", "") if result.ok else result.error)
        return result
