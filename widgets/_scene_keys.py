"""The scene view's keys: which key does what, and the texts that tell the user."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

COMPARE_KEY = QtCore.Qt.Key.Key_Backslash  # held: show the unedited scene (as in Lightroom)

# Shortcut texts shown in the menu; the keys themselves are read by `key_command`.
SHORTCUTS = {
    "copy_image": "Ctrl+C",
    "zoom_in": "Ctrl+=",
    "zoom_out": "Ctrl+-",
    "fit": "Ctrl+0",
    "actual_size": "Ctrl+1",
    "compare_hold": "hold \\",
}

_KEYS_TIP = ("Wheel or Ctrl+= / Ctrl+-: zoom · Ctrl+0: fit · Ctrl+1: actual pixels\n"
             "Double-click: closer look · drag to pan when zoomed\n"
             "Hold \\: before edits · Ctrl+C: copy · right-click: more")


def tooltip(size: tuple[int, int] | None) -> str:
    """The view's tooltip: the image's (width, height), if any, then the keys."""
    if size is None:
        return _KEYS_TIP
    return f"{size[0]} x {size[1]} px\n{_KEYS_TIP}"


def key_command(event: QtGui.QKeyEvent) -> str | None:
    """What a key press asks of the view, or ``None``.

    ``"compare"`` (the compare key, without Ctrl), else the name of the
    view's method: ``"copy_image"``, ``"zoom_in"``, ``"zoom_out"``,
    ``"fit_to_window"`` or ``"actual_size"``.
    """
    Key, Mod = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier
    key = event.key()
    ctrl = bool(event.modifiers() & Mod.ControlModifier)
    if key == COMPARE_KEY and not ctrl:
        return "compare"
    if event.matches(QtGui.QKeySequence.StandardKey.Copy):
        return "copy_image"
    if event.matches(QtGui.QKeySequence.StandardKey.ZoomIn) or (ctrl and key in (Key.Key_Equal, Key.Key_Plus)):
        return "zoom_in"
    if event.matches(QtGui.QKeySequence.StandardKey.ZoomOut) or (ctrl and key in (Key.Key_Minus, Key.Key_Underscore)):
        return "zoom_out"
    if ctrl and key == Key.Key_0:
        return "fit_to_window"
    if ctrl and key == Key.Key_1:
        return "actual_size"
    return None


def types_text(widget: QtWidgets.QWidget | None) -> bool:
    """True when ``widget`` takes typed characters (so backslash is text, not a command)."""
    return isinstance(widget, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox,
                               QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit)) \
        or (isinstance(widget, QtWidgets.QComboBox) and widget.isEditable())
