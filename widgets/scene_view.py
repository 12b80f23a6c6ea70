"""The image of the current scene, scaled to fit."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["SceneView"]

_BACKGROUND = QtGui.QColor("#1b1d21")
_MESSAGE_COLOR = QtGui.QColor("#b9bec7")
_CAPTION_BG = QtGui.QColor(0, 0, 0, 150)
_CAPTION_FG = QtGui.QColor("#e6e8eb")


class SceneView(QtWidgets.QWidget):
    """Show an RGB image scaled to fit, centred on a dark background.

    The image keeps its aspect ratio; it is drawn with nearest-neighbour
    sampling when enlarged (so a 256 px scene stays crisp on a large
    screen) and smoothly when reduced. A caption in the lower left corner
    gives the native resolution, e.g. "256 x 256 px".

    Signals
    -------
    None. The view only displays; drag and drop belongs to the main window.

    Setters
    -------
    set_image(arr)
        Show ``arr``, a uint8 array of shape (height, width, 3); ``None``
        clears the view.
    set_message(text)
        Text drawn centred while no image is shown ("Loading model...", an
        error). While an image is shown the text appears as a banner on top
        of it; ``""`` removes it.
    clear()
        Remove the image (the message stays).

    Getters
    -------
    image() -> numpy.ndarray or None
        The array shown, the very object passed to `set_image` when it was
        already C-contiguous.
    message() -> str
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._qimage: QtGui.QImage | None = None
        self._message = ""
        self._caption_visible = True
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding,
            QtWidgets.QSizePolicy.Policy.Expanding,
        )
        self.setMinimumSize(64, 64)

    # ------------------------------------------------------------ public API

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
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
            raise ValueError(f"expected a uint8 numpy array, got {type(arr).__name__}"
                             f" {getattr(arr, 'dtype', '')}".rstrip())
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"expected shape (height, width, 3), got {arr.shape}")
        arr = np.ascontiguousarray(arr)
        h, w = arr.shape[:2]
        # The QImage reads the array's memory; self._array keeps it alive for
        # as long as the image is shown.
        self._qimage = QtGui.QImage(
            arr.data, w, h, arr.strides[0], QtGui.QImage.Format.Format_RGB888
        )
        self._array = arr
        self.setToolTip(f"{w} x {h} px")
        self.update()

    def image(self) -> np.ndarray | None:
        """Return the array shown, or ``None``."""
        return self._array

    def clear(self) -> None:
        """Remove the image; the message, if any, is shown in its place."""
        self._qimage = None
        self._array = None
        self.setToolTip("")
        self.update()

    def set_message(self, text: str) -> None:
        """Set the centred placeholder text (``""`` for none)."""
        self._message = str(text or "")
        self.update()

    def message(self) -> str:
        """Return the placeholder text."""
        return self._message

    def set_caption_visible(self, visible: bool) -> None:
        """Show or hide the resolution caption."""
        self._caption_visible = bool(visible)
        self.update()

    def image_rect(self) -> QtCore.QRectF:
        """Return where the image is drawn, in widget coordinates (empty if none)."""
        if self._qimage is None:
            return QtCore.QRectF()
        iw, ih = self._qimage.width(), self._qimage.height()
        w, h = self.width(), self.height()
        scale = min(w / iw, h / ih)
        # Whole device pixels keep nearest-neighbour blocks even and the
        # image edges sharp.
        dpr = self.devicePixelRatioF()
        tw = max(1.0, round(iw * scale * dpr) / dpr)
        th = max(1.0, round(ih * scale * dpr) / dpr)
        x = round((w - tw) / 2 * dpr) / dpr
        y = round((h - th) / 2 * dpr) / dpr
        return QtCore.QRectF(x, y, tw, th)

    # ------------------------------------------------------------- Qt API

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(512, 512)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), _BACKGROUND)
        if self._qimage is None:
            if self._message:
                self._draw_placeholder(p)
            return
        target = self.image_rect()
        downscaling = target.width() * self.devicePixelRatioF() < self._qimage.width()
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, downscaling)
        p.drawImage(target, self._qimage)
        if self._caption_visible:
            self._draw_caption(p, target)
        if self._message:
            self._draw_banner(p, target)

    # ------------------------------------------------------------- private

    def _draw_placeholder(self, p: QtGui.QPainter) -> None:
        font = QtGui.QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        p.setFont(font)
        p.setPen(_MESSAGE_COLOR)
        margin = 24
        rect = self.rect().adjusted(margin, margin, -margin, -margin)
        p.drawText(
            rect,
            int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
            self._message,
        )

    def _draw_caption(self, p: QtGui.QPainter, target: QtCore.QRectF) -> None:
        iw, ih = self._qimage.width(), self._qimage.height()
        text = f"{iw} x {ih} px"
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        fm = QtGui.QFontMetricsF(font)
        pad_x, pad_y, inset = 6.0, 2.0, 8.0
        box = QtCore.QRectF(
            0, 0, fm.horizontalAdvance(text) + 2 * pad_x, fm.height() + 2 * pad_y
        )
        # Inside the image when it is large enough, else in the widget corner.
        anchor = target if target.height() > 3 * box.height() else QtCore.QRectF(self.rect())
        box.moveBottomLeft(anchor.bottomLeft() + QtCore.QPointF(inset, -inset))
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(_CAPTION_BG)
        p.drawRoundedRect(box, 4, 4)
        p.setPen(_CAPTION_FG)
        p.drawText(box, int(QtCore.Qt.AlignmentFlag.AlignCenter), text)

    def _draw_banner(self, p: QtGui.QPainter, target: QtCore.QRectF) -> None:
        fm = QtGui.QFontMetricsF(self.font())
        p.setFont(self.font())
        inset = 8.0
        width = min(target.width(), float(self.width())) - 2 * inset
        text_rect = fm.boundingRect(
            QtCore.QRectF(0, 0, max(10.0, width - 16), 1e4),
            int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap),
            self._message,
        )
        box = QtCore.QRectF(0, 0, text_rect.width() + 16, text_rect.height() + 8)
        box.moveCenter(QtCore.QPointF(target.center().x(), 0))
        box.moveTop(max(0.0, target.top()) + inset)
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
