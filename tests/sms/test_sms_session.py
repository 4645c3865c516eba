"""The ESME session machine (sms.session): the allowed transitions, and nothing else."""

from __future__ import annotations

import pytest
from automat import NoTransition
from sms_support import bound_esme, outcome

from sms.esme import NotBound
from sms.session import TRANSITIONS, SessionInputs, State, new_session

INPUTS = [name for name in dir(SessionInputs) if not name.startswith("_")]


def drive(*names: str) -> State:
    machine, core = new_session()
    for name in names:
        getattr(machine, name)()
    return core.state


def test_happy_path_and_goodbye() -> None:
    assert drive() is State.OPEN
    assert drive("bind_requested", "bind_accepted") is State.BOUND
    assert drive("bind_requested", "bind_accepted", "unbind_requested") is State.UNBINDING
    assert drive("bind_requested", "bind_accepted", "peer_unbind",
                 "connection_lost") is State.CLOSED
    assert drive("bind_requested", "bind_failed") is State.CLOSED


@pytest.mark.parametrize("state", list(State))
def test_every_listed_input_moves_as_the_table_says_and_others_are_refused(state: State) -> None:
    paths = {State.OPEN: (), State.BINDING: ("bind_requested",),
             State.BOUND: ("bind_requested", "bind_accepted"),
             State.UNBINDING: ("bind_requested", "bind_accepted", "unbind_requested"),
             State.CLOSED: ("connection_lost",)}
    allowed = {m.__name__: dst for src, m, dst in TRANSITIONS if src is state}
    for name in INPUTS:
        machine, core = new_session()
        for step in paths[state]:
            getattr(machine, step)()
        if name in allowed:
            getattr(machine, name)()
            assert core.state is allowed[name], name
        else:
            with pytest.raises(NoTransition):
                getattr(machine, name)()
            assert core.state is state  # nothing changed


def test_binding_a_bound_link_again_is_refused_not_corrupting() -> None:
    proto, _, _, _ = bound_esme()
    result = outcome(proto.bind())
    assert isinstance(result[0].value, NotBound) and proto.state is State.BOUND
