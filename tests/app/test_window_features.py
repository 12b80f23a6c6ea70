"""What an image editor is expected to have, in the window: copy, context menu, help, compare,
keyboard rows, reopening the last scene, a drag preview on slow models, and a 1280x720 screen."""

from __future__ import annotations

import json

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest

from strata.engine.core.scene import Scene, read_recipe

from .conftest import wait_frame
from .conftest_helpers import drag_slider


def focus(qtbot, widget):
    widget.window().activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: widget.hasFocus(), timeout=3000)


def test_ctrl_c_copies_the_scene_and_a_text_field_keeps_its_own_copy(make_window, qtbot):
    win = make_window()
    clipboard = QtWidgets.QApplication.clipboard()
    clipboard.clear()
    focus(qtbot, win.panel.row(1)._strength_slider)
    QTest.keyClick(win.panel.row(1)._strength_slider, QtCore.Qt.Key_C, QtCore.Qt.ControlModifier)
    image = clipboard.image()
    assert not image.isNull() and (image.width(), image.height()) == win.view.image().shape[1::-1]
    px = image.pixelColor(3, 5)
    assert (px.red(), px.green(), px.blue()) == tuple(int(v) for v in win.view.image()[5, 3])

    field = win.panel.row(1)._strength_field
    focus(qtbot, field)
    field.selectAll()
    QTest.keyClick(field, QtCore.Qt.Key_C, QtCore.Qt.ControlModifier)
    assert clipboard.text() == field.text()  # the field's text, not the image


def test_copy_recipe_gives_json_that_opens_as_the_same_scene(make_window, qtbot, tmp_path):
    win = make_window()
    win.panel.row(1)._strength.setValue(1.5)
    wait_frame(qtbot, win)
    win.view.action("copy_recipe").trigger()
    text = QtWidgets.QApplication.clipboard().text()
    (tmp_path / "pasted.json").write_text(text)
    assert read_recipe(tmp_path / "pasted.json").edits[1].strength == 1.5
    assert Scene.from_dict(json.loads(text)).same_as(win.editor.recipe_scene())


def test_the_context_menu_offers_copy_save_and_recipe_and_save_saves(make_window, qtbot, tmp_path, monkeypatch):
    win = make_window()
    menu = win.view.context_menu()
    texts = [a.text().split("\t")[0].replace("&", "") for a in menu.actions()]
    assert {"Copy image", "Save image…", "Copy recipe"} <= set(texts)
    target = tmp_path / "from_menu.png"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    next(a for a in menu.actions() if a.text().startswith("&Save image")).trigger()
    assert read_recipe(target).psi == win.scene.psi


def test_help_has_shortcuts_about_and_docs_and_every_menu_action_says_its_keys(make_window, qtbot):
    win = make_window()
    focus(qtbot, win.view)
    QTest.keyClick(win.view, QtCore.Qt.Key_F1)
    qtbot.waitUntil(lambda: win.findChild(QtWidgets.QDialog, "shortcutSheet") is not None, timeout=3000)
    sheet = win.findChild(QtWidgets.QDialog, "shortcutSheet")
    table = sheet.findChild(QtWidgets.QTableWidget)
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Undo"] == QtGui.QKeySequence(QtGui.QKeySequence.Undo).toString(QtGui.QKeySequence.NativeText)
    assert "Ctrl+C" in rows["Copy image"] and "Up / Down" in rows.values()
    sheet.close()

    about = win.about_text()
    from strata.engine import __version__
    assert __version__ in about and win.editor.model.name in about and "MIT" in about
    assert win.editor.model.device in about
    assert win.docs_url().isValid()

    for a in win._menu_actions():
        assert a.toolTip(), a.text()
        for key in a.shortcuts():
            assert key.toString(QtGui.QKeySequence.NativeText) in a.toolTip(), a.text()


def test_holding_backslash_shows_the_unedited_scene(make_window, qtbot):
    win = make_window()
    unedited = win.view.image().copy()
    win.panel.row(1)._strength.setValue(3.0)
    wait_frame(qtbot, win)
    edited = win.view.image().copy()
    assert not np.array_equal(edited, unedited)
    focus(qtbot, win.panel.row(1)._strength_slider)
    QTest.keyPress(win.panel.row(1)._strength_slider, QtCore.Qt.Key_Backslash)
    qtbot.waitUntil(lambda: win.view.before() is not None, timeout=5000)
    assert win.view.showing_before() and np.array_equal(win.view.before(), unedited)
    QTest.keyRelease(win.panel.row(1)._strength_slider, QtCore.Qt.Key_Backslash)
    assert not win.view.showing_before() and np.array_equal(win.view.image(), edited)


def test_rows_by_keyboard_up_down_to_move_left_right_to_change(make_window, qtbot):
    win = make_window()
    focus(qtbot, win.panel)
    QTest.keyClick(win.panel, QtCore.Qt.Key_Down)
    QTest.keyClick(win.panel, QtCore.Qt.Key_Down)
    assert win.panel.selected_row() == 1
    QTest.keyClick(win.panel, QtCore.Qt.Key_Right)
    QTest.keyClick(win.panel, QtCore.Qt.Key_Right, QtCore.Qt.ShiftModifier)
    wait_frame(qtbot, win)
    assert win.scene.edits[1].strength == 1.1
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    assert win.scene.edits[1].strength < 1.1


def test_started_with_nothing_to_open_it_offers_the_last_scene(make_window, qtbot, tmp_path):
    win = make_window()
    win.panel.row(1)._strength.setValue(2.0)
    wait_frame(qtbot, win)
    assert win.save_png(tmp_path / "last.png")
    win.close()
    again = make_window()
    assert again.offer_last_scene()
    assert again.message_bar.isVisible() and "last.png" in again.message_bar.text()
    QTest.mouseClick(again.message_bar.action_button(), QtCore.Qt.LeftButton)
    wait_frame(qtbot, again)
    assert again.scene.edits[1].strength == 2.0 and not again.message_bar.isVisible()


def test_a_slow_model_previews_a_drag_at_reduced_precision_and_ends_on_the_exact_frame(make_window, qtbot):
    win = make_window()
    win.live_preview_seconds = 0.0  # every model counts as slow: the drag is previewed
    sent = []
    request = win.engine.request
    win.engine.request = lambda path, scene, precision="exact": (sent.append(precision),
                                                                 request(path, scene, precision))[1]
    with drag_slider(qtbot, win.panel.row(1)._strength_slider) as move:
        move(0.9)
    assert "fast" in sent
    qtbot.waitUntil(lambda: sent[-1] == "exact", timeout=5000)  # the hand rests: the exact frame
    wait_frame(qtbot, win)
    assert win.editor.last.exact and win.view.overlay() == ""
    exact, _ = win.engine.renderer.render_scene(win.scene, win.state.model_path)
    assert np.array_equal(win.view.image(), exact)
    win.engine.request = request


def test_at_1280x720_every_control_is_in_view(make_window, qtbot):
    win = make_window()
    win.resize(1280, 720)
    qtbot.waitUntil(lambda: win.height() <= 720, timeout=3000)
    assert win.minimumSizeHint().height() <= 720 and win.minimumSizeHint().width() <= 1280
    inside = QtCore.QRect(0, 0, win.width(), win.height())
    for w in (win.seed_box, win.psi_box, win.view, win.panel, win.menuBar(), win.statusBar()):
        rect = QtCore.QRect(w.mapTo(win, QtCore.QPoint(0, 0)), w.size())
        assert w.isVisible() and inside.contains(rect), w
    assert win.view.height() >= 300
