"""Write docs/screenshot.png: the editor on the bundled model, with one semantic moved.

Run from the repository root, with Strata installed in ``.venv``::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_screenshot.py

It uses the public command line only: ``strata render`` saves a scene (seed 7,
``wall_hue`` moved to -3 on its default layers) as a PNG that carries its
recipe, and ``strata SCENE.png --screenshot docs/screenshot.png`` opens the
window on that scene and saves a screenshot once the frame shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "screenshot.png"
SEED = 7
EDIT = "wall_hue=-3"


def strata(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "strata.app", *args], check=True, env=os.environ.copy())


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="strata-shot-") as tmp:
        scene = Path(tmp) / "scene.png"
        strata("render", "--seed", str(SEED), "-e", EDIT, "-o", str(scene))
        strata(str(scene), "--screenshot", str(OUT))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
