"""Painting of the scene view: the image (or before and after), the divider and the labels.

Plain functions of a painter and what to draw: ``viewport`` is the
viewport's rectangle, ``target`` where the image is drawn in it. Also
`to_qimage`, which checks an array and wraps it as the QImage drawn.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

BACKGROUND = QtGui.QColor("#1b1d21")
_MESSAGE_COLOR = QtGui.QColor("#b9bec7")
_CAPTION_BG = QtGui.QColor(0, 0, 0, 150)
_CAPTION_FG = QtGui.QColor("#e6e8eb")
_DIVIDER = QtGui.QColor("#f2f3f5")
_WRAP_CENTRED = int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap)


def to_qimage(arr) -> tuple[np.ndarray, QtGui.QImage]:
    """Check ``arr`` and wrap it in a QImage; return both (the array keeps the memory alive)."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 numpy array, got {type(arr).__name__}"
                         f" {getattr(arr, 'dtype', '')}".rstrip())
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"expected shape (height, width, 3), got {arr.shape}")
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    return arr, QtGui.QImage(arr.data, w, h, arr.strides[0], QtGui.QImage.Format.Format_RGB888)


def draw_scene(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont, target: QtCore.QRectF,
               image: QtGui.QImage, before: QtGui.QImage | None, *, smooth: bool, dpr: float,
               holding: bool, split_x: float | None) -> None:
    """Draw ``image``; or ``before`` in its place (``holding``); or ``before`` left of ``split_x``.

    Reduced, the image is sampled smoothly; enlarged, smoothly only if
    ``smooth``. Without a before image yet, the image stands in for it.
    """
    scale = target.width() * dpr / image.width()  # device pixels per image pixel
    smooth = scale < 0.999 or (smooth and scale > 1.001)
    p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, smooth)
    before_tag = "Before" if before is not None else "Before: rendering…"
    if holding:
        p.drawImage(target, before if before is not None else image)
        draw_tag(p, viewport, font, target, before_tag, left=True)
    elif split_x is not None:
        p.drawImage(target, image)
        if before is not None:
            p.save()
            p.setClipRect(QtCore.QRectF(target.left(), target.top(), split_x - target.left(), target.height()))
            p.drawImage(target, before)
            p.restore()
        draw_divider(p, viewport, target, split_x)
        draw_tag(p, viewport, font, target, before_tag, left=True)
        draw_tag(p, viewport, font, target, "After", left=False)
    else:
        p.drawImage(target, image)


def draw_placeholder(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont, message: str) -> None:
    """The message, centred in the empty view."""
    font = QtGui.QFont(font)
    font.setPointSizeF(font.pointSizeF() * 1.2)
    p.setFont(font)
    p.setPen(_MESSAGE_COLOR)
    margin = 24
    p.drawText(viewport.adjusted(margin, margin, -margin, -margin), _WRAP_CENTRED, message)


def caption_text(width: int, height: int, zoom: float, fit: bool) -> str:
    """"256 x 256 px", with the zoom unless fitted (or fitted at exactly 1:1)."""
    text = f"{width} x {height} px"
    if not fit or abs(zoom - 1) < 1e-6:
        text += f" · {zoom * 100:.0f}%"
    return text


def draw_caption(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont,
                 target: QtCore.QRectF, text: str) -> None:
    """A label in the lower left corner of the image in view."""
    box, font = _pill(font, text)
    box.moveBottomLeft(_visible(viewport, target, box).bottomLeft() + QtCore.QPointF(8.0, -8.0))
    _paint_pill(p, box, font, text)


def draw_corner(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont,
                target: QtCore.QRectF, text: str) -> None:
    """A label in the lower right corner of the image in view."""
    box, font = _pill(font, text)
    box.moveBottomRight(_visible(viewport, target, box).bottomRight() + QtCore.QPointF(-8.0, -8.0))
    _paint_pill(p, box, font, text)


def draw_tag(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont,
             target: QtCore.QRectF, text: str, left: bool) -> None:
    """A bold label in the upper left (or right) corner of the image in view."""
    box, font = _pill(font, text, bold=True)
    area = _visible(viewport, target, box)
    if left:
        box.moveTopLeft(area.topLeft() + QtCore.QPointF(8.0, 8.0))
    else:
        box.moveTopRight(area.topRight() + QtCore.QPointF(-8.0, 8.0))
    _paint_pill(p, box, font, text)


def draw_divider(p: QtGui.QPainter, viewport: QtCore.QRect, target: QtCore.QRectF, x: float) -> None:
    """The split divider at ``x``, with a grip in the middle of the part in view."""
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 120), 3.0))
    p.drawLine(QtCore.QPointF(x, target.top()), QtCore.QPointF(x, target.bottom()))
    p.setPen(QtGui.QPen(_DIVIDER, 1.0))
    p.drawLine(QtCore.QPointF(x, target.top()), QtCore.QPointF(x, target.bottom()))
    # A round grip in the middle of the visible part, with arrows either way.
    shown = target.intersected(QtCore.QRectF(viewport))
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


def draw_banner(p: QtGui.QPainter, viewport: QtCore.QRect, font: QtGui.QFont,
                target: QtCore.QRectF, message: str) -> None:
    """The message in a dark box at the top of the image in view."""
    fm = QtGui.QFontMetricsF(font)
    p.setFont(font)
    inset = 8.0
    shown = target.intersected(QtCore.QRectF(viewport))
    width = shown.width() - 2 * inset
    text_rect = fm.boundingRect(QtCore.QRectF(0, 0, max(10.0, width - 16), 1e4), _WRAP_CENTRED, message)
    box = QtCore.QRectF(0, 0, text_rect.width() + 16, text_rect.height() + 8)
    box.moveCenter(QtCore.QPointF(shown.center().x(), 0))
    box.moveTop(max(0.0, shown.top()) + inset)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    p.setBrush(QtGui.QColor(0, 0, 0, 170))
    p.drawRoundedRect(box, 5, 5)
    p.setPen(_CAPTION_FG)
    p.drawText(box, _WRAP_CENTRED, message)


def _pill(font: QtGui.QFont, text: str, bold: bool = False) -> tuple[QtCore.QRectF, QtGui.QFont]:
    font = QtGui.QFont(font)
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
    font.setBold(bold)
    fm = QtGui.QFontMetricsF(font)
    return QtCore.QRectF(0, 0, fm.horizontalAdvance(text) + 12.0, fm.height() + 4.0), font


def _paint_pill(p: QtGui.QPainter, box: QtCore.QRectF, font: QtGui.QFont, text: str) -> None:
    p.setFont(font)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
    p.setPen(QtCore.Qt.PenStyle.NoPen)
    p.setBrush(_CAPTION_BG)
    p.drawRoundedRect(box, 4, 4)
    p.setPen(_CAPTION_FG)
    p.drawText(box, int(QtCore.Qt.AlignmentFlag.AlignCenter), text)


def _visible(viewport: QtCore.QRect, target: QtCore.QRectF, box: QtCore.QRectF) -> QtCore.QRectF:
    """The part of the image in view, or the viewport when the image is too small for ``box``."""
    shown = target.intersected(QtCore.QRectF(viewport))
    return shown if shown.height() > 3 * box.height() else QtCore.QRectF(viewport)
