"""HTTP resources under test without a socket: ``treq.testing.StubTreq`` over a resource tree.

StubTreq hands the client what the server wrote when it is flushed. Our resources answer after
Redis (or a render thread) does, on the real reactor, so the tree is wrapped to flush once each
request has finished: a test just awaits the response, as with ``treq`` over TCP. The client is
seen at 127.0.0.1, as over loopback.
"""

from __future__ import annotations

from typing import Any

from treq.testing import StubTreq
from twisted.web.resource import Resource
from twisted.web.server import Request


class _FlushWhenFinished(Resource):
    def __init__(self, root: Resource) -> None:
        super().__init__()
        self.root = root
        self.flush: Any = None

    def getChildWithDefault(self, path: bytes, request: Request) -> Resource:
        from twisted.internet import reactor

        request.notifyFinish().addBoth(lambda _: reactor.callLater(0, self.flush))
        return self.root.getChildWithDefault(path, request)


def stub_treq(root: Resource) -> StubTreq:
    """A treq-like client (``get``, ``post``, ``request``) whose requests go to ``root``."""
    wrapper = _FlushWhenFinished(root)
    stub = StubTreq(wrapper)
    wrapper.flush = stub.flush
    return stub
