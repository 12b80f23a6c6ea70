import gc

import numpy as np
import pytest
from PySide6 import QtGui
from qtwidget_helpers import color_close, grab_image

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


def test_upscaling_is_crisp_not_blurred(qtbot):
    view = make_view(qtbot, 200, 200)
    view.set_caption_visible(False)
    checker = np.zeros((4, 4, 3), np.uint8)
    checker[::2, ::2] = 255
    checker[1::2, 1::2] = 255
    view.set_image(checker)
    img = grab_image(view)
    colours = {img.pixel(x, y) for x in range(0, 200, 3) for y in range(0, 200, 3)}
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
    assert view.toolTip() == "256 x 256 px"
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
