import pytest
from PySide6 import QtCore
from qtwidget_helpers import Recorder, color_close, drag, grab_image, slider_handle_center

from strata.widgets.levels import level_color
from strata.widgets.semantic_row import SemanticRow


def make_row(qtbot, **kwargs):
    args = dict(
        name="bed",
        level="object",
        strength=0.0,
        layers=(4, 5),
        default_layers=(4, 5),
        num_layers=12,
        provenance="object detector, 2k samples",
    )
    args.update(kwargs)
    row = SemanticRow(args.pop("name"), args.pop("level"), **args)
    qtbot.addWidget(row)
    row.resize(760, row.height())
    row.show()
    qtbot.waitExposed(row)
    return row


def test_moving_the_strength_slider_emits_and_updates_the_field(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.strengthChanged)
    changed = Recorder(row.changed)
    row._strength_slider.setValue(1.5)
    assert rec.calls == [(1.5,)]  # once per change
    assert changed.last == ({"strength": 1.5, "layers": (4, 5)},)
    assert row._strength_field.text() == "1.50"
    assert row.strength == 1.5


def test_dragging_the_strength_slider_emits_during_the_drag(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.changed)
    slider = row._strength_slider
    start = slider_handle_center(slider)
    end = QtCore.QPoint(slider.width() - 4, start.y())
    during = []
    drag(qtbot, slider, start, end, during=lambda: during.extend(rec.calls))
    assert len(during) >= 3
    strengths = [args[0]["strength"] for args in during]
    assert strengths == sorted(strengths) and strengths[-1] > 4.0
    assert all(s == round(s, 2) for s in strengths)  # a hand moves in the 0.01 steps the field shows
    assert row._strength_field.value() == row.strength == strengths[-1]


def test_typing_into_the_field_moves_the_slider(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.strengthChanged)
    edit = row._strength_field
    edit.selectAll()
    qtbot.keyClicks(edit, "-2.25")
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Return)
    assert row._strength_slider.value() == -2.25
    assert rec.calls == [(-2.25,)]


def test_keys_step_the_strength_slider(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.strengthChanged)
    slider = row._strength_slider
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_Right)
    assert row.strength == 0.1
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_PageUp)
    assert row.strength == 1.1
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_Left)
    assert row.strength == 1.0
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_End)
    assert row.strength == 5.0 and rec.calls == [(0.1,), (1.1,), (1.0,), (5.0,)]


def test_a_strength_finer_than_the_field_survives_a_layer_change(qtbot):
    # The scene's strength passes through the row unchanged: no rounding on the way back.
    row = make_row(qtbot)
    row.set_strength(1.2345)
    changed = Recorder(row.changed)
    row._layers_slider.setValue((2, 7))
    assert changed.calls == [({"strength": 1.2345, "layers": (2, 7)},)]
    assert row._strength_field.text() == "1.23"


def test_moving_the_range_slider_emits_a_tuple(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.layersChanged)
    changed = Recorder(row.changed)
    row._layers_slider.setValue((2, 7))
    assert rec.last == ((2, 7),)
    assert isinstance(rec.last[0], tuple)
    assert changed.last == ({"strength": 0.0, "layers": (2, 7)},)
    assert row.layers == (2, 7)


def test_reset_restores_the_defaults_and_emits(qtbot):
    row = make_row(qtbot, default_layers=(3, 6), layers=(3, 6))
    row._strength_slider.setValue(-3.0)
    row._layers_slider.setValue((0, 11))
    assert row._reset_button.isEnabled()
    reset = Recorder(row.resetRequested)
    changed = Recorder(row.changed)
    qtbot.mouseClick(row._reset_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(reset) == 1
    assert changed.last == ({"strength": 0.0, "layers": (3, 6)},)
    assert row.strength == 0.0 and row.layers == (3, 6)
    order = Recorder(row.resetRequested, row.changed)  # reset first: a history takes it as its own step
    row._strength_slider.setValue(2.0)
    order.calls.clear()
    qtbot.mouseClick(row._reset_button, QtCore.Qt.MouseButton.LeftButton)
    assert order.calls[0] == () and order.calls[-1] == ({"strength": 0.0, "layers": (3, 6)},)
    assert row._strength_field.text() == "0.00"
    assert not row._reset_button.isEnabled()  # nothing left to reset


def test_setters_do_not_emit(qtbot):
    row = make_row(qtbot)
    rec = Recorder(
        row.strengthChanged, row.layersChanged, row.changed, row.resetRequested, row.selected
    )
    row.set_strength(3.333)
    row.set_layers((9, 1))
    row.set_num_layers(8)
    row.set_default_layers((0, 2))
    row.set_selected(True)
    assert len(rec) == 0
    assert row.strength == 3.333 and row._strength_field.text() == "3.33"  # kept as given, shown to 0.01
    assert row.layers == (1, 7)  # sorted, then clamped to the 8 layers
    assert row.default_layers == (0, 2)


def test_range_slider_spans_the_model_layers(qtbot):
    row = make_row(qtbot, num_layers=18, layers=(10, 17), default_layers=(10, 17))
    assert (row._layers_slider.minimum(), row._layers_slider.maximum()) == (0, 17)
    assert row.layers == (10, 17)
    row.set_num_layers(14)
    assert row._layers_slider.maximum() == 13
    assert row.layers == (10, 13) and row.default_layers == (10, 13)
    with pytest.raises(ValueError):
        row.set_num_layers(0)


def test_strength_is_clamped_to_five(qtbot):
    row = make_row(qtbot)
    row.set_strength(9)
    assert row.strength == 5.0
    row.set_strength(-9)
    assert row.strength == -5.0


def test_clicking_selects_the_row_once(qtbot):
    row = make_row(qtbot)
    rec = Recorder(row.selected)
    before = grab_image(row)
    qtbot.mouseClick(row._name_label, QtCore.Qt.MouseButton.LeftButton)
    assert len(rec) == 1 and row.is_selected
    assert grab_image(row) != before  # highlighted
    qtbot.mouseClick(row._name_label, QtCore.Qt.MouseButton.LeftButton)
    assert len(rec) == 1


def test_pressing_a_control_selects_the_row_too(qtbot):
    row = make_row(qtbot)
    with qtbot.waitSignal(row.selected, timeout=500):
        qtbot.mousePress(row._strength_slider, QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(row._strength_slider, QtCore.Qt.MouseButton.LeftButton)


def test_level_chip_is_coloured_and_tells_the_provenance(qtbot):
    row = make_row(qtbot, level="attribute", provenance="SUN attributes <v2>")
    chip = row._chip
    assert chip.text() == "Attribute"
    assert "SUN attributes &lt;v2&gt;" in chip.toolTip()
    img = grab_image(chip)
    assert color_close(img.pixelColor(4, img.height() // 2), level_color("attribute"), tol=20)


def test_properties(qtbot):
    row = make_row(qtbot, strength=1.25, layers=(2, 3), default_layers=(0, 5))
    assert row.name == "bed" and row.level == "object"
    assert row.values() == {"strength": 1.25, "layers": (2, 3)}
    assert row.default_layers == (0, 5) and row.num_layers == 12
    assert row.provenance == "object detector, 2k samples"
    assert row._reset_button.toolTip() == "Reset: strength 0, layers 0\u20135"


def test_new_row_without_layers_spans_all(qtbot):
    row = SemanticRow("x", num_layers=10)
    qtbot.addWidget(row)
    assert row.layers == (0, 9) and row.default_layers == (0, 9)
    assert row.level == "unknown"


def test_the_layer_bar_keeps_its_level_colour_in_an_inactive_window(qtbot):
    from PySide6 import QtGui

    from strata.widgets.levels import level_color

    row = SemanticRow("bed", "object", layers=(2, 4), num_layers=8)
    qtbot.addWidget(row)
    slider = row._layers_slider._slider
    opt = slider._styleOption
    for group in (QtGui.QPalette.ColorGroup.Active, QtGui.QPalette.ColorGroup.Inactive):
        opt.palette.setCurrentColorGroup(group)
        assert slider._style.brush(opt).color().name() == level_color("object").name()
