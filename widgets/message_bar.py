"""A message that stays until dismissed: for what the user must not miss but need not stop for.

A status-bar line vanishes after a few seconds and a modal box stops the
work; a refused boundary or a dropped row needs neither. The bar sits above
the rows, keeps its text until the user closes it (or a newer message
replaces it), and shows how many messages came in since it was last
dismissed.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ._icons import themed_icon

__all__ = ["MessageBar"]


class MessageBar(QtWidgets.QFrame):
    """``show_message(text)`` shows it; the close button (or Escape while it has focus) hides it.

    Signals
    -------
    dismissed()
        The user closed the bar.
    """

    dismissed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._messages: list[str] = []
        self.setObjectName("messageBar")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setStyleSheet("#messageBar { background: #fff4ce; border: 1px solid #e0c060; border-radius: 3px; }"
                           "#messageBar QLabel { color: #3d3000; }")
        self._icon = QtWidgets.QLabel()
        self._icon.setPixmap(themed_icon("fa5s.exclamation-triangle", self).pixmap(16, 16))
        self._text = QtWidgets.QLabel()
        self._text.setWordWrap(True)
        self._text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self._text.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self._action = QtWidgets.QPushButton()
        self._action.hide()
        self._action.clicked.connect(self._on_action)
        self._on_action_cb = None
        self._close = QtWidgets.QToolButton()
        self._close.setIcon(themed_icon("fa5s.times", self))
        self._close.setAutoRaise(True)
        self._close.setToolTip("Dismiss this message (Esc)")
        self._close.setAccessibleName("Dismiss message")
        self._close.clicked.connect(self.dismiss)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._icon, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._text, 1)
        layout.addWidget(self._action, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._close, 0, QtCore.Qt.AlignmentFlag.AlignTop)
        self.hide()

    def text(self) -> str:
        return self._text.text()

    def messages(self) -> list[str]:
        """Every message since the bar was last dismissed, oldest first."""
        return list(self._messages)

    def show_message(self, text: str, action: str = "", on_action=None) -> None:
        """Show ``text``; with ``action``, a button of that name calls ``on_action`` and dismisses the bar."""
        self._action.setVisible(bool(action))
        self._action.setText(action)
        self._action.setToolTip(action)
        self._on_action_cb = on_action if action else None
        self._messages.append(str(text))
        more = len(self._messages) - 1
        self._text.setText(str(text) + (f"  (and {more} earlier message{'s' if more > 1 else ''}: hover)"
                                        if more else ""))
        self.setToolTip("\n".join(self._messages))
        self.show()

    def action_button(self) -> QtWidgets.QPushButton:
        return self._action

    def _on_action(self) -> None:
        cb = self._on_action_cb
        self.dismiss()
        if cb is not None:
            cb()

    def dismiss(self) -> None:
        self._messages.clear()
        self.hide()
        self.dismissed.emit()

    def keyPressEvent(self, event) -> None:
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.dismiss()
            event.accept()
            return
        super().keyPressEvent(event)
