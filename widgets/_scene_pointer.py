"""The scene view's mouse: drags that pan or move the split divider, wheel zoom, double-click, cursor."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ._zoom import close_look, wheel_steps

_DIVIDER_GRAB = 6  # px either side of the split divider that grab it


class PointerControl:
    """Turn mouse events on a SceneView's viewport into its zoom, scrolling and split position.

    Each handler returns True when it used the event (the view accepts it)
    and False when the view should pass it on.
    """

    def __init__(self, view: QtWidgets.QAbstractScrollArea) -> None:
        self._view = view  # a SceneView
        self._drag: str | None = None  # "pan" or "divider" while a button is down
        self._drag_origin = QtCore.QPointF()
        self._drag_scroll = (0, 0)
        self._wheel_rest = 0  # angleDelta not yet turned into a zoom step (trackpads)

    def can_pan(self) -> bool:
        view = self._view
        return view.horizontalScrollBar().maximum() > 0 or view.verticalScrollBar().maximum() > 0

    def near_divider(self, pos: QtCore.QPointF) -> bool:
        view = self._view
        if view.compare_mode() != "split" or view.image() is None or view.showing_before():
            return False
        rect = view.image_rect()
        return abs(pos.x() - view.divider_x()) <= _DIVIDER_GRAB and rect.top() <= pos.y() <= rect.bottom()

    def update_cursor(self, pos: QtCore.QPointF | None = None) -> None:
        """Show what a drag at ``pos`` (default: where the mouse is) would do."""
        Shape = QtCore.Qt.CursorShape
        viewport = self._view.viewport()
        if pos is None:
            pos = QtCore.QPointF(viewport.mapFromGlobal(QtGui.QCursor.pos()))
        if self._drag == "pan":
            shape = Shape.ClosedHandCursor
        elif self._drag == "divider" or self.near_divider(pos):
            shape = Shape.SplitHCursor
        elif self.can_pan():
            shape = Shape.OpenHandCursor
        else:
            shape = Shape.ArrowCursor
        viewport.setCursor(shape)

    def wheel(self, event: QtGui.QWheelEvent) -> bool:
        """Zoom around the cursor, one step of ZOOM_LEVELS a notch."""
        view = self._view
        if view.image() is None:
            return False
        delta = event.angleDelta().y() or event.angleDelta().x()
        steps, self._wheel_rest = wheel_steps(self._wheel_rest, delta)
        for _ in range(abs(steps)):
            (view.zoom_in if steps > 0 else view.zoom_out)(event.position())
        return True

    def press(self, event: QtGui.QMouseEvent) -> bool:
        """Start dragging the divider (left button on it) or the image (left or middle, if it pans)."""
        view = self._view
        button = event.button()
        pos = event.position()
        if button == QtCore.Qt.MouseButton.LeftButton and self.near_divider(pos):
            self._drag = "divider"
        elif button in (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.MiddleButton) \
                and self.can_pan():
            self._drag = "pan"
            self._drag_origin = pos
            self._drag_scroll = (view.horizontalScrollBar().value(), view.verticalScrollBar().value())
        else:
            return False
        self.update_cursor(pos)
        return True

    def move(self, event: QtGui.QMouseEvent) -> bool:
        view = self._view
        pos = event.position()
        if self._drag == "divider":
            rect = view.image_rect()
            view.set_split_position((pos.x() - rect.left()) / rect.width())
        elif self._drag == "pan":
            d = pos - self._drag_origin
            view.horizontalScrollBar().setValue(round(self._drag_scroll[0] - d.x()))
            view.verticalScrollBar().setValue(round(self._drag_scroll[1] - d.y()))
        else:
            self.update_cursor(pos)
            return False
        return True

    def release(self, event: QtGui.QMouseEvent) -> bool:
        if self._drag is None:
            return False
        self._drag = None
        self.update_cursor(event.position())
        return True

    def double_click(self, event: QtGui.QMouseEvent) -> bool:
        """Go from fit to a close look at the point clicked (see `close_look`), and back."""
        view = self._view
        if event.button() == QtCore.Qt.MouseButton.LeftButton and view.image() is not None \
                and not self.near_divider(event.position()):
            if view.is_fit():
                view.set_zoom(close_look(view.zoom()), event.position())  # fitted: zoom() is the fit
            else:
                view.fit_to_window()
            return True
        return False
