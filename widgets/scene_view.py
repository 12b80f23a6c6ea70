"""The image of the current scene: fitted or zoomed, panned, and compared with its unedited self."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["SceneView", "ZOOM_LEVELS", "COMPARE_KEY", "COMPARE_MODES"]

_BACKGROUND = QtGui.QColor("#1b1d21")
_MESSAGE_COLOR = QtGui.QColor("#b9bec7")
_CAPTION_BG = QtGui.QColor(0, 0, 0, 150)
_CAPTION_FG = QtGui.QColor("#e6e8eb")
_DIVIDER = QtGui.QColor("#f2f3f5")

# Zoom steps, in device pixels per image pixel. Above 1 they are whole numbers, so that
# nearest-neighbour blocks are all the same size; a step that crosses "fit" stops there.
ZOOM_LEVELS = (1 / 16, 1 / 8, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
               8.0, 10.0, 12.0, 16.0, 20.0, 24.0, 32.0)
COMPARE_KEY = QtCore.Qt.Key.Key_Backslash  # held: show the unedited scene (as in Lightroom)
COMPARE_MODES = ("off", "hold", "split")
_WHEEL_NOTCH = 120  # angleDelta of one mouse-wheel notch
_DIVIDER_GRAB = 6  # px either side of the split divider that grab it

# Shortcut texts shown in the menu; the keys themselves are handled in keyPressEvent.
_SHORTCUTS = {
    "copy_image": "Ctrl+C",
    "zoom_in": "Ctrl+=",
    "zoom_out": "Ctrl+-",
    "fit": "Ctrl+0",
    "actual_size": "Ctrl+1",
    "compare_hold": "hold \\",
}


class SceneView(QtWidgets.QAbstractScrollArea):
    """Show an RGB image on a dark background: fitted to the view, or zoomed and panned.

    **Zoom.** The view opens fitted to the window (aspect ratio kept,
    centred). The mouse wheel zooms around the cursor (one notch, one step
    of `ZOOM_LEVELS`), Ctrl+= (or Ctrl++) and Ctrl+- around the centre,
    Ctrl+0 fits again and Ctrl+1 shows actual pixels; a double-click goes
    from fit to a close look at the point clicked (1:1, or twice the fitted
    size for a small scene) and back. When the image is larger than the
    view, drag it (left or middle button), use the scroll bars or the arrow
    keys to pan.

    **1:1 means device pixels.** ``zoom() == 1`` puts one image pixel on
    one pixel of the screen, also on a high-DPI screen (where the image then
    covers ``width / devicePixelRatio`` logical pixels): "actual pixels" is
    there to judge a generator's output without any resampling. Image edges
    are placed on whole device pixels at every zoom.

    **Scaling.** Reduced, the image is always sampled smoothly (nearest
    sampling would drop pixels and shimmer). Enlarged, it is drawn with
    nearest-neighbour by default: a 64 or 256 px scene is the generator's
    exact output, and blurring it would invent in-between pixels and hide
    the artefacts (checkerboards, blobs) the user zooms in to look for.
    ``set_smooth(True)`` (the menu's "Smooth scaling") blurs instead, for
    judging the scene as a picture.

    **Compare.** `set_before` gives the unedited scene. In ``"hold"`` mode
    (the default) the before image is shown while the backslash key is held
    (the view must have focus, or see `install_compare_key`); in
    ``"split"`` mode a vertical divider parts before (left) from after
    (right) and can be dragged. `compareStarted` asks for the before image
    when a comparison begins, so it is rendered only when wanted.

    **Labels.** A caption in the lower left corner gives the native
    resolution, e.g. "256 x 256 px"; `set_overlay` adds a note in the lower
    right (e.g. "preview"); `set_message` shows a banner (errors).

    Signals
    -------
    zoomChanged(float)
        The zoom (device pixels per image pixel) after any change, also
        after a resize while fitted.
    imageCopied()
        The image was put on the clipboard (menu or Ctrl+C).
    saveRequested()
        The menu's "Save image…" was chosen.
    copyRecipeRequested()
        The menu's "Copy recipe" was chosen.
    compareStarted()
        A comparison began: the compare key went down, or split mode was
        turned on. The window answers with `set_before`.
    compareEnded()
        The key went up, or split mode was left.
    compareModeChanged(str)
        "off", "hold" or "split", after a change from the menu or a setter.

    Setters
    -------
    set_image(arr), set_before(arr), set_message(text), set_overlay(text),
    set_caption_visible(bool), set_smooth(bool), set_compare_mode(mode),
    set_split_position(fraction), set_showing_before(bool), set_zoom(z),
    zoom_in(), zoom_out(), fit_to_window(), actual_size(); clear().

    Getters
    -------
    image(), before(), message(), overlay(), zoom(), is_fit(), smooth(),
    compare_mode(), split_position(), showing_before(), image_rect(),
    divider_x(), action(name), context_menu().
    """

    zoomChanged = QtCore.Signal(float)
    imageCopied = QtCore.Signal()
    saveRequested = QtCore.Signal()
    copyRecipeRequested = QtCore.Signal()
    compareStarted = QtCore.Signal()
    compareEnded = QtCore.Signal()
    compareModeChanged = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._qimage: QtGui.QImage | None = None
        self._before_array: np.ndarray | None = None
        self._before_qimage: QtGui.QImage | None = None
        self._message = ""
        self._overlay = ""
        self._caption_visible = True
        self._zoom: float | None = None  # None: fit to the window
        self._smooth = False
        self._compare_mode = "hold"
        self._holding = False
        self._split = 0.5  # divider position, a fraction of the image width
        self._wheel_rest = 0  # angleDelta not yet turned into a zoom step (trackpads)
        self._drag: str | None = None  # "pan" or "divider" while a button is down
        self._drag_origin = QtCore.QPointF()
        self._drag_scroll = (0, 0)
        self._last_zoom = -1.0

        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Scene image")
        self.viewport().setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.viewport().setMouseTracking(True)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding,
            QtWidgets.QSizePolicy.Policy.Expanding,
        )
        self.setMinimumSize(64, 64)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.setSingleStep(24)
            bar.valueChanged.connect(self.viewport().update)
        self.horizontalScrollBar().setToolTip("Pan the zoomed image (or drag the image)")
        self.verticalScrollBar().setToolTip("Pan the zoomed image (or drag the image)")
        self._actions = self._build_actions()
        self._update_actions()
        self._update_tooltip()

    # ------------------------------------------------------------ image API

    def set_image(self, arr: np.ndarray | None) -> None:
        """Show ``arr``.

        Parameters
        ----------
        arr : numpy.ndarray or None
            uint8 pixels of shape (height, width, 3) in RGB order. A
            non-contiguous array is copied once. ``None`` clears the view.

        Raises
        ------
        ValueError
            If ``arr`` is not a uint8 (height, width, 3) array.
        """
        if arr is None:
            self.clear()
            return
        self._array, self._qimage = _to_qimage(arr)
        self._image_changed()

    def image(self) -> np.ndarray | None:
        """Return the array shown, or ``None``."""
        return self._array

    def clear(self) -> None:
        """Remove the image; the message, if any, is shown in its place."""
        self._qimage = None
        self._array = None
        self._image_changed()

    def set_before(self, arr: np.ndarray | None) -> None:
        """Give the unedited scene that compare shows (``None``: none yet).

        Same checks as `set_image`; it is drawn over the image's rectangle.
        """
        if arr is None:
            self._before_array = self._before_qimage = None
        else:
            self._before_array, self._before_qimage = _to_qimage(arr)
        self._update_actions()
        self.viewport().update()

    def before(self) -> np.ndarray | None:
        """Return the before image, or ``None``."""
        return self._before_array

    def set_message(self, text: str) -> None:
        """Set the centred placeholder text (``""`` for none); a banner over an image."""
        self._message = str(text or "")
        self.viewport().update()

    def message(self) -> str:
        """Return the placeholder text."""
        return self._message

    def set_overlay(self, text: str) -> None:
        """Label what the view shows, e.g. "preview" (lower right; ``""`` for none)."""
        self._overlay = str(text or "")
        self.viewport().update()

    def overlay(self) -> str:
        return self._overlay

    def set_caption_visible(self, visible: bool) -> None:
        """Show or hide the resolution caption."""
        self._caption_visible = bool(visible)
        self.viewport().update()

    def copy_image(self) -> bool:
        """Put the image shown (the edited scene) on the clipboard; False if there is none."""
        if self._qimage is None:
            return False
        # A deep copy: the clipboard outlives the numpy array the QImage reads.
        QtGui.QGuiApplication.clipboard().setImage(self._qimage.copy())
        self.imageCopied.emit()
        return True

    # ------------------------------------------------------------- zoom API

    def zoom(self) -> float:
        """Device pixels per image pixel now shown (1.0 at 1:1), fitted or not."""
        if self._zoom is not None:
            return self._zoom
        return self._fit_zoom()

    def is_fit(self) -> bool:
        """True while the image follows the window's size."""
        return self._zoom is None

    def fit_to_window(self) -> None:
        """Fit the whole image in the view, following its size from now on (Ctrl+0)."""
        self._zoom = None
        self._layout_changed()

    def actual_size(self) -> None:
        """One image pixel per device pixel (Ctrl+1)."""
        self.set_zoom(1.0)

    def set_zoom(self, zoom: float, anchor: QtCore.QPointF | None = None) -> None:
        """Zoom to ``zoom`` device pixels per image pixel, keeping ``anchor`` still.

        ``anchor`` is a point of the viewport (default its centre): the image
        point under it stays under it. Clamped to the first and last of
        `ZOOM_LEVELS`.
        """
        zoom = min(max(float(zoom), ZOOM_LEVELS[0]), ZOOM_LEVELS[-1])
        if self._qimage is None:
            self._zoom = zoom
            self._layout_changed()
            return
        vp = self.viewport().rect()
        if anchor is None:
            anchor = QtCore.QPointF(vp.width() / 2, vp.height() / 2)
        old = self.image_rect()
        u = (anchor.x() - old.x()) / old.width()
        v = (anchor.y() - old.y()) / old.height()
        self._zoom = zoom
        self._update_scrollbars()
        w, h = self._target_size()
        self.horizontalScrollBar().setValue(round(u * w - anchor.x()))
        self.verticalScrollBar().setValue(round(v * h - anchor.y()))
        self._layout_changed()

    def zoom_in(self, anchor: QtCore.QPointF | None = None) -> None:
        """One step larger (Ctrl+=, wheel up), stopping at "fit" on the way."""
        self._step_zoom(+1, anchor)

    def zoom_out(self, anchor: QtCore.QPointF | None = None) -> None:
        """One step smaller (Ctrl+-, wheel down), stopping at "fit" on the way."""
        self._step_zoom(-1, anchor)

    def set_smooth(self, smooth: bool) -> None:
        """Sample an enlarged image smoothly (True) or as crisp blocks (False, the default)."""
        self._smooth = bool(smooth)
        with QtCore.QSignalBlocker(self._actions["smooth"]):
            self._actions["smooth"].setChecked(self._smooth)
        self.viewport().update()

    def smooth(self) -> bool:
        return self._smooth

    def image_rect(self) -> QtCore.QRectF:
        """Return where the image is drawn, in viewport coordinates (empty if none).

        The viewport is the whole widget unless scroll bars are shown.
        """
        if self._qimage is None:
            return QtCore.QRectF()
        vw, vh = self.viewport().width(), self.viewport().height()
        tw, th = self._target_size()
        dpr = self.devicePixelRatioF()

        def place(size: float, room: int, scrolled: int) -> float:
            if size <= room:  # centred
                return round((room - size) / 2 * dpr) / dpr
            return round(-scrolled * dpr) / dpr

        x = place(tw, vw, self.horizontalScrollBar().value())
        y = place(th, vh, self.verticalScrollBar().value())
        return QtCore.QRectF(x, y, tw, th)

    # ---------------------------------------------------------- compare API

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
        self._update_cursor()
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
        dpr = self.devicePixelRatioF()
        return round((rect.left() + self._split * rect.width()) * dpr) / dpr

    def install_compare_key(self, widget: QtWidgets.QWidget) -> None:
        """Let the compare key work while focus is anywhere in ``widget`` (e.g. the window).

        A key that the focused control does not use travels up to ``widget``;
        text fields keep backslash for typing.
        """
        widget.installEventFilter(self)

    # ------------------------------------------------------------ menu API

    def action(self, name: str) -> QtGui.QAction:
        """The view's action ``name``, to put in a window menu as well.

        Names: copy_image, save_image, copy_recipe, zoom_in, zoom_out, fit,
        actual_size, smooth, compare_off, compare_hold, compare_split. Their
        keys work while the view has focus; to make one window-wide, give the
        action a shortcut with ``Qt.WindowShortcut`` context (its text already
        shows the key after a tab).
        """
        return self._actions[name]

    def context_menu(self) -> QtWidgets.QMenu:
        """Build the menu a right-click opens (the caller owns it)."""
        a = self._actions
        menu = QtWidgets.QMenu(self)
        for name in ("copy_image", "save_image", "copy_recipe"):
            menu.addAction(a[name])
        menu.addSeparator()
        for name in ("fit", "actual_size", "zoom_in", "zoom_out", "smooth"):
            menu.addAction(a[name])
        menu.addSeparator()
        compare = menu.addMenu("Compare with unedited")
        compare.setToolTipsVisible(True)
        for name in ("compare_off", "compare_hold", "compare_split"):
            compare.addAction(a[name])
        menu.setToolTipsVisible(True)
        return menu

    # ------------------------------------------------------------- Qt API

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(512, 512)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self.viewport())
        p.fillRect(self.viewport().rect(), _BACKGROUND)
        if self._qimage is None:
            if self._message:
                self._draw_placeholder(p)
            return
        target = self.image_rect()
        dpr = self.devicePixelRatioF()
        scale = target.width() * dpr / self._qimage.width()  # device pixels per image pixel
        smooth = scale < 0.999 or (self._smooth and scale > 1.001)
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, smooth)
        before = self._before_qimage
        if self._holding:
            p.drawImage(target, before if before is not None else self._qimage)
            self._draw_tag(p, target, "Before" if before is not None else "Before: rendering…", left=True)
        elif self._compare_mode == "split":
            p.drawImage(target, self._qimage)
            x = self.divider_x()
            if before is not None:
                p.save()
                p.setClipRect(QtCore.QRectF(target.left(), target.top(), x - target.left(), target.height()))
                p.drawImage(target, before)
                p.restore()
            self._draw_divider(p, target, x)
            self._draw_tag(p, target, "Before" if before is not None else "Before: rendering…", left=True)
            self._draw_tag(p, target, "After", left=False)
        else:
            p.drawImage(target, self._qimage)
        if self._caption_visible:
            self._draw_caption(p, target)
        if self._overlay:
            self._draw_corner(p, target, self._overlay)
        if self._message:
            self._draw_banner(p, target)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout_changed()

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        if self._qimage is None:
            event.ignore()
            return
        delta = event.angleDelta().y() or event.angleDelta().x()
        if self._wheel_rest and (self._wheel_rest > 0) != (delta > 0):
            self._wheel_rest = 0  # a change of direction starts afresh
        self._wheel_rest += delta
        steps = int(self._wheel_rest / _WHEEL_NOTCH)
        self._wheel_rest -= steps * _WHEEL_NOTCH
        for _ in range(abs(steps)):
            self._step_zoom(1 if steps > 0 else -1, event.position())
        event.accept()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if self._handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)

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
            if event.key() == COMPARE_KEY and not event.isAutoRepeat() and not _types_text(
                QtWidgets.QApplication.focusWidget()
            ):
                self.set_showing_before(kind == QtCore.QEvent.Type.KeyPress)
                return True
        elif kind == QtCore.QEvent.Type.WindowDeactivate:
            self.set_showing_before(False)
        return False

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        button = event.button()
        pos = event.position()
        if button == QtCore.Qt.MouseButton.LeftButton and self._near_divider(pos):
            self._drag = "divider"
        elif button in (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.MiddleButton) \
                and self._can_pan():
            self._drag = "pan"
            self._drag_origin = pos
            self._drag_scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
        else:
            super().mousePressEvent(event)
            return
        self._update_cursor(pos)
        event.accept()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "divider":
            rect = self.image_rect()
            self.set_split_position((pos.x() - rect.left()) / rect.width())
        elif self._drag == "pan":
            d = pos - self._drag_origin
            self.horizontalScrollBar().setValue(round(self._drag_scroll[0] - d.x()))
            self.verticalScrollBar().setValue(round(self._drag_scroll[1] - d.y()))
        else:
            self._update_cursor(pos)
            super().mouseMoveEvent(event)
            return
        event.accept()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._drag is not None:
            self._drag = None
            self._update_cursor(event.position())
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:
        # Double-click toggles fit and a close look at the point clicked: 1:1 when the fitted
        # image is reduced, else twice the fitted size (1:1 would shrink a small scene).
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self._qimage is not None \
                and not self._near_divider(event.position()):
            if self.is_fit():
                fit = self._fit_zoom()
                close = 1.0 if fit < 1.0 else next((z for z in ZOOM_LEVELS if z >= 2 * fit), ZOOM_LEVELS[-1])
                self.set_zoom(close, event.position())
            else:
                self.fit_to_window()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QtGui.QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()

    # ------------------------------------------------------------- private

    def _build_actions(self) -> dict[str, QtGui.QAction]:
        def act(name, text, slot, tip, checkable=False):
            shortcut = _SHORTCUTS.get(name)
            a = QtGui.QAction(text + (f"\t{shortcut}" if shortcut else ""), self)
            a.setToolTip(tip + (f" ({shortcut})" if shortcut else ""))
            a.setCheckable(checkable)
            (a.toggled if checkable else a.triggered).connect(slot)
            return a

        actions = {
            "copy_image": act("copy_image", "&Copy image", lambda: self.copy_image(),
                              "Copy the scene image to the clipboard"),
            "save_image": act("save_image", "&Save image…", lambda: self.saveRequested.emit(),
                              "Save the scene as a PNG with its recipe"),
            "copy_recipe": act("copy_recipe", "Copy &recipe", lambda: self.copyRecipeRequested.emit(),
                               "Copy the scene's recipe (JSON) to the clipboard"),
            "fit": act("fit", "&Fit to window", lambda: self.fit_to_window(),
                       "Show the whole image, following the window's size"),
            "actual_size": act("actual_size", "&Actual pixels (1:1)", lambda: self.actual_size(),
                               "One image pixel per screen pixel"),
            "zoom_in": act("zoom_in", "Zoom &in", lambda: self.zoom_in(), "Enlarge the image"),
            "zoom_out": act("zoom_out", "Zoom &out", lambda: self.zoom_out(), "Reduce the image"),
            "smooth": act("smooth", "S&mooth scaling", self.set_smooth,
                          "Blur an enlarged image instead of showing its pixels as blocks", True),
            "compare_off": act("compare_off", "&Off", lambda: self.set_compare_mode("off"),
                               "No before/after comparison", True),
            "compare_hold": act("compare_hold", "&Hold key for before",
                                lambda: self.set_compare_mode("hold"),
                                "Show the unedited scene while backslash is held", True),
            "compare_split": act("compare_split", "&Split view", lambda: self.set_compare_mode("split"),
                                 "Unedited scene left of a draggable divider, edited right", True),
        }
        self._mode_group = QtGui.QActionGroup(self)
        for mode in COMPARE_MODES:
            self._mode_group.addAction(actions[f"compare_{mode}"])
        actions[f"compare_{self._compare_mode}"].setChecked(True)
        for a in actions.values():
            self.addAction(a)  # so that a window menu can reach them from the view
        return actions

    def _update_actions(self) -> None:
        has_image = self._qimage is not None
        for name in ("copy_image", "save_image", "copy_recipe", "zoom_in", "zoom_out", "actual_size"):
            self._actions[name].setEnabled(has_image)

    def _update_tooltip(self) -> None:
        keys = ("Wheel or Ctrl+= / Ctrl+-: zoom · Ctrl+0: fit · Ctrl+1: actual pixels\n"
                "Double-click: closer look · drag to pan when zoomed\n"
                "Hold \\: before edits · Ctrl+C: copy · right-click: more")
        if self._qimage is None:
            self.setToolTip(keys)
        else:
            self.setToolTip(f"{self._qimage.width()} x {self._qimage.height()} px\n{keys}")

    def _image_changed(self) -> None:
        self._update_tooltip()
        self._update_actions()
        self._layout_changed()

    def _fit_zoom(self) -> float:
        if self._qimage is None:
            return 1.0
        vw, vh = self.viewport().width(), self.viewport().height()
        return min(vw / self._qimage.width(), vh / self._qimage.height()) * self.devicePixelRatioF()

    def _target_size(self) -> tuple[float, float]:
        """The image's drawn size in logical pixels, a whole number of device pixels."""
        iw, ih = self._qimage.width(), self._qimage.height()
        dpr = self.devicePixelRatioF()
        zoom = self.zoom()
        return (max(1.0, round(iw * zoom) / dpr), max(1.0, round(ih * zoom) / dpr))

    def _update_scrollbars(self) -> None:
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        if self._qimage is None or self._zoom is None:
            hbar.setRange(0, 0)
            vbar.setRange(0, 0)
            return
        tw, th = self._target_size()
        vw, vh = self.viewport().width(), self.viewport().height()
        hbar.setRange(0, max(0, int(np.ceil(tw)) - vw))
        vbar.setRange(0, max(0, int(np.ceil(th)) - vh))
        hbar.setPageStep(max(1, vw))
        vbar.setPageStep(max(1, vh))

    def _layout_changed(self) -> None:
        self._update_scrollbars()
        self._update_cursor()
        self.viewport().update()
        zoom = self.zoom()
        if self._qimage is not None and abs(zoom - self._last_zoom) > 1e-9:
            self._last_zoom = zoom
            self.zoomChanged.emit(zoom)

    def _step_zoom(self, direction: int, anchor: QtCore.QPointF | None) -> None:
        if self._qimage is None:
            return
        now, fit = self.zoom(), self._fit_zoom()
        if direction > 0:
            target = next((z for z in ZOOM_LEVELS if z > now * 1.001), ZOOM_LEVELS[-1])
            crosses_fit = now < fit * 0.999 and target > fit * 1.001
        else:
            target = next((z for z in reversed(ZOOM_LEVELS) if z < now / 1.001), ZOOM_LEVELS[0])
            crosses_fit = now > fit * 1.001 and target < fit * 0.999
        if crosses_fit or abs(target - fit) < 1e-6 * fit:
            self.fit_to_window()
        elif abs(target - now) > 1e-9:
            self.set_zoom(target, anchor)

    def _can_pan(self) -> bool:
        return self.horizontalScrollBar().maximum() > 0 or self.verticalScrollBar().maximum() > 0

    def _near_divider(self, pos: QtCore.QPointF) -> bool:
        if self._compare_mode != "split" or self._qimage is None or self._holding:
            return False
        rect = self.image_rect()
        return abs(pos.x() - self.divider_x()) <= _DIVIDER_GRAB and rect.top() <= pos.y() <= rect.bottom()

    def _update_cursor(self, pos: QtCore.QPointF | None = None) -> None:
        Shape = QtCore.Qt.CursorShape
        if pos is None:
            pos = QtCore.QPointF(self.viewport().mapFromGlobal(QtGui.QCursor.pos()))
        if self._drag == "pan":
            shape = Shape.ClosedHandCursor
        elif self._drag == "divider" or self._near_divider(pos):
            shape = Shape.SplitHCursor
        elif self._can_pan():
            shape = Shape.OpenHandCursor
        else:
            shape = Shape.ArrowCursor
        self.viewport().setCursor(shape)

    def _handle_key(self, event: QtGui.QKeyEvent) -> bool:
        Key, Mod = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier
        key = event.key()
        ctrl = bool(event.modifiers() & Mod.ControlModifier)
        if key == COMPARE_KEY and not ctrl:
            if not event.isAutoRepeat():
                self.set_showing_before(True)
            return True
        if event.matches(QtGui.QKeySequence.StandardKey.Copy):
            return self.copy_image()
        if event.matches(QtGui.QKeySequence.StandardKey.ZoomIn) or (ctrl and key in (Key.Key_Equal, Key.Key_Plus)):
            self.zoom_in()
            return True
        if event.matches(QtGui.QKeySequence.StandardKey.ZoomOut) or (ctrl and key in (Key.Key_Minus, Key.Key_Underscore)):
            self.zoom_out()
            return True
        if ctrl and key == Key.Key_0:
            self.fit_to_window()
            return True
        if ctrl and key == Key.Key_1:
            self.actual_size()
            return True
        return False

    # ---------------------------------------------------------- drawing

    def _draw_placeholder(self, p: QtGui.QPainter) -> None:
        font = QtGui.QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        p.setFont(font)
        p.setPen(_MESSAGE_COLOR)
        margin = 24
        rect = self.viewport().rect().adjusted(margin, margin, -margin, -margin)
        p.drawText(
            rect,
            int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
            self._message,
        )

    def _pill(self, p: QtGui.QPainter, text: str, bold: bool = False) -> tuple[QtCore.QRectF, QtGui.QFont]:
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        font.setBold(bold)
        fm = QtGui.QFontMetricsF(font)
        return QtCore.QRectF(0, 0, fm.horizontalAdvance(text) + 12.0, fm.height() + 4.0), font

    def _paint_pill(self, p: QtGui.QPainter, box: QtCore.QRectF, font: QtGui.QFont, text: str) -> None:
        p.setFont(font)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(_CAPTION_BG)
        p.drawRoundedRect(box, 4, 4)
        p.setPen(_CAPTION_FG)
        p.drawText(box, int(QtCore.Qt.AlignmentFlag.AlignCenter), text)

    def _visible(self, target: QtCore.QRectF, box: QtCore.QRectF) -> QtCore.QRectF:
        """The part of the image in view, or the viewport when the image is too small for ``box``."""
        shown = target.intersected(QtCore.QRectF(self.viewport().rect()))
        return shown if shown.height() > 3 * box.height() else QtCore.QRectF(self.viewport().rect())

    def _draw_caption(self, p: QtGui.QPainter, target: QtCore.QRectF) -> None:
        text = f"{self._qimage.width()} x {self._qimage.height()} px"
        zoom = self.zoom()
        if not self.is_fit() or abs(zoom - 1) < 1e-6:
            text += f" · {zoom * 100:.0f}%"
        box, font = self._pill(p, text)
        box.moveBottomLeft(self._visible(target, box).bottomLeft() + QtCore.QPointF(8.0, -8.0))
        self._paint_pill(p, box, font, text)

    def _draw_corner(self, p: QtGui.QPainter, target: QtCore.QRectF, text: str) -> None:
        box, font = self._pill(p, text)
        box.moveBottomRight(self._visible(target, box).bottomRight() + QtCore.QPointF(-8.0, -8.0))
        self._paint_pill(p, box, font, text)

    def _draw_tag(self, p: QtGui.QPainter, target: QtCore.QRectF, text: str, left: bool) -> None:
        box, font = self._pill(p, text, bold=True)
        area = self._visible(target, box)
        if left:
            box.moveTopLeft(area.topLeft() + QtCore.QPointF(8.0, 8.0))
        else:
            box.moveTopRight(area.topRight() + QtCore.QPointF(-8.0, 8.0))
        self._paint_pill(p, box, font, text)

    def _draw_divider(self, p: QtGui.QPainter, target: QtCore.QRectF, x: float) -> None:
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 120), 3.0))
        p.drawLine(QtCore.QPointF(x, target.top()), QtCore.QPointF(x, target.bottom()))
        p.setPen(QtGui.QPen(_DIVIDER, 1.0))
        p.drawLine(QtCore.QPointF(x, target.top()), QtCore.QPointF(x, target.bottom()))
        # A round grip in the middle of the visible part, with arrows either way.
        shown = target.intersected(QtCore.QRectF(self.viewport().rect()))
        c = QtCore.QPointF(x, shown.center().y())
        p.setBrush(_DIVIDER)
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 140), 1.0))
        p.drawEllipse(c, 11.0, 11.0)
        p.setBrush(QtGui.QColor("#2a2d33"))
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        for sign in (-1, 1):
            tip = c + QtCore.QPointF(7.0 * sign, 0)
            base = c + QtCore.QPointF(2.0 * sign, 0)
            p.drawPolygon(QtGui.QPolygonF([tip, base + QtCore.QPointF(0, -4.0), base + QtCore.QPointF(0, 4.0)]))

    def _draw_banner(self, p: QtGui.QPainter, target: QtCore.QRectF) -> None:
        fm = QtGui.QFontMetricsF(self.font())
        p.setFont(self.font())
        inset = 8.0
        shown = target.intersected(QtCore.QRectF(self.viewport().rect()))
        width = shown.width() - 2 * inset
        text_rect = fm.boundingRect(
            QtCore.QRectF(0, 0, max(10.0, width - 16), 1e4),
            int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
            self._message,
        )
        box = QtCore.QRectF(0, 0, text_rect.width() + 16, text_rect.height() + 8)
        box.moveCenter(QtCore.QPointF(shown.center().x(), 0))
        box.moveTop(max(0.0, shown.top()) + inset)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QColor(0, 0, 0, 170))
        p.drawRoundedRect(box, 5, 5)
        p.setPen(_CAPTION_FG)
        p.drawText(
            box,
            int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
            self._message,
        )


def _to_qimage(arr) -> tuple[np.ndarray, QtGui.QImage]:
    """Check ``arr`` and wrap it in a QImage; return both (the array keeps the memory alive)."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 numpy array, got {type(arr).__name__}"
                         f" {getattr(arr, 'dtype', '')}".rstrip())
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected shape (height, width, 3), got {arr.shape}")
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    return arr, QtGui.QImage(arr.data, w, h, arr.strides[0], QtGui.QImage.Format.Format_RGB888)


def _types_text(widget: QtWidgets.QWidget | None) -> bool:
    """True when ``widget`` takes typed characters (so backslash is text, not a command)."""
    return isinstance(widget, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox,
                               QtWidgets.QTextEdit, QtWidgets.QPlainTextEdit)) \
        or (isinstance(widget, QtWidgets.QComboBox) and widget.isEditable())
