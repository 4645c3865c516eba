"""``/api/admin/sms/{status,dead,message?key=}``: the SMS outbox as the hospital's admin sees it.

Behind the admin bearer token (``web.admin.AdminEndpoint``); the recipient of a message is
masked to its last digits.
"""

from __future__ import annotations

from typing import Any

from twisted.web.resource import Resource

from pii import mask_tail
from sms.redis_outbox import RedisOutbox
from web.admin import AdminEndpoint, AdminTokens, Scope


def sms_admin_resource(outbox: RedisOutbox, sender: Any,
                       token: AdminTokens | str | None) -> Resource:  # fmt: skip
    """``sender``: anything with ``bound`` (whether the SMSC link is up). The outbox is the
    platform's: a hospital's token is refused (403)."""

    async def status(request: Any, scope: Scope) -> Any:
        scope.platform_only()
        return {"bound": sender.bound, **(await outbox.counts())}

    async def dead(request: Any, scope: Scope) -> Any:
        scope.platform_only()
        limit = int((request.args.get(b"limit") or [b"100"])[0])
        return {"dead": await outbox.dead_letters(max(1, min(limit, 1000)))}

    async def message(request: Any, scope: Scope) -> Any:
        scope.platform_only()
        key = (request.args.get(b"key") or [b""])[0].decode("utf-8", "replace")
        state = await outbox.state(key)
        if not state:
            return {"key": key, "state": None}
        to = state.get("to", "")
        return {"key": key, **{k: v for k, v in state.items() if k not in ("to", "text")},
                "to": mask_tail(to)}

    sms = Resource()
    sms.putChild(b"status", AdminEndpoint(token, status, None))
    sms.putChild(b"dead", AdminEndpoint(token, dead, None))
    sms.putChild(b"message", AdminEndpoint(token, message, None))
    return sms
