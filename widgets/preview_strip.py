"""A row of thumbnails: the selected semantic at several strengths.

Signals
-------
strengthPicked(float)
    A thumbnail was clicked: set the row to that strength.
exportRequested(str)
    ``"png"`` or ``"gif"``: the user asked to export the strip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ._icons import themed_icon


class _Thumb(QtWidgets.QLabel):
    clicked = QtCore.Signal()

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


class PreviewStrip(QtWidgets.QWidget):
    strengthPicked = QtCore.Signal(float)
    exportRequested = QtCore.Signal(str)

    THUMB = 96

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._arrays: list[np.ndarray] = []  # keeps the QImage memory alive
        self._strengths: list[float] = []
        self._current: float | None = None
        self._title = QtWidgets.QLabel("Preview: select a row")
        self._title.setStyleSheet("font-weight: bold")
        self._title.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self._png = QtWidgets.QToolButton()
        self._png.setText("PNG")
        self._png.setToolTip("Export the strip as a PNG")
        self._gif = QtWidgets.QToolButton()
        self._gif.setText("GIF")
        self._gif.setToolTip("Export the strip as an animated GIF")
        for b, kind in ((self._png, "png"), (self._gif, "gif")):
            b.setIcon(themed_icon("fa5s.file-export", self))
            b.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.clicked.connect(lambda checked=False, k=kind: self.exportRequested.emit(k))
            b.setEnabled(False)
        head = QtWidgets.QHBoxLayout()
        head.addWidget(self._title, 1)
        head.addWidget(self._png)
        head.addWidget(self._gif)
        self._row = QtWidgets.QHBoxLayout()
        self._row.setSpacing(4)
        self._row.addStretch(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addLayout(head)
        lay.addLayout(self._row)
        self._thumbs: list[_Thumb] = []
        # The thumbnails follow the strip's width (see _rescale), not the other way round: an explicit
        # minimum keeps their fixed sizes from holding the strip (and the window) wide.
        self.setMinimumWidth(200)

    # ------------------------------------------------------------ API

    def set_title(self, text: str) -> None:
        self._title.setText(text)
        self._title.setToolTip(text)  # the strip may be narrower than its title

    def strengths(self) -> list[float]:
        return list(self._strengths)

    def images(self) -> list[np.ndarray]:
        return list(self._arrays)

    def clear(self) -> None:
        self.set_images([], [])

    def set_images(self, images: Sequence[np.ndarray], strengths: Sequence[float]) -> None:
        """Show uint8 HxWx3 thumbnails labelled with their strengths."""
        for t in self._thumbs:
            self._row.removeWidget(t)
            t.deleteLater()
        self._thumbs = []
        self._arrays = [np.ascontiguousarray(a, dtype=np.uint8) for a in images]
        self._strengths = [float(s) for s in strengths]
        for i, (arr, s) in enumerate(zip(self._arrays, self._strengths)):
            t = _Thumb()
            t.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            t.setToolTip(f"strength {s:+.2f}: click to use it")
            t.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
            t.setAccessibleName(f"strength {s:+.1f}")
            t.clicked.connect(lambda s=s: self.strengthPicked.emit(s))
            self._row.insertWidget(i, t)
            self._thumbs.append(t)
        self._rescale()
        has = bool(self._arrays)
        self._png.setEnabled(has)
        self._gif.setEnabled(has)
        self._mark()

    def set_current(self, strength: float | None) -> None:
        """Outline the thumbnail closest to the row's strength."""
        self._current = strength
        self._mark()

    def thumb(self, index: int) -> QtWidgets.QLabel:
        return self._thumbs[index]

    def thumb_size(self) -> int:
        """The side of a thumbnail: THUMB, or less so that all of them fit the strip's width."""
        n = max(len(self._thumbs), 1)
        margins = self.layout().contentsMargins()
        room = self.width() - margins.left() - margins.right() - self._row.spacing() * (n - 1) - 4 * n
        return max(24, min(self.THUMB, room // n))

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        side = self.thumb_size()
        for t, arr in zip(self._thumbs, self._arrays):
            h, w = arr.shape[:2]
            img = QtGui.QImage(arr.data, w, h, arr.strides[0], QtGui.QImage.Format.Format_RGB888)
            # Small images are enlarged pixel for pixel (a blur would hide what the strength changed).
            mode = (QtCore.Qt.TransformationMode.FastTransformation if w < side
                    else QtCore.Qt.TransformationMode.SmoothTransformation)
            t.setPixmap(QtGui.QPixmap.fromImage(img).scaled(side, side, QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                                            mode))
            t.setFixedSize(side + 4, side + 4)  # + the 2 px outline of the current strength

    def _mark(self) -> None:
        best = None
        if self._current is not None and self._strengths:
            best = int(np.argmin([abs(s - self._current) for s in self._strengths]))
        for i, t in enumerate(self._thumbs):
            t.setStyleSheet("border: 2px solid palette(highlight);" if i == best else "border: 2px solid transparent;")
