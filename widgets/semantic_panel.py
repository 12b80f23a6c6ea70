"""The layer-by-semantic panel: one SemanticRow per boundary beside a LayerGrid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from PySide6 import QtCore, QtGui, QtWidgets
from superqt import QLabeledDoubleSlider, QLabeledRangeSlider

from .layer_grid import LayerGrid
from .semantic_row import ROW_HEIGHT, STRENGTH_MAX, SemanticRow, SemanticRowHeader

__all__ = ["SemanticPanel", "EMPTY_MESSAGE", "KEY_STEP", "KEY_STEP_LARGE"]

KEY_STEP = 0.1  # strength change of Left / Right
KEY_STEP_LARGE = 1.0  # ... with Shift held
KEYS_HINT = (
    "Keys: \u2190/\u2192 strength \u00b10.1 (Shift: \u00b11) \u00b7 \u2191/\u2193 previous/next row"
)

EMPTY_MESSAGE = "No boundaries loaded: open a boundary file or folder (Ctrl+O)"
_GRID_GAP = 10  # pixels between the rows and the grid
_RIGHT_MARGIN = 6


class _HeaderedScrollArea(QtWidgets.QScrollArea):
    """A vertical scroll area with a header that stays in view above it.

    The header lives in the viewport margin, as a table's header does, so
    it always has the viewport's width: the columns below keep lining up
    whether or not the scroll bar is shown.
    """

    def __init__(self, header: QtWidgets.QWidget, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._header = header
        header.setParent(self)
        header.installEventFilter(self)
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.update_header()

    def update_header(self) -> None:
        self.setViewportMargins(0, self._header.sizeHint().height(), 0, 0)
        self._place_header()

    def minimumSizeHint(self) -> QtCore.QSize:
        # Never narrower than the rows and grid need: the header does not
        # scroll sideways, so a horizontal scroll bar would misalign it.
        hint = super().minimumSizeHint()
        body = self.widget()
        if body is None:
            return hint
        scrollbar = self.style().pixelMetric(
            QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent, None, self
        )
        width = max(body.minimumSizeHint().width(), self._header.minimumSizeHint().width())
        return QtCore.QSize(width + scrollbar + 2 * self.frameWidth(), hint.height())

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        # The header's height changes with its contents (e.g. a second line
        # once layer resolutions are known): follow it.
        if watched is self._header and event.type() == QtCore.QEvent.Type.LayoutRequest:
            QtCore.QTimer.singleShot(0, self.update_header)
        return False

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_header()

    def viewportEvent(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.Resize:
            self._place_header()
        return super().viewportEvent(event)

    def _place_header(self) -> None:
        vp = self.viewport().geometry()
        h = self.viewportMargins().top()
        self._header.setGeometry(vp.x(), vp.y() - h, vp.width(), h)


class _HeaderBar(QtWidgets.QWidget):
    """The header's background, with a rule under it to part it from the rows."""

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QtGui.QPalette.ColorRole.Window))
        p.fillRect(
            QtCore.QRect(0, self.height() - 1, self.width(), 1),
            pal.color(QtGui.QPalette.ColorRole.Mid),
        )


class SemanticPanel(QtWidgets.QWidget):
    """Edit every loaded boundary: a row of controls each, and a layer grid.

    On the left a scrollable list of `SemanticRow` (name, level chip,
    strength, layer range, reset); on the right, lined up row by row, a
    `LayerGrid` showing the layers each edit acts on. The header ("Semantic
    | Strength | Layers" and "Layers 0..L-1" with the layer indices and
    resolutions) stays in view while the rows scroll. Editing the range in
    the grid moves the row's range slider and the other way round.

    Signals
    -------
    rowChanged(int, object)
        ``(index, {"strength": float, "layers": (first, last)})``: emitted
        while a strength or range slider is dragged, when a value is typed,
        on each grid edit and after a reset.
    rowReset(int)
        The row's reset button was pressed (before its ``rowChanged``, so that
        a history takes the reset as a step of its own).
    rowSelected(int)
        The user clicked a row, or a row's cells in the grid, that was not
        the selected one.

    Setters (none of them emits a signal)
    -------------------------------------
    set_rows(list of dict)
        Rebuild the rows. Each dict has ``name``, ``level``, ``strength``,
        ``layers``, ``default_layers`` and ``provenance``; all but ``name``
        may be left out (level "unknown", strength 0, layers all, default
        layers = layers, no provenance).
    set_row_values(index, strength, layers)
    set_num_layers(n)
    set_layer_resolutions(list of int or None)
    set_heat(rows x layers array-like or None)
        See `LayerGrid.set_heat`.
    set_selected_row(int or None)

    Keyboard
    --------
    With focus on the panel or on a row's strength slider, Up / Down select
    the previous / next row (``rowSelected``) and Left / Right change that
    row's strength by 0.1, or 1.0 with Shift (``rowChanged``). A focused
    text field keeps its keys, and a focused layer-range slider keeps
    Left / Right for its range. Clicking a row gives the panel focus.

    Mouse wheel
    -----------
    Over a slider that does not have focus the wheel scrolls the panel; it
    changes the slider only once the slider has focus (click or Tab).

    Getters
    -------
    values() -> list of ``{"name", "strength", "layers"}`` dicts, in row order;
    selected_row() -> int or None; row_count(); num_layers();
    row(index) -> SemanticRow; layer_grid() -> LayerGrid.
    """

    rowChanged = QtCore.Signal(int, object)
    rowReset = QtCore.Signal(int)
    rowSelected = QtCore.Signal(int)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        num_layers: int = 14,  # layers of the generator (14 for a 256 px StyleGAN2)
    ) -> None:
        super().__init__(parent)
        self._num_layers = max(1, int(num_layers))
        self._rows: list[SemanticRow] = []
        self._selected: int | None = None

        # Empty state.
        self._empty = QtWidgets.QLabel(EMPTY_MESSAGE)
        self._empty.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
        self._empty.setMargin(24)

        # Header: column titles over the rows, layer indices over the grid.
        self._row_header = SemanticRowHeader()
        self._caption = QtWidgets.QLabel()
        self._caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self._caption.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
        font = self._caption.font()
        font.setBold(True)
        self._caption.setFont(font)
        self._grid_header = LayerGrid(num_layers=self._num_layers, header_visible=True)
        self._grid_header.setToolTip("")
        grid_side = QtWidgets.QVBoxLayout()
        grid_side.setContentsMargins(0, 4, 0, 0)
        grid_side.setSpacing(0)
        grid_side.addWidget(self._caption)
        grid_side.addWidget(self._grid_header)
        header = _HeaderBar()
        header_layout = QtWidgets.QHBoxLayout(header)
        header_layout.setContentsMargins(0, 0, _RIGHT_MARGIN, 3)
        header_layout.setSpacing(_GRID_GAP)
        header_layout.addWidget(self._row_header, 1)
        header_layout.addLayout(grid_side)
        self._header = header

        # Body: rows and grid side by side, scrolled together.
        self._grid = LayerGrid(
            num_layers=self._num_layers, row_height=ROW_HEIGHT, header_visible=False
        )
        self._rows_layout = QtWidgets.QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(0)
        body = QtWidgets.QWidget()
        body_layout = QtWidgets.QHBoxLayout(body)
        body_layout.setContentsMargins(0, 0, _RIGHT_MARGIN, 0)
        body_layout.setSpacing(_GRID_GAP)
        rows_column = QtWidgets.QVBoxLayout()
        rows_column.setContentsMargins(0, 0, 0, 0)
        rows_column.addLayout(self._rows_layout)
        rows_column.addStretch(1)
        grid_column = QtWidgets.QVBoxLayout()
        grid_column.setContentsMargins(0, 0, 0, 0)
        grid_column.addWidget(self._grid)
        grid_column.addStretch(1)
        body_layout.addLayout(rows_column, 1)
        body_layout.addLayout(grid_column)
        self._body = body

        self._scroll = _HeaderedScrollArea(header)
        self._scroll.setWidget(body)
        for bar in (self._scroll.verticalScrollBar(), self._scroll.horizontalScrollBar()):
            bar.setToolTip("Scroll the rows (the wheel scrolls too, except over a focused slider)")

        self._stack = QtWidgets.QStackedWidget()
        self._stack.addWidget(self._empty)
        self._stack.addWidget(self._scroll)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

        # The panel, not the scroll area, takes focus: the scroll area would spend Up / Down on
        # scrolling, and here they move between rows.
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._scroll.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)

        self._grid.rangeEdited.connect(self._on_grid_edited)
        self._update_caption()
        self._update_state()

    # --------------------------------------------------------------- getters

    def values(self) -> list[dict]:
        """Return ``{"name", "strength", "layers"}`` for each row, in order."""
        return [
            {"name": row.name, "strength": row.strength, "layers": row.layers}
            for row in self._rows
        ]

    def selected_row(self) -> int | None:
        """Return the index of the selected row, or ``None``."""
        return self._selected

    def row_count(self) -> int:
        return len(self._rows)

    def num_layers(self) -> int:
        return self._num_layers

    def row(self, index: int) -> SemanticRow:
        """Return the row widget at ``index``."""
        return self._rows[index]

    def layer_grid(self) -> LayerGrid:
        """Return the grid beside the rows."""
        return self._grid

    # --------------------------------------------------------------- setters

    def set_rows(self, rows: Sequence[Mapping]) -> None:
        """Replace all rows (see the class docstring for the dict keys)."""
        for old in self._rows:
            old.hide()
            self._rows_layout.removeWidget(old)
            old.setParent(None)
            old.deleteLater()
        self._rows = []
        self._selected = None
        for index, spec in enumerate(rows):
            layers = spec.get("layers")
            row = SemanticRow(
                spec["name"],
                spec.get("level", "unknown"),
                strength=float(spec.get("strength", 0.0) or 0.0),
                layers=tuple(layers) if layers is not None else None,
                default_layers=(
                    tuple(spec["default_layers"])
                    if spec.get("default_layers") is not None
                    else None
                ),
                num_layers=self._num_layers,
                provenance=spec.get("provenance", "") or "",
            )
            row.set_striped(index % 2 == 1)
            row.changed.connect(partial(self._on_row_changed, index))
            row.resetRequested.connect(partial(self.rowReset.emit, index))
            row.selected.connect(partial(self._on_row_selected, index))
            self._rows_layout.addWidget(row)
            self._rows.append(row)
            self._watch_row(row)
        self._grid.set_rows([(r.name, r.level, r.layers) for r in self._rows])
        self._grid.set_selected_row(None)
        self._grid.set_row_height(self._rows[0].height() if self._rows else ROW_HEIGHT)
        self._update_state()

    def set_row_values(self, index: int, strength: float, layers: tuple[int, int]) -> None:
        """Show new values in row ``index`` without emitting signals."""
        row = self._rows[index]
        row.set_strength(strength)
        row.set_layers(layers)
        self._grid.set_row_range(index, row.layers)

    def set_num_layers(self, n: int) -> None:
        """Span ``n`` generator layers; ranges are clamped to fit."""
        n = int(n)
        if n < 1:
            raise ValueError(f"a generator has at least one layer, got {n}")
        self._num_layers = n
        for row in self._rows:
            row.set_num_layers(n)
        for grid in (self._grid, self._grid_header):
            grid.set_num_layers(n)
        for index, row in enumerate(self._rows):
            self._grid.set_row_range(index, row.layers)
        self._update_caption()
        self._update_state()

    def set_layer_resolutions(self, resolutions: Sequence[int] | None) -> None:
        """Give the resolution of each layer (shown in the grid header)."""
        for grid in (self._grid, self._grid_header):
            grid.set_layer_resolutions(resolutions)
        self._update_state()

    def set_heat(self, heat) -> None:
        """Shade the grid by a rows x layers heat map (``None`` to stop)."""
        self._grid.set_heat(heat)

    def set_selected_row(self, index: int | None) -> None:
        """Select row ``index`` (``None`` for none) without emitting signals."""
        if index is not None and not 0 <= index < len(self._rows):
            raise IndexError(f"no row {index}; there are {len(self._rows)}")
        self._selected = index
        for i, row in enumerate(self._rows):
            row.set_selected(i == index)
        self._grid.set_selected_row(index)

    def step_strength(self, index: int, delta: float) -> None:
        """Change row ``index``'s strength by ``delta`` as the keys do (emits ``rowChanged``)."""
        row = self._rows[index]
        old = row.strength
        new = min(max(round(old + float(delta), 2), -STRENGTH_MAX), STRENGTH_MAX)
        if new != old:
            row.set_strength(new)
            self.rowChanged.emit(index, row.values())

    # ------------------------------------------------------------- Qt API

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        # Keys a text field leaves unused (a line edit's Up / Down) travel up to here: the
        # field is being typed in, so they are not taken as row keys.
        typing = isinstance(QtWidgets.QApplication.focusWidget(), (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox))
        if self._rows and not typing and self._handle_key(event, self._selected):
            event.accept()
            return
        super().keyPressEvent(event)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        kind = event.type()
        if kind == QtCore.QEvent.Type.Wheel and not watched.hasFocus():
            # Scrolling down the panel must not change every slider that passes under the
            # pointer: the wheel goes to the scroll area until the slider is focused.
            QtWidgets.QApplication.sendEvent(self._scroll.viewport(), event)
            return True
        # Only the focused slider's own keys: superqt's labelled sliders are QAbstractSliders
        # too, and keys their text field leaves unused travel up through them.
        if kind == QtCore.QEvent.Type.KeyPress and isinstance(watched, QtWidgets.QAbstractSlider) \
                and watched.hasFocus():
            index, part = self._locate(watched)
            if index is None:
                return False
            Key = QtCore.Qt.Key
            if part == "layers" and event.key() in (Key.Key_Left, Key.Key_Right):
                return False  # the range slider's own keys
            return self._handle_key(event, index, part)
        return False

    # ------------------------------------------------------------- private

    def _watch_row(self, row: SemanticRow) -> None:
        """Filter the wheel and the arrow keys of a row's sliders; give them the keys' tooltip."""
        for slider in row.findChildren(QtWidgets.QAbstractSlider):
            slider.installEventFilter(self)
            slider.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)  # not WheelFocus
        for control in row.findChildren(QLabeledDoubleSlider):
            for part in (control, *control.findChildren(QtWidgets.QWidget)):
                tip = part.toolTip()
                if tip and KEYS_HINT not in tip:
                    part.setToolTip(f"{tip}\n{KEYS_HINT}")

    def _locate(self, widget: QtWidgets.QWidget) -> tuple[int | None, str]:
        """The index of the row holding ``widget`` and which control: "strength" or "layers"."""
        part = ""
        w = widget
        while w is not None and not isinstance(w, SemanticRow):
            if isinstance(w, QLabeledDoubleSlider):
                part = "strength"
            elif isinstance(w, QLabeledRangeSlider):
                part = "layers"
            w = w.parentWidget()
        if w is None or w not in self._rows:
            return None, part
        return self._rows.index(w), part

    def _handle_key(self, event: QtGui.QKeyEvent, index: int | None, part: str = "") -> bool:
        Key, Mod = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier
        mods = event.modifiers() & ~Mod.KeypadModifier
        if mods & ~Mod.ShiftModifier:
            return False  # Ctrl / Alt combinations belong to the window
        key = event.key()
        if key in (Key.Key_Up, Key.Key_Down) and not mods:
            step = -1 if key == Key.Key_Up else 1
            if index is None:
                target = 0 if step > 0 else len(self._rows) - 1
            else:
                target = min(max(index + step, 0), len(self._rows) - 1)
            self._on_row_selected(target)
            self._scroll.ensureWidgetVisible(self._rows[target], 0, 0)
            if part:  # keep focus on the same control, one row along
                self._focus_part(target, part)
            return True
        if key in (Key.Key_Left, Key.Key_Right) and index is not None:
            size = KEY_STEP_LARGE if mods & Mod.ShiftModifier else KEY_STEP
            self._on_row_selected(index)
            self.step_strength(index, size if key == Key.Key_Right else -size)
            return True
        return False

    def _focus_part(self, index: int, part: str) -> None:
        kind = QLabeledDoubleSlider if part == "strength" else QLabeledRangeSlider
        for control in self._rows[index].findChildren(kind):
            for slider in control.findChildren(QtWidgets.QAbstractSlider):
                slider.setFocus(QtCore.Qt.FocusReason.OtherFocusReason)
                return

    def _update_caption(self) -> None:
        self._caption.setText(f"Layers 0..{self._num_layers - 1}")

    def _update_state(self) -> None:
        self._stack.setCurrentWidget(self._scroll if self._rows else self._empty)
        self._scroll.update_header()
        self._scroll.updateGeometry()

    def _on_row_changed(self, index: int, values: dict) -> None:
        self._grid.set_row_range(index, values["layers"])
        self.rowChanged.emit(index, values)

    def _on_row_selected(self, index: int) -> None:
        # A click on a row's name gives the keys to the panel, unless a control of the panel
        # already has them (a click on a slider focuses the slider).
        focused = QtWidgets.QApplication.focusWidget()
        if focused is None or not self.isAncestorOf(focused):
            self.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)
        if index != self._selected:
            self.set_selected_row(index)
            self.rowSelected.emit(index)

    def _on_grid_edited(self, index: int, layers: tuple[int, int]) -> None:
        row = self._rows[index]
        row.set_layers(layers)
        self._on_row_selected(index)
        self.rowChanged.emit(index, row.values())
