"""Every model format opens in the window the way a user opens it: File ▸ Open or a drop."""

from __future__ import annotations

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
