"""The booking service is composed of parts: no module of the package imports one that imports it
back (not even under ``TYPE_CHECKING``), and the parts share one state where they must."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import pytest_twisted
from booking_support import TOMORROW, make_id, phone

from booking.api import BookingError, BookingRequest
from booking.store import RedisBookingService

PACKAGE = Path(__file__).resolve().parents[2] / "booking"


def booking_imports(path: Path) -> set[str]:
    """Modules of the booking package that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "booking":
                found.update(f"booking.{a.name}" for a in node.names)
            elif node.module.startswith("booking."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("booking."))
    return found


def test_no_import_loop_inside_booking() -> None:
    graph = {f"booking.{p.stem}": booking_imports(p) for p in PACKAGE.glob("*.py")}
    loops = []

    def visit(module: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(module, ())):
            if nxt == path[0]:
                loops.append(" -> ".join([*path, nxt]))
            elif nxt not in path:
                visit(nxt, [*path, nxt])

    for module in sorted(graph):
        visit(module, [module])
    assert not loops, "\n".join(loops)


def test_no_part_imports_the_service() -> None:
    """Only the package's public face names it (``booking.RedisBookingService``)."""
    importers = sorted(
        p.name for p in PACKAGE.glob("*.py") if "booking.store" in booking_imports(p)
    )
    assert importers == ["__init__.py"]


@pytest_twisted.ensureDeferred
async def test_a_share_set_by_the_admin_part_is_the_share_every_part_uses(
    service: RedisBookingService,
) -> None:
    assert await service.remote_left("nk", TOMORROW, "am") == 50
    await service.set_share("nk", 0.2)  # 63 places: 12 remote
    assert await service.remote_left("nk", TOMORROW, "am") == 12
    assert next(s.remote_left for s in await service.sessions("nk", TOMORROW)) == 12
    for n in range(12):
        await service.book(BookingRequest("nk", TOMORROW, "am", make_id(n), phone(n), "ussd"))
    with pytest.raises(BookingError) as refused:
        await service.book(BookingRequest("nk", TOMORROW, "am", make_id(12), phone(12), "ussd"))
    assert refused.value.code == "full"
