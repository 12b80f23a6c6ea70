"""Before/after compare of the scene view: the mode, the held key and the split divider."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ._scene_actions import COMPARE_MODES
from ._scene_keys import COMPARE_KEY, types_text
from ._zoom import snap


class CompareMixin:
    """SceneView's compare API and its compare-key handlers (mixed in before the Qt class).

    Uses the view's ``_compare_mode``, ``_holding`` and ``_split``, its
    ``_actions``, ``_mode_group`` and ``_pointer``, `image_rect` and the
    signals compareStarted, compareEnded and compareModeChanged.
    """

    def set_compare_mode(self, mode: str) -> None:
        """``"off"``, ``"hold"`` (hold backslash for before) or ``"split"`` (a divider)."""
        if mode not in COMPARE_MODES:
            raise ValueError(f"compare mode must be one of {COMPARE_MODES}, got {mode!r}")
        if mode == self._compare_mode:
            return
        was_comparing = self.is_comparing()
        self._compare_mode = mode
        self._holding = False
        with QtCore.QSignalBlocker(self._mode_group):
            self._actions[f"compare_{mode}"].setChecked(True)
        self._pointer.update_cursor()
        self.viewport().update()
        self.compareModeChanged.emit(mode)
        if was_comparing and not self.is_comparing():
            self.compareEnded.emit()
        elif self.is_comparing() and not was_comparing:
            self.compareStarted.emit()

    def compare_mode(self) -> str:
        return self._compare_mode

    def set_showing_before(self, showing: bool) -> None:
        """Show the before image in full (as holding the key does), or stop.

        Does nothing in ``"off"`` mode. Emits `compareStarted` /
        `compareEnded` on a change.
        """
        showing = bool(showing) and self._compare_mode != "off"
        if showing == self._holding:
            return
        was_comparing = self.is_comparing()
        self._holding = showing
        self.viewport().update()
        if self.is_comparing() != was_comparing:
            (self.compareStarted if showing else self.compareEnded).emit()

    def showing_before(self) -> bool:
        """True while the whole image shows the before scene (the key is held)."""
        return self._holding

    def is_comparing(self) -> bool:
        """True while before is on screen in any way (key held, or split mode)."""
        return self._holding or self._compare_mode == "split"

    def set_split_position(self, fraction: float) -> None:
        """Put the split divider at ``fraction`` of the image width (0 left, 1 right)."""
        self._split = min(max(float(fraction), 0.0), 1.0)
        self.viewport().update()

    def split_position(self) -> float:
        return self._split

    def divider_x(self) -> float:
        """The divider's x in viewport coordinates (split mode; ``nan`` without an image)."""
        rect = self.image_rect()
        if rect.isEmpty():
            return float("nan")
        return snap(rect.left() + self._split * rect.width(), self.devicePixelRatioF())

    def install_compare_key(self, widget: QtWidgets.QWidget) -> None:
        """Let the compare key work while focus is anywhere in ``widget`` (e.g. the window).

        A key that the focused control does not use travels up to ``widget``;
        text fields keep backslash for typing.
        """
        widget.installEventFilter(self)

    # --------------------------------------------------- the compare key

    def keyReleaseEvent(self, event: QtGui.QKeyEvent) -> None:
        if event.key() == COMPARE_KEY and not event.isAutoRepeat():
            self.set_showing_before(False)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QtGui.QFocusEvent) -> None:
        # The key's release goes elsewhere once focus has left; do not stay stuck on before.
        self.set_showing_before(False)
        super().focusOutEvent(event)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        kind = event.type()
        if kind in (QtCore.QEvent.Type.KeyPress, QtCore.QEvent.Type.KeyRelease):
            if event.key() == COMPARE_KEY and not event.isAutoRepeat() and not types_text(
                QtWidgets.QApplication.focusWidget()
            ):
                self.set_showing_before(kind == QtCore.QEvent.Type.KeyPress)
                return True
        elif kind == QtCore.QEvent.Type.WindowDeactivate:
            self.set_showing_before(False)
        return False
