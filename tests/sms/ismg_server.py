"""The ISMG simulator as a process a test can kill (the CMPP fault test's gateway).

    python tests/sms/ismg_server.py <port> [--quiet]

Prints ``{"listening": port}``, then ``{"to": ..., "text": ...}`` per whole message received
(not with --quiet), one JSON object a line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from twisted.internet import defer, task

from sms.cmpp.ismg import start_ismg

SP_ID, SECRET = "901234", "fault-secret"


async def main(reactor: object, port: int, quiet: bool) -> None:
    def on_message(to: str, source: str, text: str) -> None:
        if not quiet:
            sys.stdout.write(json.dumps({"to": to, "text": text}) + "\n")
            sys.stdout.flush()

    listening = start_ismg(reactor, port, on_message, sp_id=SP_ID, secret=SECRET)
    print(json.dumps({"listening": listening.getHost().port}), flush=True)
    await defer.Deferred()  # until killed


if __name__ == "__main__":
    task.react(lambda r: defer.ensureDeferred(main(r, int(sys.argv[1]), "--quiet" in sys.argv)))
