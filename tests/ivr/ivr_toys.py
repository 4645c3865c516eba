"""A tiny hand-written dialogue with the shape of menus.driver.Dialogue, for channel tests."""

from __future__ import annotations

from typing import Any

from menus.types import Digits, HangUp, Input, NoInput, Output, Say, SayDigits, Session, Wait

WELCOME = Say("欢迎致电预约挂号", prompt="hotline/welcome")
MAIN = Say("预约请按1")
ASK_ID = Say("请输入身份证号码")
STAR_HINT = Say("末位是X请按星号")
DONE = Say("预约成功，您的取号码是")
BYE = Say("再见")
TCODE = "0123456789"


class ToyDialogue:
    """welcome+main (1 digit) → id (18 digits, * allowed) → T-code read out, session ends."""

    def __init__(self) -> None:
        self.begun: list[dict[str, object]] = []
        self.inputs: list[Input] = []

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None,
        channel_effects: Any = None,
    ) -> tuple[Session, Output]:
        self.begun.append({"menu": menu, "channel": channel, "msisdn": msisdn, "lang": lang})
        session = Session(menu=menu, version="t", node="main", channel=channel, msisdn=msisdn)
        return session, Output((WELCOME, MAIN), Wait(max_digits=1))

    async def resume(
        self, session: Session, inp: Input, *, channel_effects: Any = None
    ) -> tuple[Session, Output]:
        self.inputs.append(inp)
        if isinstance(inp, HangUp):
            return session.evolve(ended=True), Output((), None)
        if session.node == "main":
            if inp == Digits("1"):
                wait = Wait(min_digits=18, max_digits=18, allow_star=True)
                return session.evolve(node="id"), Output((ASK_ID, STAR_HINT), wait)
            if isinstance(inp, NoInput) and session.counters.get("main", 0) >= 1:
                return session.evolve(ended=True), Output((BYE,), None)
            counters = {"main": session.counters.get("main", 0) + 1}
            return session.evolve(counters=counters), Output((MAIN,), Wait(max_digits=1))
        assert isinstance(inp, Digits)
        done = session.evolve(node="done", ended=True, vars={"id": inp.value})
        return done, Output((DONE, SayDigits(TCODE)), None)
