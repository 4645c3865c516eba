"""What an install carries: every package listed for the wheel, runtime code that needs only the
runtime dependencies (the test extra is not installed on a server)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# our packages: every top-level folder with an __init__.py but config/ (installed as
# hotline.defaults, checked below)
OURS = tuple(sorted(init.parent.name for init in ROOT.glob("*/__init__.py")
                    if init.parent.name != "config"))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_on_disk_is_listed_for_the_wheel() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in OURS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["hotline.defaults"] == "config"


def test_license_is_an_spdx_string() -> None:
    """A table makes setuptools (>= 77) warn on every build."""
    assert isinstance(PYPROJECT["project"]["license"], str)


def _test_only_imports() -> list[str]:
    """Import names of the ``test`` extra: ``pytest-twisted>=1`` → ``pytest_twisted``."""
    names = []
    for requirement in PYPROJECT["project"]["optional-dependencies"]["test"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert name is not None
        names.append(name.group(0).lower().replace("-", "_"))
    return [n for n in names if n != "setuptools"] + ["_pytest", "_hypothesis_pytestplugin"]


def _not_runtime_imports() -> list[str]:
    """Import names of every installed distribution outside hotline's runtime closure (the test
    extra and what it alone brought in)."""
    import importlib.metadata as md

    from test_wheel_install import _runtime_closure

    runtime = set(_runtime_closure("hotline")) | {"hotline"}
    names = []
    for name, dists in md.packages_distributions().items():
        keys = {d.lower().replace("_", "-").replace(".", "-") for d in dists}
        if not keys & runtime and name not in sys.stdlib_module_names and name not in OURS:
            names.append(name)
    return sorted(set(names) | set(_test_only_imports()))


def test_runtime_modules_import_without_the_test_extra() -> None:
    """Every module of our packages imports in a process where every installed package outside
    the runtime dependencies (pytest, treq, hypothesis and what they brought) raises."""
    blocked = _not_runtime_imports()
    assert {"pytest", "treq", "hypothesis"} <= set(blocked)
    assert not {"twisted", "pydantic", "yaml"} & set(blocked)
    script = textwrap.dedent(f"""
        import importlib, pkgutil, sys

        BLOCKED = {blocked!r}

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"{{name}} is test-only: a runtime module imported it")
                return None

        sys.meta_path.insert(0, Block())
        try:
            import treq  # noqa: F401
        except ImportError:
            pass
        else:
            raise SystemExit("the blocker does not block")
        failed = []
        for top in {list(OURS)!r}:
            package = importlib.import_module(top)
            modules = [top] + [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")]
            for name in modules:
                try:
                    importlib.import_module(name)
                except ImportError as exc:
                    failed.append(f"{{name}}: {{exc}}")
        print("\\n".join(failed))
        print("imported", sum(1 for m in sys.modules if m.split(".")[0] in {list(OURS)!r}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    *failed, summary = done.stdout.strip().splitlines()
    assert not failed, "\n".join(failed)
    assert int(summary.split()[1]) > 100  # the walk really went through the packages


def test_no_runtime_code_imports_a_test_only_package_even_lazily() -> None:
    """An import inside a function (``hotline booking pay`` once imported treq there) is only
    met when that command runs; read every import statement instead."""
    import ast

    blocked = set(_test_only_imports())
    wrong = []
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module
                         and node.level == 0 else [])  # fmt: skip
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                          if n.split(".")[0] in blocked]  # fmt: skip
    assert not wrong, "\n".join(wrong)
