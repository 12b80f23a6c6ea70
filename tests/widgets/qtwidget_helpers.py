"""Helpers for the widget tests: signal recorder, mouse drags, pixel checks."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class Recorder:
    """Collect every emission of one or more signals, as tuples of arguments."""

    def __init__(self, *signals):
        self.calls: list[tuple] = []
        for signal in signals:
            signal.connect(self._record)

    def _record(self, *args):
        self.calls.append(args)

    @property
    def last(self):
        return self.calls[-1]

    def __len__(self):
        return len(self.calls)


def slider_handle_center(slider: QtWidgets.QSlider) -> QtCore.QPoint:
    """Return the centre of a QSlider's handle, in the slider's coordinates."""
    opt = QtWidgets.QStyleOptionSlider()
    slider.initStyleOption(opt)
    rect = slider.style().subControlRect(
        QtWidgets.QStyle.ComplexControl.CC_Slider,
        opt,
        QtWidgets.QStyle.SubControl.SC_SliderHandle,
        slider,
    )
    return rect.center()


def drag(qtbot, widget, start: QtCore.QPoint, end: QtCore.QPoint, steps: int = 8, during=None):
    """Press at ``start``, move to ``end`` in ``steps`` steps, release.

    ``during`` is called once after the moves and before the release, so a
    test can check what was emitted while the button was still down.
    """
    left = QtCore.Qt.MouseButton.LeftButton
    qtbot.mousePress(widget, left, pos=start)
    for i in range(1, steps + 1):
        x = start.x() + (end.x() - start.x()) * i // steps
        y = start.y() + (end.y() - start.y()) * i // steps
        qtbot.mouseMove(widget, QtCore.QPoint(x, y))
    if during is not None:
        during()
    qtbot.mouseRelease(widget, left, pos=end)


def grab_image(widget: QtWidgets.QWidget) -> QtGui.QImage:
    """Render ``widget`` and return the pixels at device-pixel ratio 1."""
    return widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)


def color_close(a: QtGui.QColor, b: QtGui.QColor, tol: int = 12) -> bool:
    return (
        abs(a.red() - b.red()) <= tol
        and abs(a.green() - b.green()) <= tol
        and abs(a.blue() - b.blue()) <= tol
    )
