"""Icons from qtawesome, tinted to the widget's palette."""

from __future__ import annotations

import qtawesome as qta
from PySide6 import QtGui, QtWidgets


def themed_icon(name: str, widget: QtWidgets.QWidget) -> QtGui.QIcon:
    """Return the qtawesome icon ``name`` in the button-text colours of ``widget``.

    qtawesome draws dark grey by default, which vanishes on a dark palette;
    call again on a ``PaletteChange`` event to follow a theme switch.
    """
    pal = widget.palette()
    return qta.icon(
        name,
        color=pal.color(QtGui.QPalette.ColorGroup.Active, QtGui.QPalette.ColorRole.ButtonText),
        color_disabled=pal.color(
            QtGui.QPalette.ColorGroup.Disabled, QtGui.QPalette.ColorRole.ButtonText
        ),
    )
