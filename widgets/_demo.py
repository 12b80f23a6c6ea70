"""Screenshot of the widgets with made-up values, for a look at the layout.

Usage::

    QT_QPA_PLATFORM=offscreen python -m strata.widgets._demo out.png [--dark] [--heat]

Builds a SceneView with a random image beside a SeedBox, a TruncationBox
and a SemanticPanel with four boundaries (layout, object, attribute,
colour) over 12 layers, and saves a grab of the window to ``out.png``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from . import SceneView, SeedBox, SemanticPanel, TruncationBox

NUM_LAYERS = 12
RESOLUTIONS = [4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128]
ROWS = [
    {
        "name": "indoor_layout",
        "level": "layout",
        "strength": -1.5,
        "layers": (0, 3),
        "default_layers": (0, 3),
        "provenance": "Layout estimator (HiGAN bedroom), 2k samples, accuracy 0.91",
    },
    {
        "name": "bed",
        "level": "object",
        "strength": 2.0,
        "layers": (4, 5),
        "default_layers": (4, 5),
        "provenance": "Object detector on 2k samples",
    },
    {
        "name": "natural_lighting",
        "level": "attribute",
        "strength": 0.75,
        "layers": (6, 8),
        "default_layers": (5, 8),
        "provenance": "Scene attribute classifier, SUN attributes",
    },
    {
        "name": "colour_scheme",
        "level": "colour",
        "strength": 0.0,
        "layers": (9, 11),
        "default_layers": (9, 11),
        "provenance": "Colour histogram regression",
    },
]


def random_scene(size: int = 256, seed: int = 0) -> np.ndarray:
    """Return smooth random colours: a few blobs blended, uint8 (size, size, 3)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(6, 6, 3))
    # Bilinear upsampling by hand: no image library needed for a demo.
    t = np.linspace(0, coarse.shape[0] - 1, size)
    i0 = np.floor(t).astype(int).clip(0, coarse.shape[0] - 2)
    f = (t - i0)[:, None, None]
    rows = coarse[i0] * (1 - f) + coarse[i0 + 1] * f
    f = (t - i0)[None, :, None]
    img = rows[:, i0] * (1 - f) + rows[:, i0 + 1] * f
    return np.ascontiguousarray(img.clip(0, 255).astype(np.uint8))


def dark_palette() -> QtGui.QPalette:
    pal = QtGui.QPalette()
    role = QtGui.QPalette.ColorRole
    for r, c in {
        role.Window: "#25272c",
        role.WindowText: "#dfe2e7",
        role.Base: "#1d1f23",
        role.AlternateBase: "#2a2d33",
        role.Text: "#dfe2e7",
        role.Button: "#30333a",
        role.ButtonText: "#dfe2e7",
        role.Highlight: "#3f7fe0",
        role.HighlightedText: "#ffffff",
        role.ToolTipBase: "#30333a",
        role.ToolTipText: "#dfe2e7",
        role.PlaceholderText: "#8d929b",
        role.Mid: "#4a4e57",
        role.Dark: "#17181b",
        role.Light: "#3a3d45",
    }.items():
        pal.setColor(r, QtGui.QColor(c))
    disabled = QtGui.QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(disabled, r, QtGui.QColor("#6b6f78"))
    return pal


def build_window(heat: bool = False) -> QtWidgets.QWidget:
    window = QtWidgets.QWidget()
    window.setWindowTitle("Strata widgets demo")

    view = SceneView()
    view.set_image(random_scene())

    seed = SeedBox(seed=42)
    psi = TruncationBox(psi=0.7)
    panel = SemanticPanel(num_layers=NUM_LAYERS)
    panel.set_layer_resolutions(RESOLUTIONS)
    panel.set_rows(ROWS)
    panel.set_selected_row(1)
    if heat:
        rng = np.random.default_rng(1)
        centres = [1.5, 4.5, 7.0, 10.0]
        x = np.arange(NUM_LAYERS)
        panel.set_heat(
            [np.exp(-0.5 * ((x - c) / 1.5) ** 2) + 0.1 * rng.random(NUM_LAYERS) for c in centres]
        )

    controls = QtWidgets.QHBoxLayout()
    controls.addWidget(seed, 1)
    controls.addSpacing(16)
    controls.addWidget(psi, 1)

    side = QtWidgets.QVBoxLayout()
    side.addLayout(controls)
    side.addWidget(panel, 1)

    layout = QtWidgets.QHBoxLayout(window)
    layout.addWidget(view, 1)
    layout.addLayout(side, 2)
    window.resize(1320, 560)
    return window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m strata.widgets._demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--dark", action="store_true", help="use a dark palette")
    parser.add_argument("--heat", action="store_true", help="show a heat map in the grid")
    args = parser.parse_args(argv)

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    window = build_window(heat=args.heat)
    window.show()
    window.setFocus()  # not the seed field: a caret in it distracts
    for _ in range(3):
        app.processEvents()
    QtCore.QThread.msleep(50)
    app.processEvents()
    # QSaveFile writes a temporary file and renames it on commit: an old PNG survives a failed save.
    out = QtCore.QSaveFile(args.out)
    ok = out.open(QtCore.QIODevice.WriteOnly) and window.grab().save(out, "PNG") and out.commit()
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
