"""A painted grid of boundaries by layers: which layers each edit acts on."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .levels import level_color, level_name, normalize_level

__all__ = ["LayerGrid"]

_CELL_PAD = 2  # blank pixels around each cell
_MIN_CELL_WIDTH = 12


class LayerGrid(QtWidgets.QWidget):
    """A grid with one row per boundary and one column per generator layer.

    Each row fills the cells of the layers its edit acts on, in the colour
    of the row's semantic level, and outlines that range. With a heat map
    (`set_heat`) the cells are shaded by value instead, normalised per row,
    and the range is outlined on top. Clicking a cell sets the row's range
    to that one layer; dragging along the row extends it.

    Above the cells a header gives each layer's index and, when known
    (`set_layer_resolutions`), the resolution it works at; runs of layers
    at one resolution share a label. A grid with no rows is just that
    header, which lets a scroll area keep it in view.

    Signals
    -------
    rangeEdited(int, object)
        ``(row, (first, last))``, emitted during a click or drag each time
        the range under the mouse changes. The grid shows the new range at
        once.

    Setters (none of them emits a signal)
    -------------------------------------
    set_rows(list of (name, level, (first, last)))
    set_row_range(row, (first, last))
    set_num_layers(n)
    set_layer_resolutions(list of int or None)
    set_heat(rows x layers array-like of float, or None)
    set_row_height(px)
        Make rows as tall as the widgets beside them (e.g. `SemanticRow`).
    set_cell_width(px)
    set_header_visible(bool)
    set_selected_row(int or None)
    set_striped(bool)

    Getters
    -------
    rows() -> list of (name, level, (first, last)); row_count();
    num_layers(); row_range(row); selected_row(); heat();
    row_height(); header_height(); cell_at(QPoint) -> (row, layer) or None.
    """

    rangeEdited = QtCore.Signal(int, object)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        num_layers: int = 1,  # columns
        row_height: int = 24,  # pixels per row
        cell_width: int = 22,  # pixels per column
        header_visible: bool = True,  # draw the layer / resolution header
    ) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._levels: list[str] = []
        self._ranges: list[tuple[int, int]] = []
        self._num_layers = max(1, int(num_layers))
        self._resolutions: list[int] | None = None
        self._heat: np.ndarray | None = None
        self._row_height = max(8, int(row_height))
        self._cell_width = max(_MIN_CELL_WIDTH, int(cell_width))
        self._header_visible = bool(header_visible)
        self._selected: int | None = None
        self._striped = True
        self._hover: tuple[int, int] | None = None
        self._drag_row: int | None = None
        self._drag_anchor = 0

        self.setMouseTracking(True)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Fixed
        )
        self._relayout()

    # --------------------------------------------------------------- getters

    def rows(self) -> list[tuple[str, str, tuple[int, int]]]:
        """Return the rows as ``(name, level, (first, last))``."""
        return list(zip(self._names, self._levels, self._ranges))

    def row_count(self) -> int:
        return len(self._ranges)

    def num_layers(self) -> int:
        return self._num_layers

    def row_range(self, row: int) -> tuple[int, int]:
        """Return the inclusive range of ``row``."""
        return self._ranges[row]

    def selected_row(self) -> int | None:
        return self._selected

    def heat(self) -> np.ndarray | None:
        """Return the heat map (rows x layers float array) or ``None``."""
        return None if self._heat is None else self._heat.copy()

    def row_height(self) -> int:
        return self._row_height

    def cell_width(self) -> int:
        return self._cell_width

    def header_height(self) -> int:
        """Return the pixels above the first row (0 when the header is hidden)."""
        if not self._header_visible:
            return 0
        lines = 2 if self._resolutions else 1
        return lines * (self._small_metrics().height() + 2) + 6

    def cell_rect(self, row: int, layer: int) -> QtCore.QRect:
        """Return the rectangle of a cell, padding included."""
        return QtCore.QRect(
            layer * self._cell_width,
            self.header_height() + row * self._row_height,
            self._cell_width,
            self._row_height,
        )

    def cell_at(self, pos: QtCore.QPoint) -> tuple[int, int] | None:
        """Return ``(row, layer)`` under ``pos``, or ``None``."""
        x, y = pos.x(), pos.y() - self.header_height()
        if x < 0 or y < 0:
            return None
        row, layer = y // self._row_height, x // self._cell_width
        if row >= len(self._ranges) or layer >= self._num_layers:
            return None
        return int(row), int(layer)

    # --------------------------------------------------------------- setters

    def set_rows(self, rows: Sequence[tuple[str, str, tuple[int, int]]]) -> None:
        """Replace the rows; each is ``(name, level, (first, last))``.

        A heat map whose row count no longer matches is dropped.
        """
        self._names = [str(r[0]) for r in rows]
        self._levels = [normalize_level(r[1]) for r in rows]
        self._ranges = [self._clamp(r[2]) for r in rows]
        if self._heat is not None and self._heat.shape[0] != len(self._ranges):
            self._heat = None
        if self._selected is not None and self._selected >= len(self._ranges):
            self._selected = None
        self._hover = None
        self._drag_row = None
        self._relayout()

    def set_row_range(self, row: int, layers: tuple[int, int]) -> None:
        """Set the inclusive range of ``row``."""
        self._ranges[row] = self._clamp(layers)
        self.update()

    def set_num_layers(self, n: int) -> None:
        """Show ``n`` columns; ranges are clamped to fit."""
        n = int(n)
        if n < 1:
            raise ValueError(f"a generator has at least one layer, got {n}")
        self._num_layers = n
        self._ranges = [self._clamp(r) for r in self._ranges]
        if self._heat is not None and self._heat.shape[1] != n:
            self._heat = None
        if self._resolutions is not None and len(self._resolutions) != n:
            self._resolutions = None
        self._relayout()

    def set_layer_resolutions(self, resolutions: Sequence[int] | None) -> None:
        """Give the resolution each layer works at (e.g. 4, 4, 8, 8, ...).

        Raises
        ------
        ValueError
            If the list does not have one entry per layer.
        """
        if resolutions is None:
            self._resolutions = None
        else:
            values = [int(r) for r in resolutions]
            if len(values) != self._num_layers:
                raise ValueError(
                    f"expected {self._num_layers} resolutions, got {len(values)}"
                )
            self._resolutions = values
        self._relayout()

    def set_heat(self, heat: Sequence[Sequence[float]] | np.ndarray | None) -> None:
        """Shade cells by ``heat[row][layer]``, normalised per row; ``None`` to stop.

        Raises
        ------
        ValueError
            If the shape is not (rows, layers).
        """
        if heat is None:
            self._heat = None
        else:
            arr = np.array(heat, dtype=np.float64)
            expected = (len(self._ranges), self._num_layers)
            if arr.shape != expected:
                raise ValueError(f"heat must have shape {expected}, got {arr.shape}")
            self._heat = arr
        self.update()

    def set_row_height(self, px: int) -> None:
        """Make each row ``px`` pixels tall."""
        self._row_height = max(8, int(px))
        self._relayout()

    def set_cell_width(self, px: int) -> None:
        """Make each column ``px`` pixels wide."""
        self._cell_width = max(_MIN_CELL_WIDTH, int(px))
        self._relayout()

    def set_header_visible(self, visible: bool) -> None:
        """Draw the layer / resolution header above the rows, or not."""
        self._header_visible = bool(visible)
        self._relayout()

    def set_selected_row(self, row: int | None) -> None:
        """Highlight ``row`` (``None`` for none)."""
        self._selected = None if row is None else int(row)
        self.update()

    def set_striped(self, striped: bool) -> None:
        """Paint odd rows on the alternate background, as `SemanticRow` does."""
        self._striped = bool(striped)
        self.update()

    # ------------------------------------------------------------- Qt API

    def sizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(
            self._num_layers * self._cell_width,
            self.header_height() + len(self._ranges) * self._row_height,
        )

    def minimumSizeHint(self) -> QtCore.QSize:
        return self.sizeHint()

    def event(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ToolTip:
            self._show_tooltip(event)
            return True
        return super().event(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        if event.button() != QtCore.Qt.MouseButton.LeftButton or cell is None:
            super().mousePressEvent(event)
            return
        row, layer = cell
        self._drag_row, self._drag_anchor = row, layer
        self._edit(row, (layer, layer))
        event.accept()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:
        pos = event.position().toPoint()
        if self._drag_row is not None:
            # Only the column matters while dragging: the row stays the one
            # pressed, even if the pointer wanders up or down.
            layer = min(max(pos.x() // self._cell_width, 0), self._num_layers - 1)
            a = self._drag_anchor
            self._edit(self._drag_row, (min(a, layer), max(a, layer)))
            event.accept()
            return
        cell = self.cell_at(pos)
        if cell != self._hover:
            self._hover = cell
            self.setCursor(
                QtCore.Qt.CursorShape.PointingHandCursor
                if cell is not None
                else QtCore.Qt.CursorShape.ArrowCursor
            )
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:
        if self._drag_row is not None and event.button() == QtCore.Qt.MouseButton.LeftButton:
            self._drag_row = None
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: QtCore.QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        if self._header_visible:
            self._paint_header(p)
        for row in range(len(self._ranges)):
            self._paint_row(p, row)

    # ------------------------------------------------------------- private

    def _clamp(self, layers: tuple[int, int]) -> tuple[int, int]:
        first, last = (int(v) for v in layers)
        if first > last:
            first, last = last, first
        top = self._num_layers - 1
        return (min(max(first, 0), top), min(max(last, 0), top))

    def _relayout(self) -> None:
        self.setFixedSize(self.sizeHint())
        self.updateGeometry()
        self.update()

    def _edit(self, row: int, layers: tuple[int, int]) -> None:
        if self._ranges[row] != layers:
            self._ranges[row] = layers
            self.update()
            self.rangeEdited.emit(row, layers)

    def _small_font(self) -> QtGui.QFont:
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.82))
        return font

    def _small_metrics(self) -> QtGui.QFontMetrics:
        return QtGui.QFontMetrics(self._small_font())

    def _paint_header(self, p: QtGui.QPainter) -> None:
        pal = self.palette()
        font = self._small_font()
        fm = QtGui.QFontMetrics(font)
        line = fm.height() + 2
        p.setFont(font)
        muted = pal.color(QtGui.QPalette.ColorRole.PlaceholderText)
        text = pal.color(QtGui.QPalette.ColorRole.WindowText)
        center = QtCore.Qt.AlignmentFlag.AlignCenter
        top = 2
        if self._resolutions:
            # Runs of layers at one resolution share one label and a bracket.
            start = 0
            for i in range(1, self._num_layers + 1):
                if i < self._num_layers and self._resolutions[i] == self._resolutions[start]:
                    continue
                span = QtCore.QRect(
                    start * self._cell_width, top, (i - start) * self._cell_width, line
                )
                p.setPen(muted)
                label = _short_resolution(self._resolutions[start])
                if fm.horizontalAdvance(label) > span.width() - 2:
                    label = ""  # the tooltip still tells
                p.drawText(span, center, label)
                bracket = span.adjusted(_CELL_PAD + 1, 0, -_CELL_PAD - 1, 0)
                pen = QtGui.QPen(muted)
                pen.setWidthF(1.0)
                p.setPen(pen)
                y = bracket.bottom() + 0.5
                p.drawLine(QtCore.QPointF(bracket.left(), y), QtCore.QPointF(bracket.right(), y))
                start = i
            top += line + 2
        index_font = QtGui.QFont(font)
        p.setFont(index_font)
        for layer in range(self._num_layers):
            rect = QtCore.QRect(layer * self._cell_width, top, self._cell_width, line)
            hovered = self._hover is not None and self._hover[1] == layer
            p.setPen(text if hovered else muted)
            p.drawText(rect, center, str(layer))

    def _paint_row(self, p: QtGui.QPainter, row: int) -> None:
        pal = self.palette()
        band = QtCore.QRect(
            0,
            self.header_height() + row * self._row_height,
            self._num_layers * self._cell_width,
            self._row_height,
        )
        if row == self._selected:
            color = QtGui.QColor(pal.color(QtGui.QPalette.ColorRole.Highlight))
            color.setAlpha(60)
            p.fillRect(band, color)
        elif self._striped and row % 2 == 1:
            p.fillRect(band, pal.color(QtGui.QPalette.ColorRole.AlternateBase))

        accent = level_color(self._levels[row])
        # A faint step from the background toward the text colour reads the
        # same on light and dark palettes.
        empty = _mix(
            pal.color(QtGui.QPalette.ColorRole.Window),
            pal.color(QtGui.QPalette.ColorRole.WindowText),
            0.12,
        )
        first, last = self._ranges[row]
        heat = None if self._heat is None else _normalise(self._heat[row])
        cell_h = min(self._row_height - 2 * _CELL_PAD, max(10, self._cell_width - 2 * _CELL_PAD))
        cell_top = band.top() + (self._row_height - cell_h) / 2

        p.setPen(QtCore.Qt.PenStyle.NoPen)
        for layer in range(self._num_layers):
            inside = first <= layer <= last
            if heat is not None:
                fill = _mix(empty, accent, 0.1 + 0.9 * heat[layer])
            elif inside:
                fill = accent
            else:
                fill = empty
            cell = QtCore.QRectF(
                layer * self._cell_width + _CELL_PAD,
                cell_top,
                self._cell_width - 2 * _CELL_PAD,
                cell_h,
            )
            p.setBrush(fill)
            p.drawRoundedRect(cell, 2.5, 2.5)
            if self._hover == (row, layer) and self._drag_row is None:
                hover_pen = QtGui.QPen(pal.color(QtGui.QPalette.ColorRole.WindowText))
                hover_pen.setWidthF(1.0)
                p.setPen(hover_pen)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(cell.adjusted(0.5, 0.5, -0.5, -0.5), 2.5, 2.5)
                p.setPen(QtCore.Qt.PenStyle.NoPen)

        # The range outline: in the level colour on plain cells, in the text
        # colour over a heat map where the cells already carry the hue.
        outline = QtCore.QRectF(
            first * self._cell_width + 0.5,
            cell_top - _CELL_PAD + 0.5,
            (last - first + 1) * self._cell_width - 1,
            cell_h + 2 * _CELL_PAD - 1,
        )
        if heat is not None:
            pen = QtGui.QPen(pal.color(QtGui.QPalette.ColorRole.WindowText))
        else:
            pen = QtGui.QPen(accent.darker(135))
        pen.setWidthF(1.5)
        p.setPen(pen)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(outline, 4, 4)

    def tooltip_at(self, pos: QtCore.QPoint) -> str:
        """The tooltip shown at ``pos`` (the layer, and the row's range there); "" outside."""
        layer = pos.x() // self._cell_width
        if not 0 <= layer < self._num_layers:
            return ""
        lines = [f"Layer {layer}"]
        if self._resolutions:
            r = self._resolutions[layer]
            lines[0] += f" ({r} x {r})"
        cell = self.cell_at(pos)
        if cell is not None:
            row = cell[0]
            first, last = self._ranges[row]
            lines.append(
                f"{self._names[row]} ({level_name(self._levels[row])}):"
                f" layers {first}\u2013{last}"
            )
            if self._heat is not None:
                lines.append(f"value {self._heat[row, layer]:.3g}")
            lines.append("Click or drag along the row to set its layers")
        return "\n".join(lines)

    def _show_tooltip(self, event: QtGui.QHelpEvent) -> None:
        text = self.tooltip_at(event.pos())
        if not text:
            QtWidgets.QToolTip.hideText()
            event.ignore()
            return
        QtWidgets.QToolTip.showText(event.globalPos(), text, self)


def _normalise(values: np.ndarray) -> np.ndarray:
    """Scale a row to 0..1; a flat row maps to 0.5, NaN and inf to 0."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return np.full(v.shape, 0.5)
    lo, hi = v[finite].min(), v[finite].max()
    if hi - lo <= 1e-12:
        return np.where(finite, 0.5, 0.0)  # a broken cell stays cold in a flat row too
    with np.errstate(invalid="ignore"):
        out = (v - lo) / (hi - lo)
    return np.where(finite, out, 0.0)


def _mix(a: QtGui.QColor, b: QtGui.QColor, t: float) -> QtGui.QColor:
    t = min(max(float(t), 0.0), 1.0)
    return QtGui.QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        1.0,
    )


def _short_resolution(r: int) -> str:
    return f"{r // 1024}k" if r >= 1024 and r % 1024 == 0 else str(r)
