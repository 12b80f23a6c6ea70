"""The boundary sets above the rows: which set the panel shows, and merging another set's rows in."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets
from superqt.utils import signals_blocked

from ._icons import themed_icon

__all__ = ["BoundarySetBar"]


class BoundarySetBar(QtWidgets.QWidget):
    """A set chooser with "Add rows from…" and "Remove set…" menus.

    Signals
    -------
    setChosen(int)
        The user picked set ``index`` to show.
    mergeRequested(int)
        The user asked to add set ``index``'s rows to the shown set.
    removeRequested(int)
        The user asked to drop set ``index`` (never the shown one).

    ``set_sets(names, active)`` fills it without emitting.
    """

    setChosen = QtCore.Signal(int)
    mergeRequested = QtCore.Signal(int)
    removeRequested = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._active = 0
        self.combo = QtWidgets.QComboBox()
        self.combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip("The boundary set the rows show. Each set keeps its own strengths and layers; "
                              "switching is one undo step.")
        self.combo.setAccessibleName("Boundary set")
        label = QtWidgets.QLabel("&Set")
        label.setBuddy(self.combo)

        self.merge_button = QtWidgets.QToolButton()
        self.merge_button.setText("Add rows from")
        self.merge_button.setIcon(themed_icon("fa5s.layer-group", self))
        self.merge_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.merge_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.merge_button.setToolTip("Add another set's rows to the rows shown (a row whose name is taken "
                                     "is added as \"name (set)\")")
        self.merge_menu = QtWidgets.QMenu(self.merge_button)
        self.merge_button.setMenu(self.merge_menu)

        self.remove_button = QtWidgets.QToolButton()
        self.remove_button.setIcon(themed_icon("fa5s.trash-alt", self))
        self.remove_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.remove_button.setToolTip("Remove a set that is not shown (undo brings it back)")
        self.remove_button.setAccessibleName("Remove boundary set")
        self.remove_menu = QtWidgets.QMenu(self.remove_button)
        self.remove_button.setMenu(self.remove_menu)

        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 4, 2)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        layout.addWidget(self.merge_button)
        layout.addWidget(self.remove_button)
        layout.addStretch(1)
        self.combo.activated.connect(self._on_activated)

    def names(self) -> list[str]:
        return list(self._names)

    def active(self) -> int:
        return self._active

    def set_sets(self, names: list[str], active: int) -> None:
        """Show ``names`` with set ``active`` chosen (no signal)."""
        self._names, self._active = list(names), int(active)
        with signals_blocked(self.combo):
            self.combo.clear()
            self.combo.addItems(self._names)
            self.combo.setCurrentIndex(self._active)
        for menu, signal in ((self.merge_menu, self.mergeRequested), (self.remove_menu, self.removeRequested)):
            menu.clear()
            for i, name in enumerate(self._names):
                if i != self._active:
                    a = menu.addAction(name)
                    a.triggered.connect(lambda checked=False, i=i, signal=signal: signal.emit(i))
        others = len(self._names) > 1
        self.merge_button.setEnabled(others)
        self.remove_button.setEnabled(others)

    def _on_activated(self, index: int) -> None:
        if index != self._active:
            self.setChosen.emit(index)
