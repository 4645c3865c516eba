"""docs/terminal-api.md and docs/terminal-api.yaml say what the API does: the worked signing
example is recomputed (by hand with hashlib/hmac and by web.terminal), and the OpenAPI document
names exactly the API's endpoints and methods."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import yaml

from web.terminal import sign

DOCS = Path(__file__).resolve().parents[2] / "docs"


def example() -> dict[str, str]:
    text = (DOCS / "terminal-api.md").read_text(encoding="utf-8")
    section = text[text.index("### Worked example"):text.index("In Python:")]
    found = dict(re.findall(r"(?m)^(method|path|timestamp|nonce|body|body sha256|signature):"
                            r"\s+(\S.*)$", section))
    found["secret"] = re.search(r"secret `([^`]+)`", section).group(1)
    blocks = re.findall(r"```\n(.*?)\n```", section, re.S)
    found["to_sign"] = next(b for b in blocks if b.startswith(found["method"] + "\n"))
    found["empty"] = re.search(r"empty body, whose SHA-256 is\s+`([0-9a-f]{64})`", text).group(1)
    return found


def test_the_worked_signing_example_is_right() -> None:
    ex = example()
    body = ex["body"].encode()
    assert hashlib.sha256(body).hexdigest() == ex["body sha256"]
    assert ex["to_sign"] == "\n".join(
        [ex["method"], ex["path"], ex["timestamp"], ex["nonce"], ex["body sha256"]])
    by_hand = hmac.new(ex["secret"].encode(), ex["to_sign"].encode(), hashlib.sha256).hexdigest()
    assert by_hand == ex["signature"]
    assert sign(ex["secret"].encode(), ex["method"].encode(), ex["path"].encode(),
                ex["timestamp"].encode(), ex["nonce"].encode(), body) == ex["signature"]
    assert hashlib.sha256(b"").hexdigest() == ex["empty"]


def test_the_openapi_document_names_the_endpoints() -> None:
    from web.terminal import TerminalApi

    spec: dict[str, Any] = yaml.safe_load((DOCS / "terminal-api.yaml").read_text("utf-8"))
    assert spec["openapi"].startswith("3.")
    assert spec["servers"][0]["url"].endswith("/api/terminal/v1")
    documented = {(method.upper().encode(), path.strip("/"))
                  for path, ops in spec["paths"].items() for method in ops}
    api = TerminalApi(None, None, None, None, None)  # type: ignore[arg-type]
    assert documented == set(api.routes)
    for ops in spec["paths"].values():
        for op in ops.values():
            assert "401" in op["responses"]  # every endpoint is signed
