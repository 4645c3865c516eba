"""One phone call: turns menu Outputs into AGI commands and DTMF replies into menu Inputs.

The call is an explicit state machine (``ivr.states``; diagram in docs/ivr.md):
``connected → starting → (playing → collecting → thinking)* → finishing | releasing → closed``.
It ends in one of three ways, each handled once in ``run``:
  * the output has no ``wait`` → ``HANGUP`` and close;
  * the caller hangs up (``HANGUP`` line, ``result=-1`` then HANGUP, 511, socket lost) → feed
    ``HangUp()`` to the dialogue so the menu can release what it holds, then close;
  * a media failure (``result=-1`` without a hang-up), a reply deadline or an engine error →
    feed ``HangUp()``, close without ``HANGUP`` so the dialplan can continue (a fallback).
Every call leaves one ``ivr.call_record`` log line (``ivr.states.CallRecord``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ivr.agi import AgiEnv, AgiProtocol, AgiReply, CallEnded
from ivr.channel import ChannelEffects
from ivr.compose import Lexicon, Live
from ivr.render import prompt_name, render_output
from ivr.states import CallEvent, CallRecord, CallState, Deadlines, Ended, Phase, advance
from menus.driver import DialogueLike
from menus.types import Digits, HangUp, Input, NoInput, Output, Session
from phone import caller_msisdn

S, E = CallState, CallEvent
__all__ = ["Call", "Ended", "prompt_name"]


def _dead_ok(words: tuple[str, ...]) -> bool:
    """Commands that still run on a dead channel: a transfer's tail (Dial, DIALSTATUS)."""
    return words[:2] in (("EXEC", "Dial"), ("GET", "VARIABLE"))


def call_entry(env: AgiEnv, numbers: Mapping[str, str]) -> str:
    """What the call chose before the menu began (the menu's ``{entry}``): ``?hospital=`` in
    the AGI URL (an id or a code), else the hospital of the number dialed (``agi_dnid``, then
    ``agi_extension``, looked up in ``ivr.numbers``); "" when neither names one."""
    chosen = env.params.get("hospital", "").strip()
    if chosen:
        return chosen
    for name in ("agi_dnid", "agi_extension"):
        dialed = env.vars.get(name, "").strip()
        if dialed and dialed in numbers:
            return numbers[dialed]
    return ""


class Call:
    """Drives one FastAGI connection through one menu dialogue."""

    def __init__(
        self,
        agi: AgiProtocol,
        env: AgiEnv,
        dialogue: DialogueLike,
        *,
        default_menu: str | None = None,
        deadlines: Deadlines | None = None,
        transfer_targets: Mapping[str, str] | None = None,
        dial_timeout_s: int = 30,
        on_record: Callable[[CallRecord], None] | None = None,
        batch_prompts: bool = True,
        lexicons: Mapping[str, Lexicon] | None = None,
        live: Live | None = None,
        numbers: Mapping[str, str] | None = None,
    ) -> None:
        self.live = live
        self.entry = call_entry(env, numbers or {})
        self.agi = agi
        self.batch_prompts = batch_prompts
        self.lexicons = lexicons or {}
        self._sound_lang = env.language  # CHANNEL(language): where Asterisk looks for files
        self.env = env
        self.dialogue = dialogue
        self.menu = env.script or default_menu or ""
        self.msisdn = caller_msisdn(env.callerid)
        self.deadlines = deadlines or Deadlines()
        self.phase = Phase()
        self.session: Session | None = None
        self._log: Any = None
        self.record = CallRecord(
            call=env.uniqueid[-12:],
            menu=self.menu,
            caller_tail=self.msisdn[-4:] or "withheld",
            started=agi.clock.seconds(),
        )
        self._on_record = on_record
        self.channel = ChannelEffects(
            self._command,
            msisdn=self.msisdn,
            targets=transfer_targets or {},
            dial_timeout_s=dial_timeout_s,
            on_event=self._fire,
            on_outcome=self._transfer_outcome,
        )
        agi.on_hangup = self._heard_hangup

    @property
    def log(self) -> Any:
        """The call's logger with the caller's last 4 digits, bound on first use (see
        ``AgiProtocol.log``)."""
        if self._log is None:
            self._log = self.agi.log.bind(caller_tail=self.record.caller_tail)
        return self._log

    # ------------------------------------------------------------------ the machine

    @property
    def state(self) -> CallState:
        return self.phase.state

    def _fire(self, event: CallEvent) -> None:
        """Move the machine (``ivr.states.MOVES``); render and channel effects report here."""
        self.phase = advance(self.phase, event)

    def _heard_hangup(self) -> None:
        if self.record.hangup_at is None:
            node = self.session.node if self.session else "-"
            self.record.hangup_at = f"{self.state}:{node}"

    def _transfer_outcome(self, outcome: str) -> None:
        self.record.transfer = outcome

    async def run(self) -> None:
        """Run the dialogue to its end; never raises."""
        final = False  # the last output was rendered: nothing to release
        try:
            if not self.menu:
                raise Ended("no menu in agi_network_script", hung_up=False, result="error")
            self._fire(E.BEGIN)
            chosen = {"entry": self.entry} if self.entry else {}  # dialogues without entries
            self.session, output = await self.dialogue.begin(
                self.menu,
                channel="ivr",
                msisdn=self.msisdn,
                lang=self.env.params.get("lang"),
                channel_effects=self.channel.run,
                **chosen,
            )
            self.log.debug("ivr.call_start")
            self._fire(E.OUTPUT)
            await self._command("ANSWER")
            while True:
                final = output.ends
                if self.state is not S.PLAYING:  # not the first output: PLAYING since ANSWER
                    self._fire(E.OUTPUT)
                self.record.visit(self.session.node)
                lang = self.session.lang
                if lang != self._sound_lang:  # the caller chose a language, or the URL did
                    await self._command("SET", "VARIABLE", "CHANNEL(language)", lang)
                    self._sound_lang = lang
                inp = await render_output(
                    self._command,
                    output,
                    lang,
                    self._fire,
                    batch=self.batch_prompts,
                    lexicon=self.lexicons.get(lang),
                    live=self.live,
                )
                if final:
                    self._fire(E.FINAL)
                    await self._command("HANGUP")
                    self.record.result = "completed"
                    self.record.end_node = self.session.node
                    self.log.debug("ivr.call_done", node=self.session.node)
                    return
                await self._resume(inp)
                output = self._last_output
        except Ended as ended:
            self.record.result = ended.result
            if not ended.hung_up:
                self.record.failures.append(str(ended))
            event = "ivr.caller_hangup" if ended.hung_up else "ivr.call_ended"
            self.log.info(event, why=str(ended), node=self.session.node if self.session else None)
            await self._release(final)
        except Exception:
            self.record.result = "error"
            self.log.exception("ivr.call_error", node=self.session.node if self.session else None)
            await self._release(final)
        finally:
            self._finish()

    async def _resume(self, inp: Input) -> None:
        assert self.session is not None
        before, lang = self.session.node, self.session.lang
        self._fire(E.INPUT)
        self.record.inputs += 1
        if isinstance(inp, NoInput):
            self.record.timeouts += 1
        self.session, self._last_output = await self.dialogue.resume(
            self.session, inp, channel_effects=self.channel.run
        )
        same = self.session.node == before and self.session.lang == lang  # not a language choice
        if isinstance(inp, Digits) and same and not self._last_output.ends:
            self.record.invalid += 1

    _last_output: Output

    async def _release(self, final: bool) -> None:
        """Tell the menu the caller is gone so it can drop holds and end the session."""
        if self.state is S.CLOSED:
            return
        self._fire(E.GONE)
        if self.session is None or self.session.ended or final:
            return
        try:
            await self.dialogue.resume(self.session, HangUp(), channel_effects=self.channel.run)
        except Exception:
            self.log.exception("ivr.hangup_feed_failed")

    def _finish(self) -> None:
        if self.state is not S.CLOSED:
            self._fire(E.CLOSE)
        self.agi.close()
        if self.record.result == "hangup" and self.record.hangup_at is None:
            node = self.session.node if self.session else "-"
            self.record.hangup_at = f"socket:{node}"
        self.record.duration_s = self.agi.clock.seconds() - self.record.started
        self.log.info("ivr.call_record", **self.record.fields())
        if self._on_record is not None:
            self._on_record(self.record)
        self.channel.release()  # break the call <-> channel effects cycle

    # ------------------------------------------------------------------ commands

    async def _command(self, *words: str, missing_ok: bool = False) -> AgiReply:
        """Send one command; raise Ended on hang-up, dead channel or media failure.

        Commands allowed on a dead channel (EXEC, GET VARIABLE) still run after a hang-up so a
        transfer can read DIALSTATUS; anything else after the HANGUP line ends the call.
        ``missing_ok``: a ``result=-1`` on a live channel (a prompt file that is not there) is
        logged and returned instead of ending the call, so one missing file costs one sentence.
        """
        if self.agi.hung_up and not _dead_ok(words):
            raise Ended("hangup line", hung_up=True)
        try:
            reply = await self.agi.command(*words, timeout=self.deadlines.for_command(words))
        except CallEnded as err:
            if self.agi.close_reason:  # garbage from the peer: not the caller's doing
                raise Ended(self.agi.close_reason, hung_up=False, result="error") from err
            raise Ended("socket closed", hung_up=True) from err
        except Exception as err:  # a missed reply deadline: the protocol has closed the call
            why = f"{words[0]} {type(err).__name__}"
            raise Ended(why, hung_up=False, result="timeout") from err
        if reply.code == 511:
            raise Ended(f"{words[0]} on a dead channel", hung_up=True)
        if reply.failed:
            if words[0] in ("HANGUP", "EXEC"):
                return reply
            if await self._caller_gone():
                raise Ended(f"{words[0]} result=-1 then HANGUP", hung_up=True)
            if missing_ok:
                self.record.failures.append(f"missing {words[2]}")
                self.log.warning("ivr.prompt_missing", prompt=words[2])
                return reply
            raise Ended(f"{' '.join(words[:3])} result=-1: media failure", hung_up=False)
        if self.agi.hung_up and not _dead_ok(words):
            raise Ended(f"{words[0]} answered after HANGUP", hung_up=True)
        if not reply.ok:
            raise Ended(f"{words[0]} got {reply.code}", hung_up=False, result="error")
        return reply

    async def _caller_gone(self) -> bool:
        """After ``result=-1``: hang-up or media failure? Asterisk sends ``HANGUP`` right after
        the result when the caller left, so a ``CHANNEL STATUS`` probe then gets 511."""
        if self.agi.hung_up:
            return True
        try:
            probe = await self.agi.command("CHANNEL", "STATUS", timeout=self.deadlines.control_s)
        except Exception:
            return True
        return self.agi.hung_up or probe.code == 511 or probe.failed
