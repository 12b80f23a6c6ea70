"""Drive the real editor window through a scripted session and save a screenshot at each step.

Run from the repository root, with Strata installed in ``.venv``::

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/make_session.py [--out DIR] [--docs]

The session, on the bundled model (seed 7): open; edit (drag ``wall_hue``
to about -3); reset that row; change ``clutter``'s layer range with a
strength; undo; discover semantics (a real run, N=200, M=8, into a
temporary folder); undo the discovery; save the scene as a PNG; edit again
and quit, answering the unsaved-changes prompt with Discard; reopen the
saved PNG in a new window. Each step's screenshot is ``NN_step.png`` in
``--out`` (default: a new temporary folder); a line per step says what the
window showed (title, rows, sets, edits). ``--docs`` also writes the
screenshots that docs/editor.md shows to ``docs/session/<step>.png``.
Settings, discoveries and the crash journal go to a temporary folder, so the
user's own are left alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DOC_SHOTS = ("edit", "discover_dialog", "discovered_set", "quit_prompt")  # shown in docs/editor.md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--docs", action="store_true", help="also write the screenshots docs/editor.md shows")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="strata-session-"))
    args.out = args.out or tmp / "screenshots"
    args.out.mkdir(parents=True, exist_ok=True)
    docs = Path(__file__).resolve().parent / "session"
    os.environ["STRATA_STATE_DIR"] = str(tmp / "state")

    import platformdirs

    # Discoveries and state go to the temporary folder (the app asks platformdirs for them).
    platformdirs.user_data_dir = lambda *a, **k: str(tmp / "data")
    platformdirs.user_state_dir = lambda *a, **k: str(tmp / "state")
    platformdirs.user_config_dir = lambda *a, **k: str(tmp / "config")

    from strata.widgets._pyside_compat import protect_bools

    protect_bools()
    from PySide6 import QtCore, QtWidgets
    from PySide6.QtTest import QTest

    from strata import assets
    from strata.app.window import MainWindow
    from strata.engine.core.boundary import load_boundaries
    from strata.engine.core.scene import Code

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    settings = QtCore.QSettings(str(tmp / "settings.ini"), QtCore.QSettings.IniFormat)
    boundaries = load_boundaries(assets.default_boundaries_path())[0]

    def settle(win, ms: int = 300) -> None:
        """Let queued frames land: the engine idle, then the GUI's events processed."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            app.processEvents()
            if win.engine.worker.idle() and win.engine._shown == win.engine.latest_stamp \
                    and win.engine.strip_worker.idle():
                break
            time.sleep(0.02)
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    step = [0]

    def shot(widget, name: str, win) -> None:
        step[0] += 1
        path = args.out / f"{step[0]:02d}_{name}.png"
        widget.grab().save(str(path))
        if args.docs and name in DOC_SHOTS:
            docs.mkdir(exist_ok=True)
            widget.grab().save(str(docs / f"{name}.png"))
        rows = win.panel.row_count()
        active = [f"{e.boundary.name}={e.strength:+.2f}@{e.layers[0]}-{e.layers[1]}" for e in win.scene.edits
                  if e.strength]
        print(f"{path.name}: title {win.windowTitle().replace('[*]', '*' if win.isWindowModified() else '')!r}; "
              f"{rows} rows; sets {win.editor.set_names}; edits {active or 'none'}")

    def row_named(win, name: str) -> int:
        return next(i for i in range(win.panel.row_count()) if win.panel.row(i).name == name)

    # 1. Open: the bundled model and its boundaries, seed 7.
    win = MainWindow(assets.default_model_path(), boundaries, title=assets.default_title(), device="cpu",
                     settings=settings)
    win.resize(1280, 760)
    win.show()
    settle(win)
    win.editor.set_code(Code.from_seed(7))
    win._changed()
    win._sync_widgets()
    settle(win)
    shot(win, "open", win)

    # 2. Edit: drag wall_hue's strength slider to the left, as a hand does.
    i = row_named(win, "wall_hue")
    slider = win.panel.row(i)._strength_slider
    win.panel.row(i)._select_by_user()
    y = slider.height() // 2
    x0 = slider.width() // 2
    QTest.mousePress(slider, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier, QtCore.QPoint(x0, y))
    for k in range(1, 11):
        QTest.mouseMove(slider, QtCore.QPoint(int(x0 - k * 0.03 * slider.width()), y))
        app.processEvents()
    QTest.mouseRelease(slider, QtCore.Qt.LeftButton, QtCore.Qt.NoModifier,
                       QtCore.QPoint(int(x0 - 0.3 * slider.width()), y))
    settle(win, 600)
    shot(win, "edit", win)

    # 3. Reset the row with its reset button.
    QTest.mouseClick(win.panel.row(i)._reset_button, QtCore.Qt.LeftButton)
    settle(win)
    shot(win, "reset", win)

    # 4. Change a range: clutter at +3 on layers 6-9 only.
    j = row_named(win, "clutter")
    win.panel.row(j)._select_by_user()
    win.panel.row(j)._strength.setValue(3.0)
    win.panel.row(j)._layers_slider.setValue((6, 9))
    settle(win, 600)
    shot(win, "range", win)

    # 5. Undo (Ctrl+Z): the range change goes.
    win.activateWindow()
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    settle(win)
    shot(win, "undo", win)

    # 6. Discover semantics: a small real run.
    win.discover_dialog()
    dlg = win._discover
    dlg.n_spin.setValue(200)
    dlg.m_spin.setValue(8)
    dlg.start()
    deadline = time.monotonic() + 600
    while dlg.runner.is_running() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    settle(win, 500)
    shot(dlg, "discover_dialog", win)
    dlg.close()
    settle(win)
    shot(win, "discovered_set", win)

    # 7. Undo the discovery: the set goes, the rows are as they were.
    win.activateWindow()
    while not win.isActiveWindow() and time.monotonic() < deadline:
        app.processEvents()
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)
    settle(win)
    shot(win, "undo_discovery", win)

    # 8. Save the scene as a PNG (the title loses its modified mark).
    saved = tmp / "session_scene.png"
    win.save_png(saved)
    settle(win)
    shot(win, "saved", win)

    # 9. Edit again and quit: the prompt, answered Discard.
    win.panel.row(row_named(win, "wall_hue"))._strength.setValue(-2.0)
    settle(win)
    prompt = []

    def answer() -> None:
        box = QtWidgets.QApplication.activeModalWidget()
        if box is None:
            QtCore.QTimer.singleShot(30, answer)
            return
        box.adjustSize()
        prompt.append(box.text())
        shot(box, "quit_prompt", win)
        box.button(QtWidgets.QMessageBox.StandardButton.Discard).click()
    QtCore.QTimer.singleShot(0, answer)
    closed = win.close()
    print(f"quit: prompt {prompt!r}, closed {closed}")

    # 10. Reopen the saved scene in a new window.
    again = MainWindow(assets.default_model_path(), boundaries, title=assets.default_title(), device="cpu",
                       settings=settings)
    again.resize(1280, 760)
    again.show()
    settle(again)
    again.open_path(saved)
    settle(again, 500)
    shot(again, "reopen", again)
    again.discard_on_close = True
    again.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
