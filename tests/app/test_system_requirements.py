"""Before Qt starts on Linux/xcb: missing X libraries are one line naming the packages, not Qt's abort."""

from __future__ import annotations

import importlib

import pytest

from strata.engine.core.errors import StrataError

app_main = importlib.import_module("strata.app.main")  # the module; strata.app.main is also the function

PRESENT = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}


def loader(present):
    def load(soname):
        if soname not in present:
            raise OSError(f"{soname}: cannot open shared object file")
    return load


def test_a_machine_without_libxcb_cursor_gets_the_install_command():
    with pytest.raises(StrataError) as err:
        app_main.check_xcb_libraries(platform="linux", env={"DISPLAY": ":0"},
                                     load=loader(PRESENT - {"libxcb-cursor.so.0"}))
    msg = str(err.value)
    assert "\n" not in msg
    assert "libxcb-cursor.so.0" in msg
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in msg


def test_nothing_is_said_when_the_libraries_are_there_or_xcb_is_not_used():
    app_main.check_xcb_libraries(platform="linux", env={"DISPLAY": ":0"}, load=loader(PRESENT))
    missing = loader(set())
    app_main.check_xcb_libraries(platform="linux", env={"QT_QPA_PLATFORM": "offscreen"}, load=missing)
    app_main.check_xcb_libraries(platform="linux", env={"WAYLAND_DISPLAY": "wayland-0"}, load=missing)
    app_main.check_xcb_libraries(platform="darwin", env={}, load=missing)
    app_main.check_xcb_libraries(platform="win32", env={}, load=missing)
    with pytest.raises(StrataError):
        app_main.check_xcb_libraries(platform="linux", env={"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"},
                                     load=missing)


def test_the_command_line_prints_one_line_and_exits_1(monkeypatch, capsys):
    from strata.app.cli import main

    monkeypatch.setattr(app_main.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app_main, "_load_library", loader(set()))
    assert main([]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sudo apt-get install libxcb-cursor0" in err
