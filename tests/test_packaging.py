"""The wheel installs one top-level package, ``strata``, holding every package of the source tree."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("app", "engine", "widgets", "assets")  # installed as strata.<folder>


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # Build from a copy, so the checkout gets no build/ or .egg-info folders.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "--wheel-dir", str(out), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("scene_strata-*.whl")
    with zipfile.ZipFile(whl) as zf:
        yield zf


def test_strata_is_the_only_top_level_package(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist() if ".dist-info/" not in name}
    assert tops == {"strata"}


def test_every_package_of_the_source_tree_is_in_the_wheel(wheel):
    # A subpackage missing from pyproject's list would install without its modules.
    names = set(wheel.namelist())
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.relative_to(ROOT).as_posix()
            assert f"strata/{rel}" in names, f"{rel} is not packaged"
    assert "strata/assets/default.json" in names
    assert "strata/assets/rooms64_generator.pth" in names


def test_the_strata_command_points_into_the_namespace(wheel):
    (ep,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    cfg = configparser.ConfigParser()
    cfg.read_string(wheel.read(ep).decode())
    assert cfg["console_scripts"]["strata"] == "strata.app.cli:main"
