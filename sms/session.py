"""The ESME session as an explicit state machine (automat): which inputs each state accepts.

``EsmeProtocol`` feeds it inputs from callers (``bind``, ``unbind``), the wire (bind_resp,
peer unbind) and timers (bind timeout, dead enquire_link), and reads ``state``.  An input a
state does not list raises ``automat.NoTransition`` before anything changes, so e.g. binding
twice on one link is refused instead of silently corrupting the session.  ``TRANSITIONS`` is
the whole machine (docs/sms.md draws it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from automat import TypeMachineBuilder


class State(enum.Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"


class SessionInputs(Protocol):
    def bind_requested(self) -> None: ...
    def bind_accepted(self) -> None: ...
    def bind_failed(self) -> None: ...  # error status, or no bind_resp in time
    def unbind_requested(self) -> None: ...
    def peer_unbind(self) -> None: ...
    def connection_lost(self) -> None: ...


@dataclass
class SessionCore:
    state: State = State.OPEN


In = SessionInputs
OP, BG, B, U, C = State.OPEN, State.BINDING, State.BOUND, State.UNBINDING, State.CLOSED
# (from, input, to)
TRANSITIONS: tuple[tuple[State, Any, State], ...] = (
    (OP, In.bind_requested, BG), (OP, In.unbind_requested, C), (OP, In.connection_lost, C),
    (BG, In.bind_accepted, B), (BG, In.bind_failed, C), (BG, In.unbind_requested, C),
    (BG, In.peer_unbind, U), (BG, In.connection_lost, C),
    (B, In.unbind_requested, U), (B, In.peer_unbind, U), (B, In.connection_lost, C),
    (U, In.unbind_requested, U), (U, In.peer_unbind, U), (U, In.bind_failed, U),
    (U, In.bind_accepted, U), (U, In.connection_lost, C),
    # late inputs after the link closed (a timer or a resp racing the close) change nothing
    (C, In.bind_failed, C), (C, In.bind_accepted, C), (C, In.unbind_requested, C),
    (C, In.peer_unbind, C), (C, In.connection_lost, C),
)


def _build() -> Any:
    builder = TypeMachineBuilder(SessionInputs, SessionCore)
    states = {s: builder.state(s.value) for s in State}  # OPEN first: the initial state
    for source, method, target in TRANSITIONS:

        def enter(inputs: SessionInputs, core: SessionCore, _to: State = target) -> None:
            core.state = _to

        states[source].upon(method).to(states[target])(enter)
    return builder.build()


SessionMachine = _build()


def new_session() -> tuple[SessionInputs, SessionCore]:
    core = SessionCore()
    return SessionMachine(core), core
