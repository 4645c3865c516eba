"""Voice channel: menus over Asterisk FastAGI (docs/ivr.md)."""

from ivr.agi import AgiEnv, AgiError, AgiProtocol, AgiReply, parse_env, parse_reply
from ivr.call import Call, prompt_name
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.states import CallRecord, CallState, Deadlines

__all__ = [
    "AgiEnv",
    "AgiError",
    "AgiProtocol",
    "AgiReply",
    "Call",
    "CallRecord",
    "CallState",
    "Deadlines",
    "FastAGIFactory",
    "listen_fastagi",
    "parse_env",
    "parse_reply",
    "prompt_name",
]
