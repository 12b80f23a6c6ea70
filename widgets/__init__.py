"""Strata's Qt widgets.

Widgets take plain values (ints, floats, tuples, str, uint8 numpy arrays)
and emit Qt signals; none of them imports torch or the engine.

Exports
-------
SceneView
    The rendered scene, scaled to fit.
SeedBox
    Seed spin box with previous / next / random buttons.
TruncationBox
    Truncation psi slider.
TransformBox
    StyleGAN3's input transform: move x, move y, turn.
SemanticRow, SemanticRowHeader
    One boundary's strength and layer range; column titles to match.
LayerGrid
    Painted grid of boundaries by layers.
SemanticPanel
    Rows beside a grid: the layer-by-semantic panel.
PreviewStrip
    Thumbnails of the selected row at several strengths.
LEVELS, level_color, level_name, level_text_color, normalize_level
    Semantic levels and their colours.
"""

import os

# superqt and qtawesome reach Qt through qtpy, which would take PyQt5 or
# PyQt6 over PySide6 if one is installed too; two bindings in one process
# do not mix. Set before the first qtpy import.
os.environ.setdefault("QT_API", "pyside6")

from .layer_grid import LayerGrid  # noqa: E402
from .levels import (  # noqa: E402
    LEVELS,
    level_color,
    level_name,
    level_text_color,
    normalize_level,
)
from .preview_strip import PreviewStrip  # noqa: E402
from .scene_view import SceneView  # noqa: E402
from .seed_box import SeedBox  # noqa: E402
from .semantic_panel import SemanticPanel  # noqa: E402
from .semantic_row import SemanticRow, SemanticRowHeader  # noqa: E402
from .transform_box import TransformBox  # noqa: E402
from .truncation_box import TruncationBox  # noqa: E402

__all__ = [
    "LEVELS",
    "LayerGrid",
    "PreviewStrip",
    "SceneView",
    "SeedBox",
    "SemanticPanel",
    "SemanticRow",
    "SemanticRowHeader",
    "TransformBox",
    "TruncationBox",
    "level_color",
    "level_name",
    "level_text_color",
    "normalize_level",
]
