"""Dialplan applications the simulator runs for ``EXEC``: Dial (DIALSTATUS) and Read.

A mixin of ``AsteriskSimulator`` built on ``MediaMixin`` (its script and DTMF helpers): it uses
the simulator's script, DTMF buffer, variables and reply helpers. Behaviour follows app_dial
(DIALSTATUS values, -1 when the caller hangs up while it rings) and app_read (``&`` prompt lists,
any key stops the prompts and is kept, the digits go to the variable, READSTATUS
OK/TIMEOUT/HANGUP, the application itself returns 0).
"""

from __future__ import annotations

from ivr.simulator_media import MediaMixin
from ivr.simulator_rules import PROMPT_S, collect, during_playback
from ivr.simulator_steps import HANGUP, SILENCE, Dial


class AppsMixin(MediaMixin):
    variables: dict[str, str]
    dead: bool

    def _dial(self, argv: list[str]) -> None:
        """EXEC Dial: ring, then talk or fail; DIALSTATUS is set as Asterisk's app_dial does."""
        self.transcript.append(("dial", argv[2] if len(argv) > 2 else ""))
        step = self.script[0] if self.script else Dial("NOANSWER")
        if step == HANGUP:  # the caller gives up while it rings
            self.script.popleft()
            self.variables["DIALSTATUS"] = "CANCEL"
            self._spend(5.0)
            self._reply("200 result=-1")
            self._caller_hangup()
            return
        if isinstance(step, Dial):
            self.script.popleft()
        else:
            step = Dial("NOANSWER")
        self.variables["DIALSTATUS"] = step.status
        ring_s = float(argv[2].split(",")[1]) if "," in argv[2] else 30.0
        self._spend(step.talk_s + 5.0 if step.status == "ANSWER" else ring_s)
        self._reply("200 result=0")

    def _read(self, data: str) -> None:
        """app_read: play ``p1&p2…`` (any key stops them and is kept), then collect digits like
        GET DATA; the digits go to the variable and READSTATUS is OK, TIMEOUT or HANGUP. A
        missing file is skipped (Asterisk only logs it). Read itself always returns 0."""
        var, files, maxd, _opts, _tries, timeout = (data.split(",") + [""] * 6)[:6]
        self.transcript.append(("read", files))
        if self.dead or (self.script and self.script[0] == HANGUP):
            if not self.dead:
                self.script.popleft()
                self._spend(PROMPT_S / 2)
            self.variables.update({var: "", "READSTATUS": "HANGUP"})
            self._reply("200 result=0")
            if not self.dead:
                self._caller_hangup()
            return
        self._take_type_ahead()
        for name in files.split("&"):
            self.transcript.append(("play", name))
            if self._absent(name):
                continue
            key, took, rest = during_playback(self.dtmf, "0123456789*#ABCD", PROMPT_S)
            self._spend(took)
            if key:
                self.transcript.append(("key", key))
                self.dtmf = [(key, 0.0), *rest]
                break
            self.dtmf = rest
        if not self.dtmf and self.script and self.script[0] == SILENCE:
            self.script.popleft()
        elif not self.dtmf:
            self._take_typed()
        max_digits = int(maxd) if maxd.strip().isdigit() and int(maxd) > 0 else 255
        timeout_ms = int(float(timeout) * 1000) if timeout.strip() else 0
        digits, end, waited, self.dtmf = collect(self.dtmf, max_digits, timeout_ms)
        self._spend(waited)
        self.transcript.append(("key", digits) if digits else ("timeout", "read"))
        status = "TIMEOUT" if end == "timeout" and not digits else "OK"
        self.variables.update({var: digits, "READSTATUS": status})
        self._reply("200 result=0")
        self._fault_hangup()

    def _playback_app(self, data: str) -> None:
        """app_playback: play ``a&b&c`` to the end (no keys stop it); a missing file is skipped
        (PLAYBACKSTATUS FAILED, the application still returns 0); -1 when the caller hangs up."""
        files = [f for f in data.split(",")[0].split("&") if f]
        if self.script and self.script[0] == HANGUP:
            self.script.popleft()
            self._spend(PROMPT_S / 2)
            self._reply("200 result=-1")
            self._caller_hangup()
            return
        failed = False
        for name in files:
            self.transcript.append(("play", name))
            if self._absent(name):
                failed = True
                continue
            self._spend(PROMPT_S)
        self.variables["PLAYBACKSTATUS"] = "FAILED" if failed else "SUCCESS"
        self._reply("200 result=0")
        self._fault_hangup()
