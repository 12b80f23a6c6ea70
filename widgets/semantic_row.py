"""One boundary's controls: strength and the layers the edit acts on."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets
from superqt import QDoubleSlider, QElidingLabel, QLabeledDoubleSlider, QLabeledRangeSlider
from superqt.utils import signals_blocked

from ._icons import themed_icon
from .levels import level_color, level_name, level_text_color, normalize_level

__all__ = ["SemanticRow", "SemanticRowHeader", "STRENGTH_MAX", "ROW_HEIGHT"]

STRENGTH_MAX = 5.0  # strengths run from -STRENGTH_MAX to +STRENGTH_MAX
_DECIMALS = 2  # the field shows 0.01; a dragged strength keeps that resolution
ROW_HEIGHT = 36  # fixed so that a LayerGrid beside the rows can line up

# Column geometry, shared by SemanticRow and SemanticRowHeader so that the
# header labels sit over the controls.
_MARGINS = (8, 2, 4, 2)
_SPACING = 6
_NAME_WIDTH = 118
_CHIP_WIDTH = 70
_BUTTON_WIDTH = 26
_STRENGTH_STRETCH = 4
_LAYERS_STRETCH = 5


class _StrengthSlider(QDoubleSlider):
    """superqt's float slider, filled from zero to the handle rather than from the left.

    A signed strength reads wrongly on a groove filled from its minimum.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._accent = QtGui.QColor("#3f7fe0")

    def set_accent(self, color: QtGui.QColor) -> None:
        self._accent = QtGui.QColor(color)
        self.update()

    def setSliderPosition(self, pos: float) -> None:
        # A hand cannot aim finer than the field shows: keep a dragged strength at 0.01, so that
        # the number in the field is the one the scene renders and the recipe stores.
        super().setSliderPosition(round(float(pos), _DECIMALS))

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        # superqt's float slider leaves keys to QSlider's integer model, which it never reads.
        Key = QtCore.Qt.Key
        single, page = self.singleStep(), self.pageStep()
        steps = {Key.Key_Left: -single, Key.Key_Down: -single, Key.Key_Right: single, Key.Key_Up: single,
                 Key.Key_PageDown: -page, Key.Key_PageUp: page}
        if event.key() == Key.Key_Home:
            self.setValue(self.minimum())
        elif event.key() == Key.Key_End:
            self.setValue(self.maximum())
        elif event.key() in steps:
            self.setValue(round(self.value() + steps[event.key()], _DECIMALS))
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        cc = QtWidgets.QStyle.ComplexControl.CC_Slider
        groove = style.subControlRect(cc, opt, QtWidgets.QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(cc, opt, QtWidgets.QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        left = groove.left() + handle.width() / 2
        lo, hi = self.minimum(), self.maximum()

        def x_of(value: float) -> float:
            return left + (span * (value - lo) / (hi - lo) if hi > lo else 0.0)

        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        cy = groove.center().y() + 0.5
        track = QtCore.QRectF(groove.left() + 1, cy - 2, groove.width() - 2, 4)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(pal.color(QtGui.QPalette.ColorRole.Mid))
        p.drawRoundedRect(track, 2, 2)

        x0 = x_of(min(max(0.0, lo), hi))
        x1 = x_of(self.sliderPosition())
        accent = QtGui.QColor(self._accent)
        if not self.isEnabled():
            accent.setAlpha(90)
        p.setBrush(accent)
        p.drawRoundedRect(QtCore.QRectF(min(x0, x1), cy - 2, abs(x1 - x0), 4), 2, 2)
        # A tick at zero: the neutral position.
        p.setBrush(pal.color(QtGui.QPalette.ColorRole.WindowText))
        p.drawRect(QtCore.QRectF(x0 - 0.5, cy - 5, 1, 10))

        opt.subControls = QtWidgets.QStyle.SubControl.SC_SliderHandle
        style.drawComplexControl(cc, opt, p, self)


class _StrengthControl(QLabeledDoubleSlider):
    """superqt's labelled float slider (slider and editable number) over `_StrengthSlider`."""

    _slider_class = _StrengthSlider


class SemanticRow(QtWidgets.QWidget):
    """Controls for one boundary: its strength and the layers it acts on.

    From left to right: the boundary's name, a chip with its semantic level
    (hover it for where the boundary came from), a strength slider from -5
    to +5 (a drag moves in steps of 0.01; a typed or set strength is kept
    as given) with a numeric field beside it, a range
    slider over the generator's layers (inclusive ``(first, last)``), and a
    reset button. Clicking anywhere on the row selects it.

    Signals
    -------
    strengthChanged(float)
        The user moved the strength slider (emitted during the drag) or
        typed into the numeric field.
    layersChanged(object)
        The user changed the layer range; a tuple ``(first, last)``.
    changed(object)
        After either of the above, and after a reset: a dict
        ``{"strength": float, "layers": (first, last)}``.
    resetRequested()
        The reset button was pressed; the row has already set strength 0
        and its default layers. Emitted before the ``changed`` that follows.
    selected()
        The row was clicked while not selected; it is now selected.

    Setters (none of them emits a signal)
    -------------------------------------
    set_strength(float), set_layers((first, last)), set_num_layers(n),
    set_default_layers((first, last)), set_level(str),
    set_provenance(str), set_selected(bool), set_striped(bool).

    Properties
    ----------
    name, level, provenance, strength, layers, default_layers, num_layers,
    is_selected; ``values()`` returns the dict that ``changed`` emits.
    """

    strengthChanged = QtCore.Signal(float)
    layersChanged = QtCore.Signal(object)
    changed = QtCore.Signal(object)
    resetRequested = QtCore.Signal()
    selected = QtCore.Signal()

    def __init__(
        self,
        name: str,
        level: str = "unknown",
        parent: QtWidgets.QWidget | None = None,
        *,
        strength: float = 0.0,  # signed distance moved along the boundary
        layers: tuple[int, int] | None = None,  # inclusive (first, last)
        default_layers: tuple[int, int] | None = None,  # what reset restores
        num_layers: int | None = None,  # layers of the generator
        provenance: str = "",  # where the boundary came from, for the tooltip
    ) -> None:
        super().__init__(parent)
        self._name = str(name)
        self._level = normalize_level(level)
        self._provenance = str(provenance or "")
        self._selected = False
        self._striped = False
        self._hover = False

        if num_layers is None:
            lasts = [r[1] for r in (layers, default_layers) if r is not None]
            num_layers = max(lasts) + 1 if lasts else 1
        self._num_layers = max(1, int(num_layers))
        if default_layers is None:
            default_layers = layers if layers is not None else (0, self._num_layers - 1)
        self._default_layers = self._clamp_layers(default_layers)
        if layers is None:
            layers = self._default_layers

        self.setFixedHeight(ROW_HEIGHT)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_Hover, True)
        self._build()
        self._apply_level()
        self._layers_slider.setRange(0, self._num_layers - 1)  # before setValue
        self.set_layers(layers)
        self.set_strength(strength)

    # ------------------------------------------------------------ properties

    @property
    def name(self) -> str:
        """The boundary's name."""
        return self._name

    @property
    def level(self) -> str:
        """The semantic level key (see `widgets.levels.LEVELS`)."""
        return self._level

    @property
    def provenance(self) -> str:
        """Where the boundary came from (shown on the level chip)."""
        return self._provenance

    @property
    def strength(self) -> float:
        """The strength shown, -5..+5."""
        return self._strength.value()

    @property
    def layers(self) -> tuple[int, int]:
        """The inclusive layer range ``(first, last)``."""
        first, last = self._layers_slider.value()
        return (int(first), int(last))

    @property
    def default_layers(self) -> tuple[int, int]:
        """The layer range that reset restores."""
        return self._default_layers

    @property
    def num_layers(self) -> int:
        """The number of layers the range slider spans."""
        return self._num_layers

    @property
    def is_selected(self) -> bool:
        return self._selected

    def values(self) -> dict:
        """Return ``{"strength": float, "layers": (first, last)}``."""
        return {"strength": self.strength, "layers": self.layers}

    # --------------------------------------------------------------- setters

    def set_strength(self, strength: float) -> None:
        """Show ``strength`` (clamped to -5..+5) without emitting signals."""
        with signals_blocked(self._strength):  # the field follows the slider inside it
            self._strength.setValue(min(max(float(strength), -STRENGTH_MAX), STRENGTH_MAX))
        self._update_reset()

    def set_layers(self, layers: tuple[int, int]) -> None:
        """Show the inclusive range ``layers`` without emitting signals.

        The range is sorted and clamped to the layers of the model.
        """
        first, last = self._clamp_layers(layers)
        with signals_blocked(self._layers_slider):
            self._layers_slider.setValue((first, last))
        self._update_reset()

    def set_default_layers(self, layers: tuple[int, int]) -> None:
        """Set the range that reset restores (no signal)."""
        self._default_layers = self._clamp_layers(layers)
        self._update_reset()

    def set_num_layers(self, n: int) -> None:
        """Span ``n`` layers; the ranges are clamped to fit (no signal)."""
        n = int(n)
        if n < 1:
            raise ValueError(f"a generator has at least one layer, got {n}")
        layers = self.layers
        self._num_layers = n
        self._default_layers = self._clamp_layers(self._default_layers)
        with signals_blocked(self._layers_slider):
            self._layers_slider.setRange(0, n - 1)
        self.set_layers(layers)

    def set_level(self, level: str) -> None:
        """Set the semantic level (recolours the row)."""
        self._level = normalize_level(level)
        self._apply_level()

    def set_provenance(self, text: str) -> None:
        """Set where the boundary came from (the level chip's tooltip)."""
        self._provenance = str(text or "")
        self._apply_level()

    def set_selected(self, selected: bool) -> None:
        """Highlight the row as selected, or not (no signal)."""
        if bool(selected) != self._selected:
            self._selected = bool(selected)
            self.update()

    def set_striped(self, striped: bool) -> None:
        """Paint the row on the alternate background (zebra stripes)."""
        if bool(striped) != self._striped:
            self._striped = bool(striped)
            self.update()

    def reset(self) -> None:
        """Do what the reset button does: strength 0, default layers, signals."""
        old = self.values()
        self.set_strength(0.0)
        self.set_layers(self._default_layers)
        new = self.values()
        # resetRequested first: a listener that keeps history takes the reset as its own step;
        # the value signals that follow then change nothing. Sent the other way round, a reset
        # right after a drag folded into the drag's step and one Ctrl+Z undid both.
        self.resetRequested.emit()
        if new["strength"] != old["strength"]:
            self.strengthChanged.emit(new["strength"])
        if new["layers"] != old["layers"]:
            self.layersChanged.emit(new["layers"])
        self.changed.emit(new)

    # ------------------------------------------------------------- Qt API

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        pal = self.palette()
        if self._selected:
            color = QtGui.QColor(pal.color(QtGui.QPalette.ColorRole.Highlight))
            color.setAlpha(60)
            p.fillRect(self.rect(), color)
            p.fillRect(QtCore.QRect(0, 0, 3, self.height()), level_color(self._level))
        elif self._hover:
            color = QtGui.QColor(pal.color(QtGui.QPalette.ColorRole.Highlight))
            color.setAlpha(22)
            p.fillRect(self.rect(), color)
        elif self._striped:
            p.fillRect(self.rect(), pal.color(QtGui.QPalette.ColorRole.AlternateBase))

    def event(self, event: QtCore.QEvent) -> bool:
        kind = event.type()
        if kind in (QtCore.QEvent.Type.HoverEnter, QtCore.QEvent.Type.HoverLeave):
            self._hover = kind == QtCore.QEvent.Type.HoverEnter
            self.update()
        return super().event(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        self._select_by_user()
        super().mousePressEvent(event)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        # A press on any control selects the row too, so the row being edited
        # is the one highlighted (also in the LayerGrid beside it).
        if event.type() == QtCore.QEvent.Type.MouseButtonPress:
            self._select_by_user()
        return False

    def changeEvent(self, event: QtCore.QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._reset_button.setIcon(themed_icon("fa5s.undo-alt", self))

    # ------------------------------------------------------------- private

    def _build(self) -> None:
        self._name_label = QElidingLabel(self._name)
        self._name_label.setFixedWidth(_NAME_WIDTH)
        self._name_label.setToolTip(self._name)
        font = self._name_label.font()
        font.setBold(True)
        self._name_label.setFont(font)

        self._chip = QtWidgets.QLabel()
        chip_font = self._chip.font()
        chip_font.setPointSizeF(max(7.0, chip_font.pointSizeF() * 0.85))
        chip_font.setBold(True)
        self._chip.setFont(chip_font)
        self._chip.setFixedSize(_CHIP_WIDTH, QtGui.QFontMetrics(chip_font).height() + 6)
        self._chip.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)

        self._strength = _StrengthControl(QtCore.Qt.Orientation.Horizontal)
        self._strength.setRange(-STRENGTH_MAX, STRENGTH_MAX)
        self._strength.setDecimals(_DECIMALS)
        self._strength.setSingleStep(0.1)
        self._strength.setPageStep(1.0)
        self._strength.setTracking(True)
        self._strength_slider = self._strength._slider  # the slider part, as a hand drags it
        self._strength_field = self._strength._label  # the number part, typed into
        self._strength_slider.setMinimumWidth(60)
        tip = f"Strength: -{STRENGTH_MAX:g} to +{STRENGTH_MAX:g}"
        self._strength.setToolTip(tip)  # the gap between slider and field shows it too
        for part, name in ((self._strength_slider, "strength"), (self._strength_field, "strength value")):
            part.setToolTip(tip)
            part.setAccessibleName(f"{self._name} {name}")

        self._layers_slider = QLabeledRangeSlider(QtCore.Qt.Orientation.Horizontal)
        self._layers_slider.setHandleLabelPosition(QLabeledRangeSlider.LabelPosition.NoLabel)
        self._layers_slider.setEdgeLabelMode(QLabeledRangeSlider.EdgeLabelMode.LabelIsValue)
        self._layers_slider.setSingleStep(1)
        self._layers_slider.setPageStep(1)
        self._layers_slider.setMinimumWidth(80)
        self._layers_slider.setToolTip("Layers the edit acts on: first to last, inclusive")
        self._layers_slider.setAccessibleName(f"{self._name} layers")

        self._reset_button = QtWidgets.QToolButton()
        self._reset_button.setIcon(themed_icon("fa5s.undo-alt", self))
        self._reset_button.setAutoRaise(True)
        self._reset_button.setFixedWidth(_BUTTON_WIDTH)
        self._reset_button.setAccessibleName(f"Reset {self._name}")

        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(*_MARGINS)
        layout.setSpacing(_SPACING)
        layout.addWidget(self._name_label)
        layout.addWidget(self._chip)
        layout.addWidget(self._strength, _STRENGTH_STRETCH)
        layout.addWidget(self._layers_slider, _LAYERS_STRETCH)
        layout.addWidget(self._reset_button)

        self._strength.valueChanged.connect(self._on_strength_changed)
        self._layers_slider.valueChanged.connect(self._on_layers_changed)
        self._reset_button.clicked.connect(self.reset)

        for child in self.findChildren(QtWidgets.QWidget):
            child.installEventFilter(self)

    def _apply_level(self) -> None:
        color = level_color(self._level)
        text = level_text_color(self._level)
        self._chip.setText(level_name(self._level))
        self._chip.setStyleSheet(
            f"QLabel {{ background: {color.name()}; color: {text.name()};"
            f" border-radius: {self._chip.height() // 2}px; padding: 0px 4px; }}"
        )
        tip = f"<b>{html.escape(level_name(self._level))}</b> level"
        if self._provenance:
            tip += "<br>" + html.escape(self._provenance).replace("\n", "<br>")
        self._chip.setToolTip(tip)
        self._strength_slider.set_accent(color)
        self._layers_slider.barColor = color.name()
        # superqt's barColor sets the active window's colour only; while a dialog has the focus the
        # window is inactive and the bar would fall back to the system blue for every row.
        style = getattr(getattr(self._layers_slider, "_slider", None), "_style", None)
        if style is not None and hasattr(style, "brush_inactive"):
            style.brush_inactive = color.name()
        self._layers_slider.update()

    def _clamp_layers(self, layers: tuple[int, int]) -> tuple[int, int]:
        try:
            first, last = (int(v) for v in layers)
        except (TypeError, ValueError):
            raise ValueError(f"layers must be a pair (first, last), got {layers!r}") from None
        if first > last:
            first, last = last, first
        top = self._num_layers - 1
        return (min(max(first, 0), top), min(max(last, 0), top))

    def _update_reset(self) -> None:
        at_default = (
            self.strength == 0.0 and self.layers == self._default_layers
        )
        self._reset_button.setEnabled(not at_default)
        first, last = self._default_layers
        self._reset_button.setToolTip(
            f"Reset: strength 0, layers {first}\u2013{last}"
        )

    def _select_by_user(self) -> None:
        if not self._selected:
            self.set_selected(True)
            self.selected.emit()

    def _on_strength_changed(self, strength: float) -> None:
        self._update_reset()
        self.strengthChanged.emit(self.strength)
        self.changed.emit(self.values())

    def _on_layers_changed(self, value: tuple) -> None:
        self._update_reset()
        self.layersChanged.emit(self.layers)
        self.changed.emit(self.values())


class SemanticRowHeader(QtWidgets.QWidget):
    """Column titles laid out like a `SemanticRow`: Semantic | Strength | Layers."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(*_MARGINS)
        layout.setSpacing(_SPACING)

        def title(text: str, tip: str) -> QtWidgets.QLabel:
            label = QtWidgets.QLabel(text)
            label.setToolTip(tip)
            label.setSizePolicy(
                QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
            )
            font = label.font()
            font.setBold(True)
            label.setFont(font)
            label.setForegroundRole(QtGui.QPalette.ColorRole.PlaceholderText)
            label.setAlignment(
                QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignBottom
            )
            return label

        semantic = title("Semantic", "Boundary name and semantic level")
        semantic.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Preferred
        )
        semantic.setFixedWidth(_NAME_WIDTH + _SPACING + _CHIP_WIDTH)
        strength = title("Strength", "How far to move along the boundary, -5 to +5")
        layers = title("Layers", "The layers the edit acts on, first to last")
        layout.addWidget(semantic)
        layout.addWidget(strength, _STRENGTH_STRETCH)
        layout.addWidget(layers, _LAYERS_STRETCH)
        layout.addSpacing(_BUTTON_WIDTH)
