"""Mouse helpers: drive widgets as a hand does (press, move with the button held, release)."""

from __future__ import annotations

import contextlib

from PySide6 import QtCore, QtGui, QtWidgets


def _send(widget, kind, pos, buttons):
    button = QtCore.Qt.LeftButton if kind != QtCore.QEvent.MouseMove else QtCore.Qt.NoButton
    ev = QtGui.QMouseEvent(kind, QtCore.QPointF(pos), QtCore.QPointF(widget.mapToGlobal(pos)),
                           button, buttons, QtCore.Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(widget, ev)


@contextlib.contextmanager
def drag_slider(qtbot, slider: QtWidgets.QSlider):
    """Press on the slider's handle; yields ``move(fraction)``; releases at the end."""
    opt = QtWidgets.QStyleOptionSlider()
    slider.initStyleOption(opt)
    handle = slider.style().subControlRect(QtWidgets.QStyle.CC_Slider, opt, QtWidgets.QStyle.SC_SliderHandle, slider)
    groove = slider.style().subControlRect(QtWidgets.QStyle.CC_Slider, opt, QtWidgets.QStyle.SC_SliderGroove, slider)
    y = handle.center().y()
    pos = [handle.center()]
    _send(slider, QtCore.QEvent.MouseButtonPress, pos[0], QtCore.Qt.LeftButton)

    def move(fraction: float) -> None:
        x = int(groove.left() + fraction * groove.width())
        start = pos[0].x()
        for i in range(1, 6):  # a few intermediate positions, as a hand moves
            p = QtCore.QPoint(int(start + (x - start) * i / 5), y)
            _send(slider, QtCore.QEvent.MouseMove, p, QtCore.Qt.LeftButton)
            qtbot.wait(5)
        pos[0] = QtCore.QPoint(x, y)

    try:
        yield move
    finally:
        _send(slider, QtCore.QEvent.MouseButtonRelease, pos[0], QtCore.Qt.NoButton)
