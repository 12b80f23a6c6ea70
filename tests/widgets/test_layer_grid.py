import numpy as np
import pytest
from PySide6 import QtCore
from qtwidget_helpers import Recorder, color_close, drag, grab_image

from strata.widgets.layer_grid import LayerGrid
from strata.widgets.levels import level_color

ROWS = [
    ("layout", "layout", (0, 3)),
    ("bed", "object", (4, 5)),
    ("lighting", "attribute", (6, 8)),
]


def make_grid(qtbot, **kwargs):
    grid = LayerGrid(num_layers=12, **kwargs)
    grid.set_rows(ROWS)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    return grid


def centre(grid, row, layer):
    return grid.cell_rect(row, layer).center()


def test_drag_along_a_row_sets_its_range(qtbot):
    grid = make_grid(qtbot)
    rec = Recorder(grid.rangeEdited)
    during = []
    drag(qtbot, grid, centre(grid, 1, 2), centre(grid, 1, 5), steps=6,
         during=lambda: during.extend(rec.calls))
    assert during[-1] == (1, (2, 5))
    assert rec.last == (1, (2, 5))
    assert all(args[0] == 1 for args in rec.calls)
    assert grid.row_range(1) == (2, 5)
    assert grid.row_range(0) == (0, 3)  # other rows untouched


def test_dragging_backwards_and_off_the_row_keeps_the_pressed_row(qtbot):
    grid = make_grid(qtbot)
    rec = Recorder(grid.rangeEdited)
    drag(qtbot, grid, centre(grid, 2, 9), centre(grid, 0, 7))
    assert rec.last == (2, (7, 9))


def test_click_sets_a_single_layer(qtbot):
    grid = make_grid(qtbot)
    with qtbot.waitSignal(grid.rangeEdited, timeout=500) as blocker:
        qtbot.mouseClick(grid, QtCore.Qt.MouseButton.LeftButton, pos=centre(grid, 0, 10))
    assert blocker.args == [0, (10, 10)]


def test_click_on_the_header_does_nothing(qtbot):
    grid = make_grid(qtbot)
    with qtbot.assertNotEmitted(grid.rangeEdited):
        qtbot.mouseClick(grid, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(30, 3))


def test_cells_in_range_take_the_level_colour(qtbot):
    grid = make_grid(qtbot)
    img = grab_image(grid)
    for row, (_, level, (first, last)) in enumerate(ROWS):
        inside = img.pixelColor(centre(grid, row, first))
        outside = img.pixelColor(centre(grid, row, 11))
        assert color_close(inside, level_color(level)), (row, inside.name())
        assert not color_close(outside, level_color(level), tol=40)


def test_heat_map_shades_cells_by_value_per_row(qtbot):
    grid = make_grid(qtbot)
    heat = np.zeros((3, 12))
    heat[0, 9] = 5.0  # the hottest cell of row 0, outside its range
    heat[1] = np.linspace(0, 1, 12) * 1000  # scale does not matter: per row
    grid.set_heat(heat)
    img = grab_image(grid)
    hot, cold = img.pixelColor(centre(grid, 0, 9)), img.pixelColor(centre(grid, 0, 2))
    assert color_close(hot, level_color("layout"))
    assert not color_close(cold, level_color("layout"), tol=40)
    assert color_close(img.pixelColor(centre(grid, 1, 11)), level_color("object"))
    np.testing.assert_array_equal(grid.heat(), heat)
    grid.set_heat(None)
    assert grid.heat() is None


def test_heat_must_match_rows_and_layers(qtbot):
    grid = make_grid(qtbot)
    with pytest.raises(ValueError):
        grid.set_heat(np.zeros((3, 11)))


def test_resolutions_add_a_header_line(qtbot):
    grid = make_grid(qtbot)
    one_line = grid.header_height()
    grid.set_layer_resolutions([4, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128])
    assert grid.header_height() > one_line
    assert grid.height() == grid.header_height() + 3 * grid.row_height()
    with pytest.raises(ValueError):
        grid.set_layer_resolutions([4, 8])


def test_row_height_follows_the_rows_beside_it(qtbot):
    grid = make_grid(qtbot, header_visible=False)
    grid.set_row_height(36)
    assert grid.header_height() == 0
    assert grid.height() == 3 * 36
    assert grid.cell_rect(2, 0).top() == 72
    assert grid.cell_at(QtCore.QPoint(5, 75)) == (2, 0)


def test_setters_do_not_emit(qtbot):
    grid = make_grid(qtbot)
    with qtbot.assertNotEmitted(grid.rangeEdited):
        grid.set_row_range(0, (5, 2))
        grid.set_num_layers(4)
        grid.set_selected_row(1)
        grid.set_rows(ROWS)
    assert grid.row_range(2) == (3, 3)  # clamped to the 4 layers


def test_selected_row_is_highlighted(qtbot):
    grid = make_grid(qtbot)
    before = grab_image(grid)
    grid.set_selected_row(1)
    assert grid.selected_row() == 1
    assert grab_image(grid) != before


def test_empty_grid_is_just_the_header(qtbot):
    grid = LayerGrid(num_layers=6)
    qtbot.addWidget(grid)
    assert grid.row_count() == 0
    assert grid.sizeHint().height() == grid.header_height() > 0
    assert grid.sizeHint().width() == 6 * grid.cell_width()


def test_flat_rows_paint_mid_shade_and_broken_cells_paint_cold(qtbot):
    """A row with no spread shows one mid shade; NaN or inf cells show as the coldest, not as hot."""
    grid = make_grid(qtbot)
    heat = np.ones((3, 12))
    heat[1, 3] = np.nan
    heat[2, 0] = np.inf
    grid.set_heat(heat)
    got = grab_image(grid)
    # The same shades from finite values: 0.5 is mid (0 and 1 at the row's ends set the scale).
    ref = np.full((3, 12), 0.5)
    ref[:, 0], ref[:, 11] = 0.0, 1.0
    ref[1, 3] = 0.0
    grid.set_heat(ref)
    want = grab_image(grid)
    cells = [(r, c) for r in range(3) for c in range(1, 11)] + [(2, 0)]
    for r, c in cells:
        assert got.pixelColor(centre(grid, r, c)) == want.pixelColor(centre(grid, r, c)), (r, c)
    assert not color_close(got.pixelColor(centre(grid, 1, 3)), got.pixelColor(centre(grid, 1, 4)), tol=20)
