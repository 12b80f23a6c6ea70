"""Truncation psi: a labeled slider with a numeric field."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

__all__ = ["TruncationBox", "PSI_MIN", "PSI_MAX", "PSI_STEP"]

PSI_MIN = 0.0
PSI_MAX = 1.5
PSI_STEP = 0.01
_DECIMALS = 2
# The groove is never shorter than this: a 40 px drag then moves psi by at most
# 1.5 * 40 / (340 - handle) < 0.2 (a 110 px groove moved it by 0.76).
SLIDER_MIN_WIDTH = 340
_KEY_STEPS = {
    QtCore.Qt.Key.Key_Left: -PSI_STEP,
    QtCore.Qt.Key.Key_Down: -PSI_STEP,
    QtCore.Qt.Key.Key_Right: PSI_STEP,
    QtCore.Qt.Key.Key_Up: PSI_STEP,
    QtCore.Qt.Key.Key_PageDown: -0.1,
    QtCore.Qt.Key.Key_PageUp: 0.1,
    QtCore.Qt.Key.Key_Home: -PSI_MAX,
    QtCore.Qt.Key.Key_End: PSI_MAX,
}


class TruncationBox(QtWidgets.QWidget):
    """Set the truncation psi of the latent code, 0 to 1.5 in steps of 0.01.

    The slider keeps a groove of at least ``SLIDER_MIN_WIDTH`` px, so that a
    short drag is a fine adjustment (40 px moves psi by less than 0.2).

    psi = 0 gives the average scene, 1 the untruncated distribution, and
    larger values exaggerate. The number at the right of the slider is an
    editable field.

    Signals
    -------
    psiChanged(float)
        Emitted while the slider is dragged (not only on release), on the
        arrow / page / home / end keys and when a value is typed; the value is rounded to 0.01
        and emitted only when that rounded value changes.

    Setters
    -------
    set_psi(float)
        Show a value (clamped to 0..1.5) without emitting ``psiChanged``.

    Getters
    -------
    psi() -> float
    """

    psiChanged = QtCore.Signal(float)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        psi: float = 0.7,  # initial value
    ) -> None:
        super().__init__(parent)
        self._label = QtWidgets.QLabel("Truncation \u03c8")
        self._label.setToolTip(
            "Truncation psi: 0 is the average scene, 1 the full variety;"
            " lower values trade variety for quality"
        )
        self._slider = QLabeledDoubleSlider(QtCore.Qt.Orientation.Horizontal)
        self._slider.setRange(PSI_MIN, PSI_MAX)
        self._slider.setDecimals(_DECIMALS)
        self._slider.setSingleStep(PSI_STEP)
        self._slider.setPageStep(0.1)
        self._slider.setTracking(True)
        self._slider._slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        self._slider.setToolTip(
            self._label.toolTip()
            + "\nKeys: \u2190/\u2192 \u00b10.01 \u00b7 Page Up/Page Down \u00b10.1 \u00b7 Home/End 0/1.5"
        )
        self._label.setBuddy(self._slider)

        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self._label)
        layout.addWidget(self._slider, 1)

        self._last = _round(psi)
        self._slider.valueChanged.connect(self._on_value_changed)
        # superqt's float slider ignores the keyboard; step it here.
        for widget in (self._slider, *self._slider.findChildren(QtWidgets.QAbstractSlider)):
            widget.installEventFilter(self)
        self.set_psi(psi)

    # ------------------------------------------------------------ public API

    def psi(self) -> float:
        """Return the value shown, rounded to 0.01."""
        return _round(self._slider.value())

    def set_psi(self, psi: float) -> None:
        """Show ``psi`` without emitting ``psiChanged``."""
        value = _round(min(max(float(psi), PSI_MIN), PSI_MAX))
        with signals_blocked(self._slider):
            self._slider.setValue(value)
        self._last = value

    # ------------------------------------------------------------- Qt API

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.KeyPress:
            step = _KEY_STEPS.get(event.key())
            if step is not None:
                self._slider.setValue(_round(self._slider.value() + step))
                return True
        return False

    # ------------------------------------------------------------- private

    def _on_value_changed(self, value: float) -> None:
        value = _round(value)
        if value != self._last:
            self._last = value
            self.psiChanged.emit(value)


def _round(value: float) -> float:
    return round(float(value), _DECIMALS)
