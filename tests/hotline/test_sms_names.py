"""A node's name on the shared SMS outbox and event stream: stable across its restarts,
distinct per node on one host, overridable."""

from __future__ import annotations

import socket

from hotline.sms_wiring import sender_name
from settings.schema import load_settings


def test_the_default_name_is_host_and_http_port() -> None:
    a = load_settings(None, {"http": {"port": 8080}})
    b = load_settings(None, {"http": {"port": 8081}})
    assert sender_name(a) == f"{socket.gethostname()}:8080"
    assert sender_name(a) == sender_name(load_settings(None, {"http": {"port": 8080}}))
    assert sender_name(a) != sender_name(b)


def test_sms_sender_name_overrides_it() -> None:
    settings = load_settings(None, {"sms": {"sender_name": "node-7"}})
    assert sender_name(settings) == "node-7"
