"""Seed picker: a spin box with previous, next and random buttons."""

from __future__ import annotations

import random

from PySide6 import QtCore, QtWidgets
from superqt.utils import signals_blocked

from ._icons import themed_icon

__all__ = ["SeedBox", "SEED_MAX"]

SEED_MAX = 2**31 - 1  # the largest value a QSpinBox holds


class SeedBox(QtWidgets.QWidget):
    """Choose the random seed that draws the latent code of a scene.

    Signals
    -------
    seedChanged(int)
        Emitted at once on every change made by the user: typing, the spin
        arrows, and the previous / next / random buttons.

    Setters
    -------
    set_seed(int)
        Show a seed without emitting ``seedChanged`` (values are clamped to
        0..2**31-1).

    Getters
    -------
    seed() -> int

    Notes
    -----
    ``setEnabled(False)`` disables the spin box and every button; the
    previous / next buttons are also disabled at either end of the range.
    """

    seedChanged = QtCore.Signal(int)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        seed: int = 0,  # initial seed
        rng: random.Random | None = None,  # source for the random button
    ) -> None:
        super().__init__(parent)
        self._rng = rng if rng is not None else random.Random()

        self._label = QtWidgets.QLabel("Seed")
        self._spin = QtWidgets.QSpinBox()
        self._spin.setRange(0, SEED_MAX)
        self._spin.setAccelerated(True)
        self._spin.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        self._spin.setToolTip(
            "Random seed of the latent code (0 to 2147483647)\n"
            "Keys: \u2191/\u2193 next/previous seed \u00b7 Page Up/Page Down \u00b110 \u00b7 or type a number"
        )
        # Wide enough for ten digits, no wider: a stretched seed field looks empty.
        digits = self._spin.fontMetrics().horizontalAdvance("2147483647")
        self._spin.setMinimumWidth(digits + 40)
        self._label.setBuddy(self._spin)

        self._prev = self._make_button("Previous seed")
        self._next = self._make_button("Next seed")
        self._random = self._make_button("Random seed")
        self._icons = {
            self._prev: "fa5s.step-backward",
            self._next: "fa5s.step-forward",
            self._random: "fa5s.dice",
        }
        self._update_icons()

        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self._label)
        layout.addWidget(self._spin)
        layout.addWidget(self._prev)
        layout.addWidget(self._next)
        layout.addWidget(self._random)
        layout.addStretch(1)

        self._spin.valueChanged.connect(self._on_spin_changed)
        self._prev.clicked.connect(lambda: self._spin.stepBy(-1))
        self._next.clicked.connect(lambda: self._spin.stepBy(1))
        self._random.clicked.connect(self._on_random)

        self.set_seed(seed)

    # ------------------------------------------------------------ public API

    def seed(self) -> int:
        """Return the seed shown."""
        return int(self._spin.value())

    def set_seed(self, seed: int) -> None:
        """Show ``seed`` without emitting ``seedChanged``."""
        with signals_blocked(self._spin):
            self._spin.setValue(min(max(int(seed), 0), SEED_MAX))
        self._update_buttons()

    # ------------------------------------------------------------- Qt API

    def changeEvent(self, event: QtCore.QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._update_icons()

    # ------------------------------------------------------------- private

    def _update_icons(self) -> None:
        for button, name in self._icons.items():
            button.setIcon(themed_icon(name, self))

    def _make_button(self, tip: str) -> QtWidgets.QToolButton:
        button = QtWidgets.QToolButton()
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        button.setFocusPolicy(QtCore.Qt.FocusPolicy.TabFocus)
        return button

    def _update_buttons(self) -> None:
        value = self._spin.value()
        self._prev.setEnabled(value > 0)
        self._next.setEnabled(value < SEED_MAX)

    def _on_spin_changed(self, value: int) -> None:
        self._update_buttons()
        self.seedChanged.emit(int(value))

    def _on_random(self) -> None:
        current = self._spin.value()
        seed = current
        while seed == current:  # a "new" scene that looks the same would confuse
            seed = self._rng.randint(0, SEED_MAX)
        self._spin.setValue(seed)
