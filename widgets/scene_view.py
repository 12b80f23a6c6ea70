"""The image of the current scene: fitted or zoomed, panned, and compared with its unedited self.

The view holds the state and the public API; its parts live beside it: `_zoom` (zoom
arithmetic), `_scene_compare` (the compare API, mixed in), `_scene_keys` (keys and their
texts), `_scene_actions` (actions, context menu), `_scene_pointer` (mouse), `_scene_paint`.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ._scene_actions import COMPARE_MODES, build_actions, build_context_menu, enable_image_actions
from ._scene_compare import CompareMixin
from ._scene_keys import COMPARE_KEY, key_command, tooltip
from ._scene_paint import (BACKGROUND, caption_text, draw_banner, draw_caption, draw_corner,
                           draw_placeholder, draw_scene, to_qimage)
from ._scene_pointer import PointerControl
from ._zoom import (ZOOM_LEVELS, anchored_scroll, clamp_zoom, drawn_size, fit_zoom, next_zoom,
                    place, scroll_range)

__all__ = ["SceneView", "ZOOM_LEVELS", "COMPARE_KEY", "COMPARE_MODES"]


class SceneView(CompareMixin, QtWidgets.QAbstractScrollArea):
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
        self._pointer = PointerControl(self)  # drags, wheel, double-click, cursor
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
        self._actions, self._mode_group = build_actions(self)
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
        self._array, self._qimage = to_qimage(arr)
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
            self._before_array, self._before_qimage = to_qimage(arr)
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
        zoom = clamp_zoom(zoom)
        if self._qimage is None:
            self._zoom = zoom
            self._layout_changed()
            return
        vp = self.viewport().rect()
        if anchor is None:
            anchor = QtCore.QPointF(vp.width() / 2, vp.height() / 2)
        old = self.image_rect()
        self._zoom = zoom
        self._update_scrollbars()
        w, h = self._target_size()
        self.horizontalScrollBar().setValue(anchored_scroll(anchor.x(), old.x(), old.width(), w))
        self.verticalScrollBar().setValue(anchored_scroll(anchor.y(), old.y(), old.height(), h))
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
        x = place(tw, vw, self.horizontalScrollBar().value(), dpr)
        y = place(th, vh, self.verticalScrollBar().value(), dpr)
        return QtCore.QRectF(x, y, tw, th)

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
        return build_context_menu(self, self._actions)

    # ------------------------------------------------------------- Qt API

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(512, 512)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self.viewport())
        viewport, font = self.viewport().rect(), self.font()
        p.fillRect(viewport, BACKGROUND)
        if self._qimage is None:
            if self._message:
                draw_placeholder(p, viewport, font, self._message)
            return
        target = self.image_rect()
        split_x = self.divider_x() if self._compare_mode == "split" and not self._holding else None
        draw_scene(p, viewport, font, target, self._qimage, self._before_qimage, smooth=self._smooth,
                   dpr=self.devicePixelRatioF(), holding=self._holding, split_x=split_x)
        if self._caption_visible:
            text = caption_text(*self._image_size(), self.zoom(), self.is_fit())
            draw_caption(p, viewport, font, target, text)
        if self._overlay:
            draw_corner(p, viewport, font, target, self._overlay)
        if self._message:
            draw_banner(p, viewport, font, target, self._message)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout_changed()

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        if self._pointer.wheel(event):
            event.accept()
        else:
            event.ignore()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if self._handle_key(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._pointer.press(event):
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._pointer.move(event):
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._pointer.release(event):
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._pointer.double_click(event):
            event.accept()
        else:
            super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QtGui.QContextMenuEvent) -> None:
        menu = self.context_menu()
        menu.exec(event.globalPos())
        menu.deleteLater()

    # ------------------------------------------------------------- private

    def _update_actions(self) -> None:
        enable_image_actions(self._actions, self._qimage is not None)

    def _update_tooltip(self) -> None:
        self.setToolTip(tooltip(None if self._qimage is None else self._image_size()))

    def _image_changed(self) -> None:
        self._update_tooltip()
        self._update_actions()
        self._layout_changed()

    def _image_size(self) -> tuple[int, int]:
        return self._qimage.width(), self._qimage.height()

    def _fit_zoom(self) -> float:
        if self._qimage is None:
            return 1.0
        room = (self.viewport().width(), self.viewport().height())
        return fit_zoom(room, self._image_size(), self.devicePixelRatioF())

    def _target_size(self) -> tuple[float, float]:
        """The image's drawn size in logical pixels, a whole number of device pixels."""
        return drawn_size(self._image_size(), self.zoom(), self.devicePixelRatioF())

    def _update_scrollbars(self) -> None:
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        if self._qimage is None or self._zoom is None:
            hbar.setRange(0, 0)
            vbar.setRange(0, 0)
            return
        tw, th = self._target_size()
        vw, vh = self.viewport().width(), self.viewport().height()
        hbar.setRange(0, scroll_range(tw, vw))
        vbar.setRange(0, scroll_range(th, vh))
        hbar.setPageStep(max(1, vw))
        vbar.setPageStep(max(1, vh))

    def _layout_changed(self) -> None:
        self._update_scrollbars()
        self._pointer.update_cursor()
        self.viewport().update()
        zoom = self.zoom()
        if self._qimage is not None and abs(zoom - self._last_zoom) > 1e-9:
            self._last_zoom = zoom
            self.zoomChanged.emit(zoom)

    def _step_zoom(self, direction: int, anchor: QtCore.QPointF | None) -> None:
        if self._qimage is None:
            return
        now = self.zoom()
        target = next_zoom(now, self._fit_zoom(), direction)
        if target is None:
            self.fit_to_window()
        elif abs(target - now) > 1e-9:
            self.set_zoom(target, anchor)

    def _handle_key(self, event: QtGui.QKeyEvent) -> bool:
        command = key_command(event)
        if command == "compare":
            if not event.isAutoRepeat():
                self.set_showing_before(True)
            return True
        if command == "copy_image":
            return self.copy_image()
        if command is None:
            return False
        getattr(self, command)()  # zoom_in, zoom_out, fit_to_window or actual_size
        return True
