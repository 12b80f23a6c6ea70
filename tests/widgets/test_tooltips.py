"""Every control a user can operate says what it does when hovered, and names its keys."""

import numpy as np
import pytest
from PySide6 import QtWidgets

from strata.widgets import (
    LayerGrid,
    PreviewStrip,
    SceneView,
    SeedBox,
    SemanticPanel,
    SemanticRow,
    TransformBox,
    TruncationBox,
)

from strata.widgets.message_bar import MessageBar  # noqa: E402
from strata.widgets.set_bar import BoundarySetBar  # noqa: E402

ROWS = [
    {"name": "layout", "level": "layout", "strength": -1.0, "layers": (0, 3)},
    {"name": "bed", "level": "object", "strength": 0.5, "layers": (4, 5)},
]
CONTROLS = (
    QtWidgets.QAbstractButton,
    QtWidgets.QAbstractSlider,
    QtWidgets.QAbstractSpinBox,
    QtWidgets.QLineEdit,
    QtWidgets.QComboBox,
)


def build(kind):
    if kind is SemanticPanel:
        w = SemanticPanel(num_layers=8)
        w.set_rows(ROWS)
    elif kind is SemanticRow:
        w = SemanticRow("bed", "object", layers=(2, 4), num_layers=8, strength=1.0)
    elif kind is PreviewStrip:
        w = PreviewStrip()
        w.set_images([np.zeros((8, 8, 3), np.uint8)] * 3, [-1.0, 0.0, 1.0])
    elif kind is BoundarySetBar:
        w = BoundarySetBar()
        w.set_sets(["Boundaries", "Discovery 14:03"], 0)
    elif kind is MessageBar:
        w = MessageBar()
        w.show_message("2 boundaries do not fit", "Reopen", lambda: None)
    elif kind is SceneView:
        w = SceneView()
        w.set_image(np.zeros((16, 16, 3), np.uint8))
        w.set_zoom(40)  # scroll bars too
    else:
        w = kind()
    return w


def is_strata(widget):
    return type(widget).__module__.startswith("strata.widgets")


def hover_text(control, root):
    """What hovering ``control`` shows: its tooltip, else that of the Qt or superqt widget
    it is part of (a spin box's line edit, a labelled slider's parts), never a blanket
    tooltip of a Strata widget around it."""
    w = control
    while w is not None:
        if w.toolTip():
            return w.toolTip()
        if w is root or (w is not control and is_strata(w)):
            return ""
        w = w.parentWidget()
    return ""


@pytest.mark.parametrize(
    "kind",
    [SceneView, SeedBox, TruncationBox, TransformBox, SemanticRow, SemanticPanel, PreviewStrip, BoundarySetBar,
     MessageBar],
)
def test_every_control_has_a_tooltip(qtbot, kind):
    root = build(kind)
    qtbot.addWidget(root)
    root.show()
    qtbot.waitExposed(root)
    controls = [w for w in root.findChildren(QtWidgets.QWidget) if isinstance(w, CONTROLS)]
    if kind is SceneView:  # the image itself is operated (wheel, drag, keys)
        controls.append(root)
    assert controls
    missing = [f"{type(w).__name__} {w.objectName() or w.accessibleName()!r} in "
               f"{type(w.parentWidget()).__name__}" for w in controls if not hover_text(w, root)]
    assert not missing


def test_the_layer_grid_explains_each_cell(qtbot):
    grid = LayerGrid(num_layers=8)
    qtbot.addWidget(grid)
    grid.set_rows([("bed", "object", (2, 4))])
    text = grid.tooltip_at(grid.cell_rect(0, 3).center())
    assert "Layer 3" in text and "layers 2\u20134" in text and "drag" in text


def test_tooltips_name_the_keys(qtbot):
    view, seed, psi = SceneView(), SeedBox(), TruncationBox()
    panel = build(SemanticPanel)
    for w in (view, seed, psi, panel):
        qtbot.addWidget(w)
    for key in ("Ctrl+=", "Ctrl+-", "Ctrl+0", "Ctrl+1", "Ctrl+C", "\\"):
        assert key in view.toolTip()
    strength = panel.row(0)._strength_slider.toolTip()
    assert "\u2191/\u2193" in strength and "Shift" in strength
    assert "Page Up" in seed._spin.toolTip()
    assert "Page Up" in psi._slider.toolTip()
