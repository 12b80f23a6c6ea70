"""The parts keep to their imports: engine without Qt, widgets without torch, the engine's runtime
without discovery or the rooms world, discovery without the rooms world (import-linter contracts,
and for real at run time)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports_of(package: str, banned: tuple[str, ...]) -> list[str]:
    """Import every module of ``package`` in a fresh interpreter; the banned ones that got loaded."""
    code = ("import sys, pkgutil, importlib\n"
            f"pkg = importlib.import_module({package!r})\n"
            f"for m in pkgutil.walk_packages(pkg.__path__, {package!r} + '.'):\n"
            "    importlib.import_module(m.name)\n"
            f"banned = {banned!r}\n"
            "print('\\n'.join(sorted({m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in banned)})))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_engine_imports_no_qt_at_run_time():
    assert _imports_of("strata.engine", ("PySide6", "superqt", "qtawesome", "qtpy", "strata.app", "strata.widgets")) == []


def test_widgets_import_no_torch_at_run_time():
    assert _imports_of("strata.widgets", ("torch", "strata.engine", "strata.app")) == []


def test_runtime_imports_neither_discovery_nor_rooms_at_run_time():
    assert _imports_of("strata.engine.core", ("strata.engine.discovery", "strata.engine.rooms")) == []


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is a test extra"
    r = subprocess.run([exe, str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 kept, 0 broken" in r.stdout
