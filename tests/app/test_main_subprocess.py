"""The whole application in a subprocess (pytest-qt owns this process's QApplication)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def run(*args, timeout=180, **env):
    e = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def test_screenshot_shows_the_window_with_a_scene(tmp_path):
    shot = tmp_path / "shot.png"
    r = run("--screenshot", str(shot))
    assert r.returncode == 0, r.stderr
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    h, w, _ = img.shape
    assert w >= 1000 and h >= 600  # the whole window, not only the scene
    # The scene sits in the left part of the window: many colours, not a flat fill.
    scene = img[h // 8: h * 3 // 4, : w // 3]
    assert scene.std() > 20
    assert len(np.unique(scene.reshape(-1, 3), axis=0)) > 500
    # The panel on the right has rows (level chips are saturated colours).
    panel = img[: h // 2, w // 2:]
    sat = panel.max(axis=2) - panel.min(axis=2)
    assert (sat > 100).sum() > 500


def test_a_screenshot_to_a_missing_folder_fails_naming_it(tmp_path):
    bad = tmp_path / "no" / "such" / "shot.png"
    r = run("--screenshot", str(bad))
    assert r.returncode == 1 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert not bad.parent.exists()


def test_version_and_usage_errors_are_one_line():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("strata ")
    r = run("render", "--model", "/no/such/model.pth", "-o", "x.png")
    assert r.returncode == 1
    assert r.stderr.strip() == "strata: error: /no/such/model.pth: no such file"
    assert "Traceback" not in r.stderr
