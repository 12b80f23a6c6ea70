import gc
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets
from qtwidget_helpers import Recorder, color_close, drag, grab_image

from strata.widgets.scene_view import SceneView

BACKGROUND = QtGui.QColor("#1b1d21")


def make_view(qtbot, w=300, h=300):
    view = SceneView()
    qtbot.addWidget(view)
    view.resize(w, h)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_image_is_drawn_centred_with_its_aspect_ratio(qtbot):
    view = make_view(qtbot)
    arr = np.zeros((32, 64, 3), np.uint8)
    arr[...] = (200, 40, 30)
    view.set_image(arr)
    img = grab_image(view)
    # A 2:1 image in a square view: full width, half height, centred.
    assert color_close(img.pixelColor(150, 150), QtGui.QColor(200, 40, 30))
    assert color_close(img.pixelColor(5, 80), QtGui.QColor(200, 40, 30))
    assert color_close(img.pixelColor(150, 30), BACKGROUND)
    assert color_close(img.pixelColor(150, 270), BACKGROUND)
    rect = view.image_rect()
    assert rect.width() == pytest.approx(300) and rect.height() == pytest.approx(150)


def checker_view(qtbot):
    """A 200 px view without caption, showing a 4 x 4 black and white checkerboard."""
    view = make_view(qtbot, 200, 200)
    view.set_caption_visible(False)
    checker = np.zeros((4, 4, 3), np.uint8)
    checker[::2, ::2] = 255
    checker[1::2, 1::2] = 255
    view.set_image(checker)
    return view


def sampled_colours(img):
    """The colours of every third pixel of a 200 px grab, across and down."""
    return {img.pixel(x, y) for x in range(0, 200, 3) for y in range(0, 200, 3)}


def test_upscaling_is_crisp_not_blurred(qtbot):
    view = checker_view(qtbot)
    img = grab_image(view)
    colours = sampled_colours(img)
    assert len(colours) == 2  # black and white only: nearest-neighbour


def test_downscaling_is_smooth(qtbot):
    view = make_view(qtbot, 100, 100)
    view.set_caption_visible(False)
    stripes = np.zeros((400, 400, 3), np.uint8)
    stripes[:, ::2] = 255
    view.set_image(stripes)
    img = grab_image(view)
    grey = QtGui.QColor(img.pixel(50, 50))
    assert 60 < grey.red() < 200  # stripes averaged, not aliased to black or white


def test_image_returns_the_array_and_keeps_it_alive(qtbot):
    view = make_view(qtbot)
    arr = np.full((16, 16, 3), 90, np.uint8)
    view.set_image(arr)
    assert view.image() is arr
    del arr
    gc.collect()
    img = grab_image(view)
    assert color_close(img.pixelColor(150, 150), QtGui.QColor(90, 90, 90))


def test_non_contiguous_array_is_shown_correctly(qtbot):
    view = make_view(qtbot)
    base = np.zeros((16, 32, 3), np.uint8)
    base[:, ::2] = (10, 200, 10)
    view.set_image(base[:, ::2])  # strided view: every other column
    assert view.image().flags.c_contiguous
    img = grab_image(view)
    assert color_close(img.pixelColor(150, 150), QtGui.QColor(10, 200, 10))


@pytest.mark.parametrize(
    "bad",
    [np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8)],
)
def test_wrong_arrays_are_refused(qtbot, bad):
    view = make_view(qtbot)
    with pytest.raises(ValueError):
        view.set_image(bad)
    assert view.image() is None


def test_caption_gives_the_native_resolution(qtbot):
    view = make_view(qtbot)
    view.set_image(np.full((256, 256, 3), 128, np.uint8))
    assert view.toolTip().splitlines()[0] == "256 x 256 px"
    with_caption = grab_image(view)
    view.set_caption_visible(False)
    without = grab_image(view)
    # The caption sits in the lower left corner of the image.
    assert with_caption.copy(0, 250, 150, 50) != without.copy(0, 250, 150, 50)
    assert with_caption.copy(150, 0, 150, 150) == without.copy(150, 0, 150, 150)


def test_message_is_shown_without_an_image_and_clear_removes_the_image(qtbot):
    view = make_view(qtbot)
    blank = grab_image(view)
    view.set_message("Loading model...")
    assert view.message() == "Loading model..."
    assert grab_image(view) != blank
    view.set_image(np.zeros((8, 8, 3), np.uint8))
    view.set_message("")
    view.clear()
    assert view.image() is None
    assert grab_image(view) == blank


# ---------------------------------------------------------------- zoom, pan, scaling

QUADRANTS = {  # colour of each 32 x 32 quadrant of a 64 px test image
    (0, 0): (220, 30, 30), (0, 1): (30, 200, 30), (1, 0): (30, 30, 220), (1, 1): (230, 230, 40),
}


def quadrant_image():
    arr = np.zeros((64, 64, 3), np.uint8)
    for (r, c), colour in QUADRANTS.items():
        arr[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32] = colour
    return arr


def wheel(widget, pos, notches=1):
    pos = QtCore.QPointF(pos)
    event = QtGui.QWheelEvent(
        pos, QtCore.QPointF(widget.mapToGlobal(pos.toPoint())), QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 120 * notches), QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.ScrollPhase.NoScrollPhase, False,
    )
    QtWidgets.QApplication.sendEvent(widget, event)


def image_point_under(view, pos):
    """The image pixel (column, row) drawn at viewport point ``pos``."""
    rect = view.image_rect()
    img = view.image()
    return (int((pos.x() - rect.x()) / rect.width() * img.shape[1]),
            int((pos.y() - rect.y()) / rect.height() * img.shape[0]))


def test_view_opens_fitted_and_the_wheel_zooms_around_the_cursor(qtbot):
    view = make_view(qtbot, 320, 320)
    view.set_image(quadrant_image())
    assert view.is_fit() and view.zoom() == pytest.approx(5.0)
    cursor = QtCore.QPointF(100.0, 220.0)  # over the lower left (blue) quadrant
    under = image_point_under(view, cursor)
    zooms = Recorder(view.zoomChanged)
    wheel(view.viewport(), cursor)
    assert not view.is_fit() and view.zoom() == 6.0
    assert zooms.calls == [(6.0,)]
    qtbot.wait(1)  # let the scroll bars appear
    assert image_point_under(view, cursor) == under
    img = grab_image(view.viewport())
    assert color_close(img.pixelColor(100, 220), QtGui.QColor(*QUADRANTS[1, 0]))
    wheel(view.viewport(), cursor, notches=2)
    assert view.zoom() == 10.0 and image_point_under(view, cursor) == under
    # Zooming back out stops at "fit" rather than jumping past it.
    wheel(view.viewport(), cursor, notches=-4)
    qtbot.wait(1)  # let the scroll bars go
    assert view.is_fit() and view.image_rect() == QtCore.QRectF(0, 0, 320, 320)


def test_keys_zoom_in_and_out_fit_and_show_actual_pixels(qtbot):
    view = make_view(qtbot, 300, 300)
    view.set_image(quadrant_image())
    Key, Ctrl = QtCore.Qt.Key, QtCore.Qt.KeyboardModifier.ControlModifier
    qtbot.keyClick(view, Key.Key_1, Ctrl)
    assert view.zoom() == 1.0 and view.image_rect() == QtCore.QRectF(118, 118, 64, 64)
    qtbot.keyClick(view, Key.Key_Equal, Ctrl)
    assert view.zoom() == 2.0 and view.image_rect().width() == 128
    qtbot.keyClick(view, Key.Key_Plus, Ctrl | QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert view.zoom() == 3.0
    qtbot.keyClick(view, Key.Key_Minus, Ctrl)
    qtbot.keyClick(view, Key.Key_Minus, Ctrl)
    assert view.zoom() == 1.0
    qtbot.keyClick(view, Key.Key_0, Ctrl)
    assert view.is_fit() and view.image_rect().width() == 300


def test_a_zoomed_image_can_be_dragged_and_scrolled(qtbot):
    view = make_view(qtbot, 300, 300)
    view.set_image(quadrant_image())
    view.set_zoom(10.0)  # 640 px in a 300 px view
    qtbot.wait(1)
    assert view.horizontalScrollBar().isVisible() and view.verticalScrollBar().isVisible()
    before = view.image_rect()
    drag(qtbot, view.viewport(), QtCore.QPoint(150, 150), QtCore.QPoint(210, 110))
    moved = view.image_rect()
    assert (moved.x() - before.x(), moved.y() - before.y()) == (60, -40)
    view.horizontalScrollBar().setValue(0)
    view.verticalScrollBar().setValue(0)
    img = grab_image(view.viewport())
    assert color_close(img.pixelColor(5, 5), QtGui.QColor(*QUADRANTS[0, 0]))
    # Fitted, there is nothing to pan: a drag leaves the image where it is.
    view.fit_to_window()
    qtbot.wait(1)
    fitted = view.image_rect()
    drag(qtbot, view.viewport(), QtCore.QPoint(150, 150), QtCore.QPoint(210, 110))
    assert view.image_rect() == fitted and not view.horizontalScrollBar().isVisible()


def test_double_click_toggles_fit_and_a_closer_look(qtbot):
    view = make_view(qtbot, 300, 300)
    left = QtCore.Qt.MouseButton.LeftButton
    view.set_image(np.zeros((600, 600, 3), np.uint8))  # reduced to fit: a closer look is 1:1
    qtbot.mouseDClick(view.viewport(), left, pos=QtCore.QPoint(150, 150))
    assert view.zoom() == 1.0
    qtbot.mouseDClick(view.viewport(), left, pos=QtCore.QPoint(150, 150))
    assert view.is_fit()
    view.set_image(quadrant_image())  # enlarged to fit (4.7x): 1:1 would shrink it
    qtbot.mouseDClick(view.viewport(), left, pos=QtCore.QPoint(150, 150))
    assert view.zoom() == 10.0


def test_smooth_scaling_toggle_blurs_an_enlarged_image(qtbot):
    view = checker_view(qtbot)
    assert not view.smooth() and not view.action("smooth").isChecked()
    view.action("smooth").trigger()
    assert view.smooth()
    img = grab_image(view)
    colours = sampled_colours(img)
    assert len(colours) > 10  # greys between the squares
    view.set_smooth(False)
    assert not view.action("smooth").isChecked()


HIDPI_SCRIPT = r"""
import numpy as np
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
from strata.widgets.scene_view import SceneView
view = SceneView()
view.resize(300, 300)
view.show()
arr = np.zeros((64, 64, 3), np.uint8)
arr[:, 32:] = 255
view.set_image(arr)
view.set_caption_visible(False)
view.actual_size()
img = view.viewport().grab().toImage()
row = [img.pixelColor(x, 300).red() for x in range(img.width())]
lit = [x for x, r in enumerate(row) if r > 128]
print(view.devicePixelRatioF(), view.image_rect().width(), img.width(), len(lit))
"""


def test_actual_pixels_are_device_pixels_on_a_high_dpi_screen():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2")
    out = subprocess.run([sys.executable, "-c", HIDPI_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    dpr, logical_width, device_width, lit = float(out[0]), float(out[1]), int(out[2]), int(out[3])
    assert dpr == 2.0 and device_width == 600
    # 1:1 on a 2x screen: 64 image pixels cover 64 device pixels (32 logical), the white half 32.
    assert logical_width == 32.0 and lit == 32


# ---------------------------------------------------------------- menu and clipboard


def test_context_menu_offers_copy_save_and_recipe(qtbot):
    view = make_view(qtbot)
    menu = view.context_menu()
    texts = [a.text().split("\t")[0].replace("&", "") for a in menu.actions()]
    assert texts[:3] == ["Copy image", "Save image…", "Copy recipe"]
    assert view.action("copy_image").text().endswith("\tCtrl+C")
    assert not view.action("copy_image").isEnabled()  # nothing to copy yet
    view.set_image(quadrant_image())
    assert all(view.action(n).isEnabled() for n in ("copy_image", "save_image", "copy_recipe"))
    saves, recipes = Recorder(view.saveRequested), Recorder(view.copyRecipeRequested)
    view.action("save_image").trigger()
    view.action("copy_recipe").trigger()
    assert len(saves) == 1 and len(recipes) == 1


def test_copy_image_and_ctrl_c_put_the_scene_on_the_clipboard(qtbot):
    view = make_view(qtbot)
    clipboard = QtGui.QGuiApplication.clipboard()
    clipboard.clear()
    arr = quadrant_image()
    view.set_image(arr)
    copied = Recorder(view.imageCopied)
    view.action("copy_image").trigger()
    got = clipboard.image().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    assert (got.width(), got.height()) == (64, 64)
    assert got.pixelColor(40, 40) == QtGui.QColor(*QUADRANTS[1, 1])
    clipboard.clear()
    qtbot.keyClick(view, QtCore.Qt.Key.Key_C, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert clipboard.image().width() == 64 and len(copied) == 2


def test_overlay_labels_what_the_view_shows(qtbot):
    view = make_view(qtbot)
    view.set_image(np.full((64, 64, 3), 128, np.uint8))
    plain = grab_image(view)
    view.set_overlay("preview")
    labelled = grab_image(view)
    assert view.overlay() == "preview"
    assert labelled.copy(150, 250, 150, 50) != plain.copy(150, 250, 150, 50)  # lower right
    assert labelled.copy(0, 0, 300, 150) == plain.copy(0, 0, 300, 150)


# ---------------------------------------------------------------- before / after

AFTER, BEFORE = (200, 40, 30), (30, 60, 210)


def compare_view(qtbot):
    view = make_view(qtbot, 300, 300)
    view.set_caption_visible(False)
    view.set_image(np.full((64, 64, 3), AFTER, np.uint8))
    return view


def test_holding_backslash_shows_the_unedited_scene(qtbot):
    view = compare_view(qtbot)
    started, ended = Recorder(view.compareStarted), Recorder(view.compareEnded)
    assert view.compare_mode() == "hold"
    qtbot.keyPress(view, QtCore.Qt.Key.Key_Backslash)
    assert len(started) == 1 and view.showing_before()
    view.set_before(np.full((64, 64, 3), BEFORE, np.uint8))  # the window answers the signal
    assert color_close(grab_image(view).pixelColor(150, 200), QtGui.QColor(*BEFORE))
    qtbot.keyRelease(view, QtCore.Qt.Key.Key_Backslash)
    assert len(ended) == 1 and not view.showing_before()
    assert color_close(grab_image(view).pixelColor(150, 200), QtGui.QColor(*AFTER))
    view.set_compare_mode("off")
    qtbot.keyPress(view, QtCore.Qt.Key.Key_Backslash)
    assert not view.showing_before() and len(started) == 1


def test_compare_key_works_from_other_controls_but_types_into_text_fields(qtbot):
    window = QtWidgets.QWidget()
    qtbot.addWidget(window)
    slider, field, view = QtWidgets.QSlider(), QtWidgets.QLineEdit(), SceneView()
    layout = QtWidgets.QHBoxLayout(window)
    for w in (slider, field, view):
        layout.addWidget(w)
    view.install_compare_key(window)
    view.set_image(np.full((64, 64, 3), AFTER, np.uint8))
    view.set_before(np.full((64, 64, 3), BEFORE, np.uint8))
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus, timeout=1000)
    qtbot.keyPress(slider, QtCore.Qt.Key.Key_Backslash)
    assert view.showing_before()
    qtbot.keyRelease(slider, QtCore.Qt.Key.Key_Backslash)
    assert not view.showing_before()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=1000)
    qtbot.keyClicks(field, "\\")
    assert field.text() == "\\" and not view.showing_before()


def test_split_view_shows_before_left_of_a_draggable_divider(qtbot):
    view = compare_view(qtbot)
    started = Recorder(view.compareStarted)
    view.action("compare_split").trigger()
    assert view.compare_mode() == "split" and len(started) == 1
    view.set_before(np.full((64, 64, 3), BEFORE, np.uint8))
    img = grab_image(view)
    assert color_close(img.pixelColor(60, 250), QtGui.QColor(*BEFORE))
    assert color_close(img.pixelColor(240, 250), QtGui.QColor(*AFTER))
    assert view.divider_x() == 150
    grip = QtCore.QPoint(150, 40)
    drag(qtbot, view.viewport(), grip, QtCore.QPoint(45, 40))
    assert view.split_position() == pytest.approx(0.15)
    img = grab_image(view)
    assert color_close(img.pixelColor(60, 250), QtGui.QColor(*AFTER))
    assert color_close(img.pixelColor(20, 250), QtGui.QColor(*BEFORE))
    ended = Recorder(view.compareEnded)
    view.action("compare_hold").trigger()
    assert len(ended) == 1
    assert color_close(grab_image(view).pixelColor(20, 250), QtGui.QColor(*AFTER))


def test_a_new_frame_keeps_the_zoom_and_the_panning(qtbot):
    view = make_view(qtbot, 300, 300)
    view.set_image(quadrant_image())
    view.set_zoom(8.0)
    qtbot.wait(1)
    view.horizontalScrollBar().setValue(40)
    placed = view.image_rect()
    view.set_image(quadrant_image()[::-1].copy())  # the next frame of a slider drag
    assert view.zoom() == 8.0 and view.image_rect() == placed
