"""Every model format opens in the window the way a user opens it: File ▸ Open or a drop."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import wait_frame

FORMATS = [  # (fixture, W+ entries)
    ("genforce_stylegan/stylegan_tiny32.pth", 8),
    ("genforce_stylegan2/stylegan2_tiny32.pth", 8),
    ("rosinality_stylegan2/stylegan2_rosinality_tiny32.pt", 8),
    ("nvidia_pkl/stylegan2_ada_tiny32.pkl", 8),
    ("nvidia_pkl/stylegan3t_tiny32.pkl", 16),
]


@pytest.mark.parametrize("name, entries", FORMATS)
def test_a_model_file_of_each_format_opens_and_renders(make_window, qtbot, fixtures_dir, name, entries):
    win = make_window()
    path = fixtures_dir / name
    win.open_path(path)
    qtbot.waitUntil(lambda: win.editor.model is not None and win.editor.model.path == str(path.resolve()),
                    timeout=20_000)
    wait_frame(qtbot, win)
    assert win.view.image().shape == (32, 32, 3)
    assert win.panel.num_layers() == entries
    assert path.stem in win.windowTitle()
    assert "Error" not in win.statusBar().currentMessage()


def test_a_class_conditional_model_shows_a_class_selector_that_draws_the_class(make_window, qtbot, fixtures_dir,
                                                                               tiny_model):
    win = make_window()
    assert win.class_box.isHidden()  # the tiny model has no classes
    cond = fixtures_dir / "nvidia_pkl/stylegan2_ada_cond_tiny32.pkl"
    win.open_path(cond)
    qtbot.waitUntil(lambda: win.editor.model is not None and win.editor.model.num_classes == 5, timeout=20_000)
    wait_frame(qtbot, win)
    assert not win.class_box.isHidden() and win.class_box.maximum() == 4
    first = win.view.image().copy()
    win.class_box.setValue(3)  # as a user picks class 3
    wait_frame(qtbot, win)
    assert win.scene.class_index == 3
    assert np.abs(win.view.image().astype(int) - first).max() > 10
    win.undo()
    wait_frame(qtbot, win)
    assert win.class_box.value() == 0 and np.array_equal(win.view.image(), first)
    win.open_path(tiny_model)  # a model without classes: the selector goes, the scene has no class
    qtbot.waitUntil(lambda: win.editor.model.num_classes == 0, timeout=20_000)
    wait_frame(qtbot, win)
    assert win.class_box.isHidden() and win.scene.class_index is None


def test_a_stylegan3_model_shows_a_transform_row_that_moves_the_scene(make_window, qtbot, fixtures_dir, tiny_model):
    win = make_window()
    assert win.transform_box.isHidden()
    sg3 = fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl"
    win.open_path(sg3)
    qtbot.waitUntil(lambda: win.editor.model is not None and win.editor.model.input_transform, timeout=20_000)
    wait_frame(qtbot, win)
    assert not win.transform_box.isHidden()
    still = win.view.image().copy()
    win.transform_box._sliders[0].setValue(0.25)  # as a user drags "Move x"
    wait_frame(qtbot, win)
    assert win.scene.input_transform == (0.25, 0.0, 0.0)
    moved = win.view.image()
    assert np.abs(moved[:, 12:24].astype(int) - still[:, 4:16]).mean() < np.abs(moved.astype(int) - still).mean()
    win.undo()
    wait_frame(qtbot, win)
    assert win.transform_box.transform() == (0.0, 0.0, 0.0) and np.array_equal(win.view.image(), still)
    win.open_path(tiny_model)
    qtbot.waitUntil(lambda: not win.editor.model.input_transform, timeout=20_000)
    wait_frame(qtbot, win)
    assert win.transform_box.isHidden() and win.scene.input_transform is None


def test_opening_a_model_renders_its_scene_once(make_window, qtbot, fixtures_dir):
    win = make_window(with_boundaries=False)
    before = win.engine.worker.renders
    other = fixtures_dir / "genforce_stylegan/stylegan_tiny32.pth"
    win.open_path(other)
    qtbot.waitUntil(lambda: win.editor.model.path == str(other.resolve()), timeout=20_000)
    wait_frame(qtbot, win)
    qtbot.wait(200)  # room for a second request, had one been made
    wait_frame(qtbot, win)
    assert win.engine.worker.renders - before == 1
    assert win.view.image().shape == (32, 32, 3)
