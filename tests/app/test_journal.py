"""The crash-recovery journal without Qt: what a crashed session leaves, what the next start finds."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from strata.app.editor import Editor
from strata.app.files import state_dir
from strata.app.journal import Journal
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import RecipeError
from strata.engine.core.scene import Code, Scene


def dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def scene_with_rows(seed=3, strength=1.5) -> Scene:
    rng = np.random.RandomState(0)
    rows = tuple(Edit(Boundary(f"b{i}", rng.randn(16), layers=(1, 3)), strength if i == 0 else 0.0, (1, 3))
                 for i in range(3))
    return Scene(code=Code.from_seed(seed), psi=0.6, edits=rows)


def editing_session(tmp_path) -> Editor:
    ed = Editor(tmp_path / "model.pth", merge_seconds=0)
    ed.push(scene_with_rows())
    ed.set_seed(11)
    ed.set_psi(0.9)
    ed.set_row(0, strength=-2.0)
    ed.undo()  # the present is one step back: one step to redo
    return ed


def test_a_crashed_session_is_found_and_restores_its_history(tmp_path):
    ed = editing_session(tmp_path)
    Journal(tmp_path, pid=dead_pid()).record(ed.history)  # a window that was killed

    session, problems = Journal(tmp_path).recover()
    assert problems == [] and session is not None
    steps, position = ed.history.timeline()
    assert position == session.position and len(session.steps) == len(steps)
    for got, want in zip(session.steps, steps):
        assert got.model_path == want.model_path and got.scene.same_as(want.scene)
    assert session.present.scene.code.seed == 11 and session.present.scene.psi == 0.9

    fresh = Editor(tmp_path / "model.pth")
    fresh.history.restore([ed.state.with_(model_path=s.model_path, scene=s.scene) for s in session.steps],
                          session.position)
    assert fresh.scene.same_as(ed.scene)
    assert fresh.redo() and fresh.scene.edits[0].strength == -2.0
    assert fresh.undo() and fresh.undo() and fresh.scene.psi == 0.6


def test_a_clean_exit_leaves_nothing_to_restore(tmp_path):
    journal = Journal(tmp_path)
    journal.record(editing_session(tmp_path).history)
    assert journal.load().present.scene.code.seed == 11
    journal.clear()
    assert not journal.path.exists() and Journal(tmp_path, pid=1).recover() == (None, [])


def test_a_running_window_s_journal_is_not_offered(tmp_path):
    Journal(tmp_path, pid=os.getppid()).record(editing_session(tmp_path).history)  # alive: our parent
    assert Journal(tmp_path).orphans() == []


def test_boundaries_are_stored_once_however_long_the_history(tmp_path):
    ed = Editor(tmp_path / "model.pth", merge_seconds=0)
    ed.push(scene_with_rows())
    for s in range(40):
        ed.set_seed(s)
    journal = Journal(tmp_path)
    journal.record(ed.history)
    doc = json.loads(journal.path.read_text())
    assert len(doc["boundaries"]) == 3 and len(doc["steps"]) == 42


def test_the_journal_keeps_a_window_of_steps_around_the_present(tmp_path):
    scenes = [("m.pth", Scene(code=Code.from_seed(i))) for i in range(30)]
    journal = Journal(tmp_path, keep=5)
    journal.record_steps(scenes, 20)
    session = journal.load()
    assert [s.scene.code.seed for s in session.steps] == list(range(15, 26))
    assert session.present.scene.code.seed == 20


@pytest.mark.parametrize("damage", ["cut", "checksum", "position", "deep", "not-json", "empty"])
def test_a_damaged_journal_is_one_line_and_is_not_offered_again(tmp_path, damage):
    writer = Journal(tmp_path, pid=dead_pid())
    writer.record(editing_session(tmp_path).history)
    text = writer.path.read_text()
    doc = json.loads(text)
    if damage == "cut":
        text = text[: len(text) // 2]
    elif damage == "checksum":
        doc["steps"][0]["recipe"]["code"]["seed"] = 12
        text = json.dumps(doc)
    elif damage == "position":
        doc["position"] = 99
        text = json.dumps(doc)
    elif damage == "deep":
        text = "[" * 10000 + "]" * 10000
    elif damage == "not-json":
        text = "\x00\x01binary"
    else:
        text = ""
    writer.path.write_text(text)
    with pytest.raises(RecipeError) as err:
        Journal(tmp_path).load(writer.path)
    assert str(writer.path) in str(err.value) and "\n" not in str(err.value)
    session, problems = Journal(tmp_path).recover()
    assert session is None and len(problems) == 1 and not writer.path.exists()


def test_a_journal_write_killed_midway_leaves_the_old_journal_and_no_temp_file(tmp_path):
    writer = Journal(tmp_path, pid=dead_pid())
    writer.record(editing_session(tmp_path).history)
    # What a SIGKILL during the next write leaves: a temporary file of the writer's (now dead) pid.
    stale = tmp_path / f".{writer.path.name}.tmp-{writer.pid}-0123abcd"
    stale.write_bytes(b"{half a journal")
    unrelated = tmp_path / ".notes.txt.tmp-backup"
    unrelated.write_text("not ours")
    session, _ = Journal(tmp_path).recover()
    assert session.present.scene.code.seed == 11
    assert not stale.exists() and unrelated.exists()


def test_the_state_folder_can_be_pointed_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("STRATA_STATE_DIR", str(tmp_path / "elsewhere"))
    assert state_dir() == tmp_path / "elsewhere" and Journal().folder == tmp_path / "elsewhere"


def test_the_journal_imports_no_qt():
    code = "import sys, strata.app.journal; sys.exit(any(m.startswith('PySide6') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
