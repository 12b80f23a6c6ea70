"""A window killed with SIGKILL mid-session: the next start offers the session back, history and all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from .conftest import wait_frame

DRIVER = textwrap.dedent("""
    import sys, time
    from strata.widgets._pyside_compat import protect_bools
    protect_bools()
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication(sys.argv[:1])
    from strata.app.window import MainWindow
    from strata.engine.core.boundary import load_boundaries
    model, bounds, ini = sys.argv[1:4]
    win = MainWindow(model, load_boundaries(bounds)[0], device="cpu",
                     settings=QtCore.QSettings(ini, QtCore.QSettings.IniFormat))
    win.show()

    def pump(until, timeout=60):
        end = time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        assert until(), "timed out"

    pump(lambda: win.editor.last is not None and win.engine.worker.idle())
    win.panel.row(1)._strength.setValue(2.5)   # the user's edits, as the controls make them
    pump(lambda: win.journal.path.is_file())
    win.panel.row(0)._strength.setValue(-1.0)
    pump(lambda: '"strength":-1.0' in win.journal.path.read_text())
    print("journaled", flush=True)
    while True:                                  # editing goes on until the kill
        app.processEvents()
        time.sleep(0.01)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_after_sigkill_the_next_start_restores_the_session(make_window, qtbot, tmp_path, tiny_model, boundary_dir):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # STRATA_STATE_DIR: this test's (conftest)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tiny_model), str(boundary_dir),
                             str(tmp_path / "killed.ini")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "journaled", proc.stderr.read() if proc.poll() is not None else line
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL

    win = make_window()
    assert not win.history.can_undo()
    assert win.offer_recovery() and win.message_bar.isVisible() and "did not close normally" in \
        win.message_bar.text()
    QTest.mouseClick(win.message_bar.action_button(), QtCore.Qt.LeftButton)
    wait_frame(qtbot, win)
    assert [e.strength for e in win.scene.edits] == [-1.0, 2.5]
    assert [win.panel.row(i).strength for i in range(2)] == [-1.0, 2.5]
    QTest.keyClick(win, QtCore.Qt.Key_Z, QtCore.Qt.ControlModifier)  # the restored history undoes
    wait_frame(qtbot, win)
    assert [e.strength for e in win.scene.edits] == [0.0, 2.5]
    assert not win.offer_recovery()  # restored once: not offered again


def test_a_clean_exit_leaves_nothing_to_recover(make_window, qtbot):
    win = make_window()
    win.panel.row(1)._strength.setValue(2.0)
    wait_frame(qtbot, win)
    qtbot.waitUntil(lambda: win.journal.path.is_file(), timeout=5000)
    win.close()
    assert not win.journal.path.exists()
    assert not make_window().offer_recovery()
