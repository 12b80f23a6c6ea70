import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from qtwidget_helpers import Recorder, drag, slider_handle_center

from strata.widgets.semantic_panel import EMPTY_MESSAGE, SemanticPanel

ROWS = [
    {"name": "layout", "level": "layout", "strength": -1.0, "layers": (0, 3),
     "default_layers": (0, 3), "provenance": "layout estimator"},
    {"name": "bed", "level": "object", "strength": 0.5, "layers": (4, 5),
     "default_layers": (4, 6), "provenance": "object detector"},
    {"name": "natural_lighting", "level": "attribute", "strength": 0.0, "layers": (6, 8),
     "default_layers": (6, 8), "provenance": "attribute classifier"},
    {"name": "colour_scheme", "level": "colour", "strength": 2.0, "layers": (9, 11),
     "default_layers": (9, 11), "provenance": "colour histogram"},
]


def make_panel(qtbot, rows=ROWS, size=(1000, 400)):
    panel = SemanticPanel(num_layers=12)
    qtbot.addWidget(panel)
    panel.set_layer_resolutions([4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128])
    panel.set_rows(rows)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def y_in_panel(panel, widget, y=0):
    return widget.mapTo(panel, QtCore.QPoint(0, y)).y()


def test_empty_panel_says_how_to_load_boundaries(qtbot):
    panel = SemanticPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert panel._empty.isVisible() and panel._empty.text() == EMPTY_MESSAGE
    assert "Ctrl+O" in EMPTY_MESSAGE
    panel.set_rows(ROWS)
    assert not panel._empty.isVisible()
    panel.set_rows([])
    assert panel._empty.isVisible() and panel.row_count() == 0


def test_grid_rows_line_up_with_the_slider_rows(qtbot):
    panel = make_panel(qtbot)
    grid = panel.layer_grid()
    for i in range(panel.row_count()):
        row = panel.row(i)
        cell = grid.cell_rect(i, 0)
        assert y_in_panel(panel, row) == y_in_panel(panel, grid, cell.top())
        assert row.height() == cell.height()


def test_header_columns_line_up_with_the_grid_when_scrolling(qtbot):
    many = [dict(ROWS[i % 4], name=f"b{i}") for i in range(30)]
    panel = make_panel(qtbot, rows=many, size=(1000, 300))
    scroll = panel._scroll
    qtbot.waitUntil(scroll.verticalScrollBar().isVisible, timeout=1000)
    header, grid = panel._grid_header, panel.layer_grid()
    x = lambda w: w.mapTo(panel, QtCore.QPoint(0, 0)).x()  # noqa: E731
    assert x(header) == x(grid)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())
    qtbot.wait(10)
    # The header stays in view above the scrolled rows.
    assert header.isVisible() and header.mapTo(panel, QtCore.QPoint(0, 0)).y() >= 0
    assert y_in_panel(panel, panel.row(0)) < 0


def test_dragging_a_strength_slider_emits_row_changed_during_the_drag(qtbot):
    panel = make_panel(qtbot)
    rec = Recorder(panel.rowChanged)
    slider = panel.row(2)._strength_slider
    start = slider_handle_center(slider)
    end = QtCore.QPoint(slider.width() - 4, start.y())
    during = []
    drag(qtbot, slider, start, end, during=lambda: during.extend(rec.calls))
    assert len(during) >= 3
    assert all(index == 2 for index, _ in during)
    strengths = [values["strength"] for _, values in during]
    assert strengths == sorted(strengths) and strengths[-1] > 4.0
    assert during[-1][1]["layers"] == (6, 8)


def test_drag_in_the_grid_moves_the_row_range_slider(qtbot):
    panel = make_panel(qtbot)
    rec = Recorder(panel.rowChanged)
    grid = panel.layer_grid()
    drag(qtbot, grid, grid.cell_rect(1, 2).center(), grid.cell_rect(1, 5).center())
    assert rec.last == (1, {"strength": 0.5, "layers": (2, 5)})
    assert panel.row(1)._layers_slider.value() == (2, 5)
    assert panel.row(1).layers == (2, 5)
    assert panel.selected_row() == 1


def test_range_slider_moves_the_grid(qtbot):
    panel = make_panel(qtbot)
    rec = Recorder(panel.rowChanged)
    panel.row(3)._layers_slider.setValue((1, 10))
    assert rec.last == (3, {"strength": 2.0, "layers": (1, 10)})
    assert panel.layer_grid().row_range(3) == (1, 10)


def test_typing_a_strength_emits_row_changed(qtbot):
    panel = make_panel(qtbot)
    rec = Recorder(panel.rowChanged)
    edit = panel.row(0)._strength_field
    edit.selectAll()
    qtbot.keyClicks(edit, "3.5")
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Return)
    assert rec.calls == [(0, {"strength": 3.5, "layers": (0, 3)})]
    assert panel.row(0)._strength_slider.value() == 3.5


def test_reset_restores_defaults_and_emits(qtbot):
    panel = make_panel(qtbot)
    changed, reset = Recorder(panel.rowChanged), Recorder(panel.rowReset)
    qtbot.mouseClick(panel.row(1)._reset_button, QtCore.Qt.MouseButton.LeftButton)
    assert reset.calls == [(1,)]
    assert changed.last == (1, {"strength": 0.0, "layers": (4, 6)})
    assert panel.values()[1] == {"name": "bed", "strength": 0.0, "layers": (4, 6)}
    assert panel.layer_grid().row_range(1) == (4, 6)


def test_setters_do_not_emit(qtbot):
    panel = make_panel(qtbot)
    rec = Recorder(panel.rowChanged, panel.rowReset, panel.rowSelected)
    panel.set_row_values(2, -4.5, (1, 2))
    panel.set_selected_row(3)
    panel.set_num_layers(10)
    panel.set_layer_resolutions([4, 4, 8, 8, 16, 16, 32, 32, 64, 64])
    panel.set_rows(ROWS)
    panel.set_row_values(0, 1.0, (2, 2))
    assert len(rec) == 0
    assert panel.values()[0] == {"name": "layout", "strength": 1.0, "layers": (2, 2)}
    assert panel.layer_grid().row_range(0) == (2, 2)
    assert panel.row(3).layers == (9, 9)  # clamped to the 10 layers


def test_clicking_a_row_selects_it_alone(qtbot):
    panel = make_panel(qtbot)
    with qtbot.waitSignal(panel.rowSelected, timeout=500) as blocker:
        qtbot.mouseClick(panel.row(2)._name_label, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == [2]
    assert panel.selected_row() == 2 and panel.layer_grid().selected_row() == 2
    qtbot.mouseClick(panel.row(0)._name_label, QtCore.Qt.MouseButton.LeftButton)
    assert [panel.row(i).is_selected for i in range(4)] == [True, False, False, False]
    assert panel.layer_grid().selected_row() == 0


def test_num_layers_updates_every_part(qtbot):
    panel = make_panel(qtbot)
    panel.set_num_layers(18)
    assert panel._caption.text() == "Layers 0..17"
    assert panel.layer_grid().num_layers() == 18 == panel._grid_header.num_layers()
    assert panel.row(0)._layers_slider.maximum() == 17
    with pytest.raises(ValueError):
        panel.set_num_layers(0)


def test_rows_get_defaults_for_missing_keys(qtbot):
    panel = make_panel(qtbot, rows=[{"name": "x"}])
    row = panel.row(0)
    assert (row.level, row.strength) == ("unknown", 0.0)
    assert row.layers == row.default_layers == (0, 11)


def test_heat_map_reaches_the_grid(qtbot):
    panel = make_panel(qtbot)
    panel.set_heat([[float(i)] * 12 for i in range(4)])
    assert panel.layer_grid().heat().shape == (4, 12)


def test_panel_is_never_narrower_than_its_columns(qtbot):
    panel = make_panel(qtbot)
    need = panel.layer_grid().width() + panel.row(0).minimumSizeHint().width()
    assert panel.minimumSizeHint().width() >= need
    assert isinstance(panel._scroll, QtWidgets.QScrollArea)


# ---------------------------------------------------------------- keyboard and wheel

Key = QtCore.Qt.Key
SHIFT = QtCore.Qt.KeyboardModifier.ShiftModifier


def focus(qtbot, widget):
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=1000)


def test_clicking_a_row_then_arrow_keys_move_the_selection_and_the_strength(qtbot):
    panel = make_panel(qtbot)
    panel.activateWindow()
    qtbot.mouseClick(panel.row(1)._name_label, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.hasFocus, timeout=1000)  # the click gave the panel the keys
    selected, changed = Recorder(panel.rowSelected), Recorder(panel.rowChanged)
    qtbot.keyClick(panel, Key.Key_Down)
    assert panel.selected_row() == 2 and selected.calls == [(2,)]
    assert panel.layer_grid().selected_row() == 2 and panel.row(2).is_selected
    qtbot.keyClick(panel, Key.Key_Right)
    assert changed.last == (2, {"strength": 0.1, "layers": (6, 8)})
    qtbot.keyClick(panel, Key.Key_Right, SHIFT)
    assert changed.last == (2, {"strength": 1.1, "layers": (6, 8)})
    qtbot.keyClick(panel, Key.Key_Left)
    assert changed.last == (2, {"strength": 1.0, "layers": (6, 8)})
    assert panel.row(2).strength == 1.0
    qtbot.keyClick(panel, Key.Key_Up)
    qtbot.keyClick(panel, Key.Key_Up)
    qtbot.keyClick(panel, Key.Key_Up)  # stops at the first row
    assert panel.selected_row() == 0 and selected.calls == [(2,), (1,), (0,)]
    qtbot.keyClick(panel, Key.Key_Left, SHIFT)
    assert panel.values()[0]["strength"] == -2.0


def test_strength_keys_stop_at_the_ends(qtbot):
    panel = make_panel(qtbot)
    panel.set_selected_row(3)  # strength 2.0
    focus(qtbot, panel)
    for _ in range(4):
        qtbot.keyClick(panel, Key.Key_Right, SHIFT)
    assert panel.row(3).strength == 5.0


def test_arrow_keys_on_a_focused_strength_slider_follow_the_rows(qtbot):
    panel = make_panel(qtbot)
    slider = panel.row(0)._strength_slider
    focus(qtbot, slider)
    changed = Recorder(panel.rowChanged)
    qtbot.keyClick(slider, Key.Key_Right, SHIFT)
    assert changed.last == (0, {"strength": 0.0, "layers": (0, 3)})  # -1.0 + 1.0
    assert panel.selected_row() == 0
    qtbot.keyClick(slider, Key.Key_Down)
    # Down moves to the next row, with focus on its strength slider, rather than changing strength.
    assert panel.selected_row() == 1 and panel.row(1)._strength_slider.hasFocus()
    assert len(changed) == 1
    qtbot.keyClick(panel.row(1)._strength_slider, Key.Key_Left)
    assert changed.last == (1, {"strength": 0.4, "layers": (4, 5)})


def test_a_focused_text_field_keeps_its_arrow_keys(qtbot):
    panel = make_panel(qtbot)
    panel.set_selected_row(0)
    field = panel.row(0)._strength_field
    focus(qtbot, field)
    changed, selected = Recorder(panel.rowChanged), Recorder(panel.rowSelected)
    field.setCursorPosition(len(field.text()))
    qtbot.keyClick(field, Key.Key_Left)
    assert field.cursorPosition() == len(field.text()) - 1  # the text cursor moved
    qtbot.keyClick(field, Key.Key_Right)
    qtbot.keyClick(field, Key.Key_Down)
    assert panel.row(0).strength == -1.0 and len(changed) == 0
    assert panel.selected_row() == 0 and len(selected) == 0


def send_wheel(widget, notches):
    pos = QtCore.QPointF(widget.rect().center())
    event = QtGui.QWheelEvent(
        pos, QtCore.QPointF(widget.mapToGlobal(pos.toPoint())), QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 120 * notches), QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.ScrollPhase.NoScrollPhase, False,
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def test_the_wheel_over_an_unfocused_slider_scrolls_the_panel(qtbot):
    many = [dict(ROWS[i % 4], name=f"b{i}") for i in range(30)]
    panel = make_panel(qtbot, rows=many, size=(1000, 300))
    bar = panel._scroll.verticalScrollBar()
    qtbot.waitUntil(bar.isVisible, timeout=1000)
    changed = Recorder(panel.rowChanged)
    strength, layers = panel.row(1)._strength_slider, panel.row(2)._layers_slider
    send_wheel(strength, -1)
    assert bar.value() > 0
    scrolled = bar.value()
    for slider in layers.findChildren(QtWidgets.QAbstractSlider):
        send_wheel(slider, -1)
    assert bar.value() > scrolled
    assert len(changed) == 0 and panel.row(1).strength == 0.5 and panel.row(2).layers == (6, 8)
    # Once the slider has focus, the wheel is its own.
    focus(qtbot, strength)
    scrolled = bar.value()
    send_wheel(strength, 1)
    assert panel.row(1).strength != 0.5 and changed.last[0] == 1
    assert bar.value() == scrolled
