"""StyleGAN3's input transform: move the scene across and turn it, as one row of three sliders."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

__all__ = ["TransformBox"]

# (label, tooltip, minimum, maximum, step, decimals)
_AXES = (
    ("Move x", "Move the scene right (+) or left (-), in image widths", -0.5, 0.5, 0.01, 2),
    ("Move y", "Move the scene down (+) or up (-), in image widths", -0.5, 0.5, 0.01, 2),
    ("Turn", "Turn the scene about its centre, in degrees", -180.0, 180.0, 1.0, 0),
)


class TransformBox(QtWidgets.QWidget):
    """Translate x, translate y and rotation of a StyleGAN3 generator's Fourier-feature input.

    A StyleGAN3-T model follows a move of its input with the whole image (sub-pixel
    moves included); a StyleGAN3-R model also turns. NVIDIA's visualizer offers
    the same controls.

    Signals
    -------
    transformChanged(object)
        ``(x, y, degrees)`` whenever a slider moves or a value is typed.

    Setters
    -------
    set_transform((x, y, degrees) or None)
        Show values (None: all zero) without emitting.
    """

    transformChanged = QtCore.Signal(object)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 10, 2)  # the last value label stays clear of the window edge
        layout.setSpacing(6)
        self._sliders: list[QLabeledDoubleSlider] = []
        for label, tip, lo, hi, step, decimals in _AXES:
            name = QtWidgets.QLabel(label)
            name.setToolTip(tip)
            s = QLabeledDoubleSlider(QtCore.Qt.Orientation.Horizontal)
            s.setRange(lo, hi)
            s.setDecimals(decimals)
            s.setSingleStep(step)
            s.setValue(0.0)
            s.setToolTip(tip)
            name.setBuddy(s)
            s.valueChanged.connect(self._emit)
            layout.addWidget(name)
            layout.addWidget(s, 1)
            self._sliders.append(s)

    def transform(self) -> tuple[float, float, float]:
        return tuple(round(float(s.value()), 2) for s in self._sliders)

    def set_transform(self, transform: tuple[float, float, float] | None) -> None:
        for s, v in zip(self._sliders, transform or (0.0, 0.0, 0.0)):
            with signals_blocked(s):
                s.setValue(float(v))

    def _emit(self, _value: float) -> None:
        self.transformChanged.emit(self.transform())
