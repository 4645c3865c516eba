"""Built-in nodes every menu has: the operator transfer and the SMS fallback.

They are ordinary nodes whose ids start with ``$`` and whose texts come from the menu's
``messages``, so a menu changes the wording without redefining the flow. ``$operator`` is where
the operator key leads: a ``channel.transfer`` effect (run by the channel, see docs/menus.md)
whose failure says why and returns to the question. ``$operator_max`` is the same transfer
reached as an on-max action: a failure there says goodbye, so a silent caller cannot cycle
between retries and a busy operator forever.
"""

from __future__ import annotations

from collections.abc import Mapping

from menus._model import BACK_TARGET, ActNode, EndNode, Node, SayNode, Text
from menus.template import parse

__all__ = ["PUBLIC_BUILTINS", "builtin_nodes", "on_max_target"]

# Built-ins a menu may name as a target (the others are their inner steps).
PUBLIC_BUILTINS = frozenset({"$operator", "$sms"})
TRANSFER_EFFECT = "channel.transfer"
SMS_EFFECT = "sms_help"


def on_max_target(target: str) -> str:
    """The node an on-max action really enters (the operator without a way back)."""
    return "$operator_max" if target == "$operator" else target


def _transfer(node_id: str, *, unsupported: str, failed: str) -> ActNode:
    return ActNode(
        id=node_id,
        effect=TRANSFER_EFFECT,
        next="$transferred",
        args={"to": parse("operator")},
        on_error={"unsupported": unsupported, "default": failed},
    )


def builtin_nodes(messages: Mapping[str, Text]) -> dict[str, Node]:
    """The ``$`` nodes, worded by ``messages`` (which holds every standard message)."""
    nodes: list[Node] = [
        _transfer("$operator", unsupported="$operator_unsupported", failed="$operator_busy"),
        SayNode("$operator_busy", messages["operator_busy"], BACK_TARGET),
        SayNode("$operator_unsupported", messages["operator_unsupported"], BACK_TARGET),
        _transfer(
            "$operator_max", unsupported="$operator_unsupported_end", failed="$operator_busy_end"
        ),
        EndNode("$operator_busy_end", messages["operator_busy"]),
        EndNode("$operator_unsupported_end", messages["operator_unsupported"]),
        EndNode("$transferred", messages["transferred"]),
        ActNode(id="$sms", effect=SMS_EFFECT, next="$sms_sent", on_error={"default": "$goodbye"}),
        EndNode("$sms_sent", messages["sms_sent"]),
    ]
    return {node.id: node for node in nodes}
