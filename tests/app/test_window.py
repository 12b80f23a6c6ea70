"""The main window as a person uses it: drag, see, undo, save, reopen."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest

from .conftest_helpers import drag_slider
from strata.engine.core.scene import read_recipe

from .conftest import wait_frame


def set_row(win, i, strength, layers):
    """Set row ``i``'s strength control and its layer-range slider, as a user does."""
    row = win.panel.row(i)
    row._strength.setValue(strength)
    row._layers_slider.setValue(layers)
    assert (row.strength, row.layers) == (strength, layers)



def test_opens_with_boundaries_as_rows_and_a_scene(make_window):
    win = make_window()
    assert win.panel.row_count() == 2
    assert [win.panel.row(i).name for i in range(2)] == ["view", "wood"]  # layout before attribute
    assert win.panel.row(1).layers == (2, 5)
    img = win.view.image()
    assert img.shape == (16, 16, 3) and img.std() > 0
    assert "CPU" in win.status_device.text() and "ms" in win.status_time.text()


def test_dragging_a_slider_changes_the_scene_during_the_drag_and_undo_restores_it(make_window, qtbot):
    win = make_window()
    before = win.view.image().copy()
    slider = win.panel.row(1)._strength_slider
    frames = []
    win.engine.resultReady.connect(lambda r: frames.append(r))
    with drag_slider(qtbot, slider) as move:
        move(0.8)
        # Still holding the mouse button: the scene has already changed.
        qtbot.waitUntil(lambda: bool(frames) and frames[-1].request.scene.edits[1].strength > 1, timeout=10_000)
        wait_frame(qtbot, win)
        assert not np.array_equal(win.view.image(), before)
        move(0.95)
        qtbot.waitUntil(lambda: frames[-1].request.scene.edits[1].strength > 3.5, timeout=10_000)
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength > 3.5
    assert win.scene.edits[1].strength == win.panel.row(1).strength

    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # the whole drag is one step
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength == 0.0
    assert np.array_equal(win.view.image(), before)
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength > 3.5


def test_save_png_quit_reopen_restores_scene_and_sliders(make_window, qtbot, tmp_path):
    win = make_window()
    win.seed_box._spin.setValue(42)  # typed into the seed field
    win.panel.row(0)._strength.setValue(-2.5)
    set_row(win, 1, 1.25, (3, 4))
    wait_frame(qtbot, win)
    shown = win.view.image().copy()
    out = tmp_path / "scene.png"
    assert win.save_png(out)
    win.close()

    win2 = make_window(with_boundaries=False)
    assert win2.panel.row_count() == 0
    win2.open_path(out)
    wait_frame(qtbot, win2)
    assert win2.panel.row_count() == 2
    assert win2.panel.row(0).strength == -2.5
    assert (win2.panel.row(1).strength, win2.panel.row(1).layers) == (1.25, (3, 4))
    assert win2.seed_box.seed() == 42
    assert np.array_equal(win2.view.image(), shown)
    assert str(out.resolve()) in win2.recent_files()


def test_a_bad_model_file_is_reported_and_the_edits_are_kept(make_window, qtbot, tmp_path, tiny_model):
    win = make_window()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    shown = win.view.image().copy()
    bad = tmp_path / "broken.pth"
    bad.write_bytes(tiny_model.read_bytes()[:5000])
    win.open_path(bad)
    wait_frame(qtbot, win)
    msg = win.statusBar().currentMessage()
    assert msg.startswith("Error:") and "broken.pth" in msg and "corrupt or truncated" in msg
    assert win.state.model_path == str(tiny_model.resolve())
    assert win.scene.edits[1].strength == 2.0 and win.panel.row(1).strength == 2.0
    set_row(win, 1, 0.0, (2, 5))  # still editing
    wait_frame(qtbot, win)
    assert not np.array_equal(win.view.image(), shown)


def test_saving_to_a_bad_path_keeps_the_state(make_window, qtbot, tmp_path):
    win = make_window()
    set_row(win, 0, 1.0, (0, 1))
    wait_frame(qtbot, win)
    assert not win.save_png(tmp_path / "missing_dir" / "x.png")
    assert "missing_dir" in win.statusBar().currentMessage()
    assert win.scene.edits[0].strength == 1.0 and win.history.can_undo()


def test_dropping_a_boundary_file_adds_a_row(make_window, qtbot, tmp_path):
    from strata.engine.core.boundary import Boundary, save_boundary
    win = make_window()
    save_boundary(Boundary("lamp", np.random.RandomState(5).randn(16), level="object", layers=(2, 3)),
                  tmp_path / "lamp.npz")
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(tmp_path / "lamp.npz"))])
    pos = QtCore.QPointF(win.rect().center())
    args = (QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier)
    try:  # Qt 6.12 takes a QPointF and deprecates the QPoint form that older Qt 6 needs
        enter = QtGui.QDragEnterEvent(pos, *args)
    except TypeError:
        enter = QtGui.QDragEnterEvent(pos.toPoint(), *args)
    QtWidgets.QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    drop = QtGui.QDropEvent(pos, QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier)
    QtWidgets.QApplication.sendEvent(win, drop)
    wait_frame(qtbot, win)
    assert [win.panel.row(i).name for i in range(win.panel.row_count())] == ["view", "wood", "lamp"]
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.panel.row_count() == 2


def test_a_boundary_of_the_wrong_dimension_is_refused_with_both_dimensions(make_window, qtbot, fixtures_dir):
    win = make_window()
    win.open_path(fixtures_dir / "higan_boundaries" / "stylegan_bedroom" / "view_boundary.npy")
    assert "512" in win.statusBar().currentMessage() and "16" in win.statusBar().currentMessage()
    assert win.panel.row_count() == 2
    # Said where it cannot be missed: a bar above the rows that stays until the user dismisses it.
    assert win.message_bar.isVisible() and "512" in win.message_bar.text() and "16" in win.message_bar.text()
    win.statusBar().clearMessage()  # the status bar's line has timed out
    qtbot.wait(50)
    assert win.message_bar.isVisible()
    QTest.mouseClick(win.message_bar._close, QtCore.Qt.LeftButton)
    assert not win.message_bar.isVisible()


def test_boundaries_given_at_start_that_do_not_fit_are_said_in_the_message_bar(qtbot, tmp_path, tiny_model,
                                                                               fixtures_dir):
    from strata.app.window import MainWindow
    from strata.engine.core.boundary import load_boundaries

    big = load_boundaries(fixtures_dir / "higan_boundaries" / "stylegan_bedroom")[0]
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(tiny_model, big, device="cpu", settings=settings)
    win.quiet_errors = win.discard_on_close = True
    qtbot.addWidget(win)
    win.show()
    wait_frame(qtbot, win)
    assert win.panel.row_count() == 0
    assert win.message_bar.isVisible() and "do not fit" in win.message_bar.text()
    win.close()


def test_export_and_import_wp_code(make_window, qtbot, tmp_path):
    win = make_window()
    set_row(win, 1, 3.0, (0, 5))
    wait_frame(qtbot, win)
    shown = win.view.image().copy()
    assert win.export_wp(tmp_path / "wp.npy")
    assert np.load(tmp_path / "wp.npy").shape == (1, 6, 16)
    win.reset_all()
    wait_frame(qtbot, win)
    win.open_path(tmp_path / "wp.npy")  # a [1, L, w_dim] .npy is taken as a code
    wait_frame(qtbot, win)
    assert win.scene.code.space == "wp"
    assert np.array_equal(win.view.image(), shown)


def test_window_state_and_recent_files_persist(make_window, qtbot, tmp_path, tiny_model):
    win = make_window()
    win.resize(1300, 820)
    win.open_path(tiny_model)
    wait_frame(qtbot, win)
    win.close()
    assert win.settings.value("window/geometry") is not None
    win2 = make_window()
    # The offscreen screen is 800 px tall: the restored window is clamped to it, but restored.
    assert win2.size().height() >= 770
    assert win2.recent_files()[0] == str(tiny_model.resolve())


def test_preview_strip_for_the_selected_row(make_window, qtbot, tmp_path):
    win = make_window()
    win.panel.set_selected_row(1)
    win.panel.rowSelected.emit(1)
    qtbot.waitUntil(lambda: len(win.strip.images()) == 7, timeout=10_000)
    imgs = win.strip.images()
    assert win.strip.strengths() == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert np.array_equal(imgs[3], win.view.image())  # strength 0 is the scene as it is
    assert not np.array_equal(imgs[0], imgs[6])
    # Clicking a thumbnail sets the row's strength, and the scene follows.
    QTest.mouseClick(win.strip.thumb(5), QtCore.Qt.LeftButton)
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength == 2.0 and win.scene.edits[1].strength == 2.0
    assert np.array_equal(win.view.image(), imgs[5])
    assert win.export_strip(tmp_path / "strip.png") and win.export_strip(tmp_path / "strip.gif")
    from PIL import Image
    gif = Image.open(tmp_path / "strip.gif")
    assert gif.n_frames == 12 and Image.open(tmp_path / "strip.png").width > 7 * 100


def fake_discovery(monkeypatch, tmp_path, boundaries):
    """run_discovery replaced by one that reports progress and writes ``boundaries`` to its library."""
    import time

    import platformdirs

    import strata.engine.discovery.pipeline
    from strata.engine.core.boundary import save_boundary

    def fake_run(model_path, *, out_dir, progress=None, should_stop=None, **kw):
        for i in range(5):
            time.sleep(0.05)
            progress((i + 1) / 5, f"step {i}")
        d = __import__("pathlib").Path(out_dir) / "boundaries"
        d.mkdir(parents=True, exist_ok=True)
        for b in boundaries:
            save_boundary(b, d / f"{b.name}.npz")
        return {}

    monkeypatch.setattr(strata.engine.discovery.pipeline, "run_discovery", fake_run)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "data"))


def test_discover_semantics_runs_in_the_background_and_adds_rows_with_a_heat_map(
        make_window, qtbot, tmp_path, monkeypatch):
    from strata.engine.core.boundary import Boundary

    rng = np.random.RandomState(3)
    fake_discovery(monkeypatch, tmp_path, [
        Boundary("lamp", rng.randn(16), level="object", layers=(2, 3), extra={"dS": [0, 0.1, 0.9, 0.8, 0.1, 0]}),
        Boundary("wall_hue", rng.randn(16), level="colour", layers=(5, 5), extra={"dS": [0, 0, 0, 0.1, 0.2, 0.9]})])
    win = make_window(with_boundaries=False)
    win.discover_dialog()
    dlg = win._discover
    assert dlg.isVisible()
    dlg.start()
    assert win.isEnabled()  # the window stays usable while it runs
    qtbot.waitUntil(lambda: win.panel.row_count() == 2, timeout=10_000)
    assert [win.panel.row(i).name for i in range(2)] == ["lamp", "wall_hue"]
    heat = win.panel.layer_grid().heat()
    assert heat is not None and heat.shape == (2, 6) and heat[0].argmax() == 2
    assert dlg.runner.wait(5)


def test_a_discovery_arrives_as_a_new_set_and_leaves_the_rows_and_the_scene_alone(
        make_window, qtbot, tmp_path, monkeypatch):
    from strata.engine.core.boundary import Boundary

    rng = np.random.RandomState(3)
    fake_discovery(monkeypatch, tmp_path, [Boundary("wood", rng.randn(16), level="colour", layers=(5, 5)),
                                           Boundary("lamp", rng.randn(16), level="object", layers=(2, 3))])
    win = make_window()
    set_row(win, 1, 2.0, (3, 4))  # wood: a strength and a range of the user's own
    wait_frame(qtbot, win)
    edited = win.view.image().copy()
    rows = [(r.name, r.level, r.strength, r.layers) for r in map(win.panel.row, range(win.panel.row_count()))]
    win.discover_dialog()
    win._discover.start()
    qtbot.waitUntil(lambda: win.set_bar.isVisible(), timeout=10_000)
    wait_frame(qtbot, win)
    assert [(r.name, r.level, r.strength, r.layers) for r in map(win.panel.row, range(win.panel.row_count()))] == rows
    assert np.array_equal(win.view.image(), edited)
    assert win.set_bar.names()[0] == "Boundaries" and win.set_bar.names()[1].startswith("Discovery")

    assert win._discover.runner.wait(5)
    win._discover.close()  # the user closes the dialog and goes back to the window
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5000)
    win.set_bar.combo.activated.emit(1)  # the user picks the discovered set
    wait_frame(qtbot, win)
    assert [(r.name, r.level) for r in map(win.panel.row, range(2))] == [("lamp", "object"), ("wood", "colour")]
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # back to the user's rows, levels and all
    wait_frame(qtbot, win)
    assert [(r.name, r.level, r.strength, r.layers, r.default_layers)
            for r in map(win.panel.row, range(2))][1] == ("wood", "attribute", 2.0, (3, 4), (2, 5))
    assert np.array_equal(win.view.image(), edited)
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # and before the discovery
    assert not win.set_bar.isVisible() and win.editor.set_names == ["Boundaries"]


def test_opening_a_model_of_another_dimension_keeps_it_and_drops_rows_that_do_not_fit(
        make_window, qtbot, fixtures_dir, tiny_model):
    win = make_window()
    assert win.panel.row_count() == 2
    other = fixtures_dir / "genforce_stylegan" / "stylegan_tiny32.pth"
    win.open_path(other)
    wait_frame(qtbot, win)
    qtbot.waitUntil(lambda: win.editor.model.path == str(other.resolve()), timeout=10_000)
    wait_frame(qtbot, win)
    assert win.view.image().shape == (32, 32, 3)
    assert win.panel.row_count() == 0 and "do not fit" in win.statusBar().currentMessage()
    assert win.panel.num_layers() == 8
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # back to the first model and its rows
    wait_frame(qtbot, win)
    qtbot.waitUntil(lambda: win.editor.model.path == str(tiny_model.resolve()), timeout=10_000)
    assert win.panel.row_count() == 2 and win.view.image().shape == (16, 16, 3)


def test_ctrl_z_in_a_focused_number_field_undoes_the_editor_not_the_text(make_window, qtbot):
    win = make_window()
    field = win.panel.row(1)._strength_field
    field.setFocus()
    field.selectAll()
    QTest.keyClicks(field, "1.5")
    QTest.keyClick(field, QtCore.Qt.Key_Return)
    wait_frame(qtbot, win)
    assert win.scene.edits[1].strength == 1.5
    field.setFocus()
    QTest.keyClick(field, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    wait_frame(qtbot, win)
    assert win.scene.edits[1].strength == 0.0 and win.panel.row(1).strength == 0.0


def test_a_failing_frame_does_not_lose_the_scene(make_window, qtbot):
    win = make_window()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    shown = win.view.image().copy()
    # A frame the engine refuses; the real slider cannot reach past the last layer, so inject it.
    win.panel.rowChanged.emit(1, {"strength": 2.0, "layers": (2, 9)})
    wait_frame(qtbot, win)
    assert "Error" in win.statusBar().currentMessage()
    assert np.array_equal(win.view.image(), shown)
    assert win.scene.edits[1].strength == 2.0  # the edit is still there to fix
    win.panel.rowChanged.emit(1, {"strength": 2.0, "layers": (2, 5)})
    wait_frame(qtbot, win)
    assert np.array_equal(win.view.image(), shown)


def test_save_after_a_failed_frame_writes_the_frame_on_screen_with_its_recipe(make_window, qtbot, tmp_path):
    win = make_window()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    shown = win.view.image().copy()
    win.panel.rowChanged.emit(1, {"strength": 4.0, "layers": (2, 9)})  # a frame the engine refuses
    wait_frame(qtbot, win)
    assert "Error" in win.statusBar().currentMessage() and win.scene.edits[1].strength == 4.0
    assert win.save_png(tmp_path / "scene.png") and win.export_wp(tmp_path / "wp.npy")
    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(tmp_path / "scene.png").convert("RGB")), shown)
    saved = read_recipe(tmp_path / "scene.png")
    assert (saved.edits[1].strength, saved.edits[1].layers) == (2.0, (2, 5))  # what drew the frame
    # Its code is that frame's too: opened again, it draws the same pixels.
    win.reset_all()
    wait_frame(qtbot, win)
    win.open_path(tmp_path / "wp.npy")
    wait_frame(qtbot, win)
    assert np.array_equal(win.view.image(), shown)


def test_a_stylegan2_file_opens_renders_and_takes_a_dropped_boundary(make_window, qtbot, fixtures_dir, tmp_path):
    from strata.engine.core.boundary import Boundary, save_boundary
    win = make_window()
    path = fixtures_dir / "rosinality_stylegan2" / "stylegan2_rosinality_tiny32.pt"
    win.open_path(path)
    qtbot.waitUntil(lambda: win.editor.model.path == str(path.resolve()), timeout=10_000)
    wait_frame(qtbot, win)
    before = win.view.image().copy()
    assert before.shape == (32, 32, 3) and before.std() > 0
    assert win.panel.num_layers() == 8
    save_boundary(Boundary("tint", np.random.RandomState(1).randn(64), level="colour", layers=(5, 7)),
                  tmp_path / "tint.npz")
    win.open_path(tmp_path / "tint.npz")
    qtbot.waitUntil(lambda: win.panel.row_count() == 1, timeout=5_000)
    win.panel.row(0)._strength.setValue(3.0)
    qtbot.waitUntil(lambda: not np.array_equal(win.view.image(), before), timeout=10_000)


def test_an_ambiguous_code_asks_whether_it_is_z_or_w(make_window, qtbot, tmp_path):
    win = make_window()
    assert win.editor.model.z_dim == win.editor.model.w_dim == 16
    np.save(tmp_path / "code.npy", np.random.RandomState(0).randn(1, 16).astype(np.float32))

    def answer(label):
        def click():
            box = QtWidgets.QApplication.activeModalWidget()
            assert isinstance(box, QtWidgets.QMessageBox) and "both as z and as w" in box.text()
            for b in box.buttons():
                if b.text() == label:
                    b.click()
        QtCore.QTimer.singleShot(50, click)

    before = win.scene
    answer("Cancel")
    win._import_code(tmp_path / "code.npy")  # what File > Import code does with the chosen file
    assert win.scene == before  # cancelled: nothing changed
    answer("Read as w")
    win._import_code(tmp_path / "code.npy")
    assert win.scene.code.space == "w"
    wait_frame(qtbot, win)
    as_w = win.view.image().copy()
    answer("Read as z")
    win._import_code(tmp_path / "code.npy")
    assert win.scene.code.space == "z"
    wait_frame(qtbot, win)
    assert not np.array_equal(win.view.image(), as_w)


def test_events_that_arrive_after_close_are_ignored(make_window, qtbot):
    """A strip refresh or a frame still queued when the window closes must not reach a closed engine."""
    win = make_window()
    win.panel.set_selected_row(1)
    win.panel.rowSelected.emit(1)
    qtbot.waitUntil(lambda: len(win.strip.images()) == 7, timeout=10_000)
    strips = win.engine._strip_stamp
    set_row(win, 1, 1.0, (2, 5))  # the strip would refresh once the hand rests
    win.close()
    qtbot.wait(400)  # past the rest delay
    assert win.engine._strip_stamp == strips and win.engine.closed
    renders = win.engine.worker.renders
    stamp = win.engine.request(win.state.model_path, win.scene)  # what a late slot would do
    win._request_strip()
    qtbot.wait(50)
    assert stamp == win.engine.latest_stamp and win.engine.worker.renders == renders
    assert not win.engine.worker.alive and not win.engine.strip_worker.alive


def test_save_dialogs_offer_a_name_in_the_last_folder(make_window, qtbot, tmp_path, monkeypatch):
    from pathlib import Path

    from PySide6 import QtWidgets

    win = make_window()
    wait_frame(qtbot, win)
    win.seed_box._spin.setValue(7)
    wait_frame(qtbot, win)
    win.settings.setValue("paths/last_dir", str(tmp_path))
    offered = []
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName",
                        lambda parent, title, start, filt: (offered.append(start), ("", ""))[1])
    win.save_as()
    win.save_recipe_dialog()
    win.export_wp_dialog()
    assert offered == [str(tmp_path / "scene_seed7.png"), str(tmp_path / "scene_seed7.json"),
                       str(tmp_path / "wp_seed7.npy")]
    assert Path(offered[0]).parent == tmp_path


def test_a_40px_drag_on_the_truncation_slider_moves_psi_a_little(make_window, qtbot):
    from PySide6 import QtCore

    win = make_window()
    wait_frame(qtbot, win)
    win.psi_box.set_psi(0.85)
    slider = win.psi_box._slider._slider
    from tests.widgets.qtwidget_helpers import slider_handle_center
    start = slider_handle_center(slider)  # on the handle: a press beside it would jump
    left = QtCore.Qt.MouseButton.LeftButton
    qtbot.mousePress(slider, left, pos=start)
    for dx in range(5, 45, 5):
        qtbot.mouseMove(slider, QtCore.QPoint(start.x() - dx, start.y()))
    qtbot.mouseRelease(slider, left, pos=QtCore.QPoint(start.x() - 40, start.y()))
    assert 0.0 < 0.85 - win.psi_box.psi() <= 0.2


def test_one_ctrl_z_after_a_reset_restores_the_row(make_window, qtbot):
    win = make_window()
    wait_frame(qtbot, win)
    row = win.panel.row(1)
    before = win.view.image().copy()
    with drag_slider(qtbot, row._strength_slider) as move:  # a drag, then reset at once
        move(0.85)
    wait_frame(qtbot, win)
    dragged = win.panel.row(1).strength
    edited = win.view.image().copy()
    assert dragged > 1 and not np.array_equal(edited, before)

    QTest.mouseClick(win.panel.row(1)._reset_button, QtCore.Qt.LeftButton)
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength == 0.0 and np.array_equal(win.view.image(), before)

    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # one step back: the reset undone
    wait_frame(qtbot, win)
    assert win.panel.row(1).strength == dragged
    assert win.scene.edits[1].strength == dragged
    assert np.array_equal(win.view.image(), edited)


def test_opening_the_preview_strip_hides_no_row(qtbot, tmp_path):
    """At the default size, on the bundled model's 17 rows: the rows in view stay in view when a row is
    selected and its strip opens, and all seven thumbnails are in view."""
    from strata import assets
    from strata.app.window import MainWindow
    from strata.engine.core.boundary import load_boundaries

    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.IniFormat)
    win = MainWindow(assets.default_model_path(), load_boundaries(assets.default_boundaries_path())[0],
                     device="cpu", settings=settings)
    win.quiet_errors = True
    win.discard_on_close = True
    qtbot.addWidget(win)
    win.show()
    wait_frame(qtbot, win)

    def rows_in_view():
        viewport = win.panel.findChild(QtWidgets.QScrollArea).viewport()
        return [i for i in range(win.panel.row_count())
                if viewport.rect().contains(win.panel.row(i).mapTo(viewport, win.panel.row(i).rect().bottomLeft()))]

    before = rows_in_view()
    assert len(before) >= 14
    QTest.mouseClick(win.panel.row(0)._name_label, QtCore.Qt.LeftButton)
    qtbot.waitUntil(lambda: len(win.strip.images()) == 7, timeout=10_000)
    # Widgets added to a shown layout are shown on the next turn of the event loop.
    qtbot.waitUntil(lambda: all(win.strip.thumb(i).isVisible() for i in range(7)), timeout=5000)
    assert rows_in_view() == before
    strip_rect = QtCore.QRect(win.strip.mapTo(win, QtCore.QPoint(0, 0)), win.strip.size())
    for i in range(7):
        thumb = win.strip.thumb(i)
        assert thumb.isVisible() and thumb.pixmap().width() >= 48
        assert strip_rect.contains(QtCore.QRect(thumb.mapTo(win, QtCore.QPoint(0, 0)), thumb.size()))
    win.close()


def test_changing_only_the_layers_keeps_a_strength_finer_than_the_field(make_window, qtbot):
    win = make_window()
    assert win.editor.set_row(1, 1.234)  # as a recipe or a script sets it
    win._changed()
    win._sync_widgets()
    wait_frame(qtbot, win)
    win.panel.row(1)._layers_slider.setValue((3, 4))  # the user moves only the range
    wait_frame(qtbot, win)
    assert win.scene.edits[1].layers == (3, 4)
    assert win.scene.edits[1].strength == 1.234


def test_ctrl_z_while_typing_in_a_number_field_undoes_the_typing(make_window, qtbot):
    win = make_window()
    scene = win.scene
    for field, start in ((win.panel.row(1)._strength_field, "0.00"), (win.seed_box.findChild(QtWidgets.QSpinBox)
                                                                        .lineEdit(), None)):
        start = field.text() if start is None else start
        field.setFocus()
        field.selectAll()
        QTest.keyClicks(field, "12")
        assert field.text() != start
        QTest.keyClick(field, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
        assert field.text() == start  # the typing is undone, in the field
        wait_frame(qtbot, win)
        assert win.scene.same_as(scene)  # and the document is as it was
        QTest.keyClick(field, QtCore.Qt.Key_Escape)


def answer_prompt(qtbot, button):
    """Press ``button`` on the unsaved-changes box once it shows (it is modal: answered from a timer)."""
    seen = []

    def press():
        box = QtWidgets.QApplication.activeModalWidget()
        if box is None or box.objectName() != "unsavedPrompt":
            QtCore.QTimer.singleShot(20, press)
            return
        seen.append(box.text())
        box.button(button).click()
    QtCore.QTimer.singleShot(0, press)
    return seen


def test_the_title_marks_unsaved_changes_and_quitting_asks_save_discard_or_cancel(make_window, qtbot, tmp_path):
    win = make_window()
    win.discard_on_close = False
    assert win.windowTitle().startswith("Untitled[*] — Strata") and not win.isWindowModified()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    assert win.isWindowModified()
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # undone back to the start: nothing to save
    assert not win.isWindowModified()
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier | QtCore.Qt.ShiftModifier)  # redo
    wait_frame(qtbot, win)
    assert win.isWindowModified()

    seen = answer_prompt(qtbot, QtWidgets.QMessageBox.StandardButton.Cancel)
    assert not win.close() and win.isVisible()  # Cancel: the window stays with every edit
    assert seen and "Save the changes" in seen[0] and win.scene.edits[1].strength == 2.0

    path = tmp_path / "kept.png"
    win.editor.save_path = path  # Save writes here without a dialog
    answer_prompt(qtbot, QtWidgets.QMessageBox.StandardButton.Save)
    assert win.close()
    assert read_recipe(path).edits[1].strength == 2.0


def test_saving_clears_the_modified_marker_and_names_the_file(make_window, qtbot, tmp_path):
    win = make_window()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    assert win.save_png(tmp_path / "room.png")
    assert win.windowTitle().startswith("room.png[*]") and not win.isWindowModified()
    set_row(win, 1, 1.0, (2, 5))
    wait_frame(qtbot, win)
    assert win.isWindowModified()
    win.discard_on_close = False
    answer_prompt(qtbot, QtWidgets.QMessageBox.StandardButton.Discard)
    assert win.close()
    assert read_recipe(tmp_path / "room.png").edits[1].strength == 2.0  # Discard wrote nothing


def test_a_reopened_scene_is_not_marked_modified(make_window, qtbot, tmp_path):
    win = make_window()
    set_row(win, 1, 2.0, (2, 5))
    wait_frame(qtbot, win)
    assert win.save_png(tmp_path / "a.png")
    set_row(win, 1, 0.5, (2, 5))
    wait_frame(qtbot, win)
    win.open_path(tmp_path / "a.png")  # the same model: no refit
    wait_frame(qtbot, win)
    assert win.scene.edits[1].strength == 2.0
    assert not win.isWindowModified() and win.windowTitle().startswith("a.png[*]")
