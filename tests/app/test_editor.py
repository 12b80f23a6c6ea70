"""The editor's rules without Qt: what a result shows, what Save writes, what undo restores."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from strata.app.editor import Editor, Reaction, code_fits, merge_boundaries, panel_rows, window_title
from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import StrataError
from strata.engine.core.models import file_fingerprint
from strata.engine.core.render import ModelInfo, RenderRequest, RenderResult
from strata.engine.core.scene import Code, ModelRef, Scene, write_recipe_json


def info(path="/m/a.pth", *, name="a", w_dim=16, num_layers=6, z_dim=16, psi=0.5) -> ModelInfo:
    return ModelInfo(path=path, name=name, description="", fingerprint="f" * 64, resolution=16, z_dim=z_dim,
                     w_dim=w_dim, num_layers=num_layers, layer_resolutions=(4,) * num_layers,
                     truncation_layers=num_layers, default_psi=psi, device="CPU")


def bnd(name, seed=0, *, dim=16, level="attribute", layers=(2, 5)) -> Boundary:
    return Boundary(name, np.random.RandomState(seed).randn(dim), level=level, layers=layers)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


_stamp = iter(range(1, 10**6))


def frame(editor, model=None, *, error="", scene=None, path=None, value=None):
    """The engine's answer to a request for the present state (or ``scene`` / ``path``)."""
    model = model or editor.model or info(editor.state.model_path)
    req = RenderRequest(next(_stamp), path or editor.state.model_path, scene or editor.scene)
    if error:
        return RenderResult(req, model=model, error=error)
    value = next(_stamp) % 256 if value is None else value
    return RenderResult(req, np.full((16, 16, 3), value, np.uint8), np.zeros((1, model.num_layers, model.w_dim),
                                                                             np.float32), 0.01, model)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def editor(clock):
    ed = Editor("/m/a.pth", [bnd("wood", 1), bnd("view", 2, level="layout", layers=(0, 1))], clock=clock)
    ed.take_result(frame(ed, info()))
    return ed


def test_the_first_frame_fits_the_rows_and_the_models_truncation(clock):
    ed = Editor("/m/a.pth", [bnd("wood", 1), bnd("view", 2, level="layout", layers=(0, 1))], clock=clock)
    r = ed.take_result(frame(ed, info(psi=0.5)))
    assert r.frame and r.fitted and r.render and r.first_frame
    assert [e.boundary.name for e in ed.scene.edits] == ["view", "wood"]  # layout before attribute
    assert ed.scene.psi == 0.5 and ed.scene.model.path == "/m/a.pth"
    assert not ed.history.can_undo()  # loading is not a step to undo
    r = ed.take_result(frame(ed))
    assert r.frame and not (r.fitted or r.render or r.first_frame)


def test_after_a_failed_frame_save_writes_the_last_good_frame_with_its_recipe(editor):
    editor.set_row(1, 2.0, (2, 5))
    good = frame(editor, value=7)
    editor.take_result(good)
    editor.set_row(1, 3.0, (2, 5))
    r = editor.take_result(frame(editor, error="out of memory"))
    assert r.error == "out of memory" and not r.alert and not r.frame
    image, scene = editor.frame_to_save()
    assert image is good.image and np.all(image == 7)
    assert scene.edits[1].strength == 2.0  # the recipe that drew the frame, not the newest edit
    assert scene.model == ModelRef("f" * 64, "/m/a.pth", "a")
    assert editor.scene.edits[1].strength == 3.0  # the edit is still there to fix


def test_nothing_to_save_before_the_first_frame(clock):
    ed = Editor("/m/a.pth", clock=clock)
    r = ed.take_result(frame(ed, error="/m/a.pth: no such file"))
    assert r.error and r.alert  # nothing on screen: the failure is all there is to show
    assert ed.frame_to_save() is None and ed.last is None


def test_a_model_that_does_not_open_leaves_the_old_one_with_every_edit(editor, tmp_path):
    editor.set_row(0, 1.5, (0, 1))
    editor.take_result(frame(editor))
    other = tmp_path / "b.pth"
    other.write_bytes(b"x")
    editor.open_model(other)
    r = editor.take_result(frame(editor, error="b.pth: truncated or corrupt", model=info()))
    assert r.restored and r.alert and r.render and "corrupt" in r.error
    assert editor.state.model_path == "/m/a.pth" and editor.scene.edits[0].strength == 1.5


def test_a_model_of_another_size_keeps_the_model_and_drops_the_rows_that_do_not_fit(editor, tmp_path):
    other = tmp_path / "b.pth"
    other.write_bytes(b"x")
    editor.open_model(other)
    big = info(str(other.resolve()), name="b", w_dim=64, num_layers=8)
    r = editor.take_result(frame(editor, error="wood: boundary has dimension 16 but ...", model=big))
    assert r.fitted and r.render and not r.error
    assert editor.scene.edits == () and editor.model is big
    assert r.notes[-1] == "2 boundary row(s) do not fit b and were removed"
    # Once only: if the fitted scene fails too, the editor goes back to the model that rendered.
    r = editor.take_result(frame(editor, error="still failing", model=big))
    assert r.restored and editor.state.model_path == "/m/a.pth"
    assert editor.undo() and editor.state.model_path == "/m/a.pth" and len(editor.scene.edits) == 2


def test_a_frame_of_a_model_the_editor_has_left_is_not_shown(editor, tmp_path):
    old = frame(editor)
    other = tmp_path / "b.pth"
    other.write_bytes(b"x")
    editor.open_model(other)
    assert editor.take_result(old) == Reaction()
    assert editor.last is not old


def test_a_drag_is_one_undo_step_and_a_pause_starts_another(editor, clock):
    for s in (0.5, 1.0, 1.5):
        clock.t += 0.05
        assert editor.set_row(1, s, (2, 5))
    clock.t += 2.0
    editor.set_row(1, 2.0, (2, 5))
    assert not editor.set_row(1, 2.0, (2, 5))  # a change that changes nothing is no step
    assert editor.undo() and editor.scene.edits[1].strength == 1.5
    assert editor.undo() and editor.scene.edits[1].strength == 0.0
    assert not editor.history.can_undo()
    assert editor.redo() and editor.scene.edits[1].strength == 1.5


def test_resets_restore_each_boundarys_layers_clipped_to_the_model(clock):
    ed = Editor("/m/a.pth", [bnd("wide", 1, layers=(3, 12)), bnd("all", 2, layers=None)], clock=clock)
    ed.take_result(frame(ed, info(num_layers=6)))
    assert [e.layers for e in ed.scene.edits] == [(0, 5), (3, 5)]
    ed.set_row(1, 2.0, (0, 0))
    ed.set_row(0, -1.0, (1, 2))
    assert ed.reset_row(1) and ed.scene.edits[1].strength == 0.0 and ed.scene.edits[1].layers == (3, 5)
    assert ed.reset_all() and [(e.strength, e.layers) for e in ed.scene.edits] == [(0.0, (0, 5)), (0.0, (3, 5))]
    assert not ed.reset_all()
    assert [r["default_layers"] for r in panel_rows(ed.scene, 6)] == [(0, 5), (3, 5)]


def test_a_signal_from_a_row_that_is_gone_changes_nothing(editor):
    assert not editor.set_row(5, 1.0, (0, 1)) and not editor.reset_row(5) and not editor.pick_strength(5, 1.0)
    assert not editor.history.can_undo()


def test_merging_boundaries_orders_skips_replaces_and_refuses_in_one_line():
    model = info()
    scene = Scene(edits=(Edit(bnd("wood", 1), 2.5, (2, 5)),))
    refit = bnd("wood", 9, layers=(1, 3))
    merged, msgs = merge_boundaries(scene, [bnd("wood", 1), refit, bnd("tint", 3, level="colour"),
                                            bnd("view", 2, level="layout"), bnd("huge", 4, dim=512),
                                            bnd("huger", 5, dim=512)], model)
    assert [e.boundary.name for e in merged.edits] == ["wood", "view", "tint"]
    assert merged.edits[0].boundary is refit and merged.edits[0].strength == 2.5  # keeps its strength
    assert msgs == ["2 boundaries do not fit a and were not added; boundary 'huge': boundary has dimension 512 "
                    "but the model's W space has 16"]


def test_boundaries_opened_before_the_model_wait_for_it(clock):
    ed = Editor("/m/a.pth", clock=clock)
    assert ed.add_boundaries([bnd("lamp", 3, level="object")]) == (None, [])
    ed.take_result(frame(ed, info()))
    assert [e.boundary.name for e in ed.scene.edits] == ["lamp"]


def test_a_boundary_that_fits_nothing_is_refused_naming_both_dimensions(editor):
    with pytest.raises(StrataError, match="512.*16"):
        editor.add_boundaries([bnd("huge", 4, dim=512)])
    assert len(editor.scene.edits) == 2 and not editor.history.can_undo()
    assert editor.add_boundaries([bnd("lamp", 3, level="object")]) == (1, [])
    assert editor.undo() and len(editor.scene.edits) == 2


def test_opening_a_recipe_finds_its_model_and_save_rewrites_a_png_in_place(editor, tmp_path):
    model = tmp_path / "m.pth"
    model.write_bytes(b"weights")
    scene = Scene(model=ModelRef(file_fingerprint(model), str(model), "m"), code=Code.from_seed(42))
    write_recipe_json(scene, tmp_path / "r.json")
    editor.save_path = tmp_path / "old.png"
    editor.open_recipe(tmp_path / "r.json")
    assert editor.state.model_path == str(model.resolve()) and editor.scene.code.seed == 42
    assert editor.save_path is None  # a JSON recipe has no image to rewrite
    assert editor.undo() and editor.state.model_path == "/m/a.pth"


def test_code_fits_and_ambiguous_codes(editor, tmp_path):
    m = info()
    assert code_fits(Code.from_seed(3), m)
    assert code_fits(Code("wp", None, np.zeros((1, 6, 16))), m)
    assert not code_fits(Code("wp", None, np.zeros((1, 8, 16))), m)
    np.save(tmp_path / "c.npy", np.zeros((1, 16), np.float32))
    code = editor.read_code(tmp_path / "c.npy")
    assert code.space == "z" and editor.code_is_ambiguous(code)  # z_dim == w_dim: only the user knows
    assert editor.read_code(tmp_path / "c.npy", space="w").space == "w"


def test_the_title_names_the_model_on_screen():
    assert window_title(None, "/m/a.pth") == "Strata — a.pth"
    assert window_title(info(), "/m/a.pth") == "Strata — a — 16×16"
    assert window_title(info(), "/m/a.pth", default_title="Rooms", default_path="/m/a.pth") == "Strata — Rooms — 16×16"


def test_the_editing_modules_load_without_qt():
    code = ("import sys, strata.app.editor, strata.app.files, strata.app.history\n"
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'superqt', 'qtawesome', 'qtpy')"
            " or m.startswith('strata.widgets')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == []


def test_a_discovered_set_arrives_beside_the_rows_and_changes_nothing_the_user_set(editor):
    editor.set_row(1, 2.5, (3, 4))  # wood: a strength and a custom range
    before = editor.scene
    refit = bnd("wood", 9, level="object", layers=(1, 3))
    assert editor.add_set("Discovery 14:03", [refit, bnd("lamp", 3, level="object")]) == (2, [])
    assert editor.scene.same_as(before)  # the rows and the picture are as the user left them
    assert editor.set_names == ["Boundaries", "Discovery 14:03"] and editor.active_set == 0
    # Switching shows the new set's rows (strength 0, their own layers); switching back restores the user's.
    assert editor.switch_set(1)
    assert [(e.boundary.name, e.strength, e.layers) for e in editor.scene.edits] == \
        [("lamp", 0.0, (2, 5)), ("wood", 0.0, (1, 3))]
    editor.set_row(0, 1.0)
    assert editor.switch_set(0)
    assert editor.scene.same_as(before)
    assert editor.switch_set(1) and editor.scene.edits[0].strength == 1.0  # the other set kept its value too


def test_undo_after_a_discovery_takes_the_set_back_and_redo_brings_it(editor):
    editor.add_set("Discovery", [bnd("wood", 9, level="object", layers=(1, 3))])
    editor.switch_set(1)
    assert editor.undo() and editor.active_set == 0 and editor.scene.edits[1].boundary.level == "attribute"
    assert editor.undo() and editor.set_names == ["Boundaries"]
    assert editor.redo() and editor.redo() and editor.active_set == 1
    assert editor.scene.edits[0].boundary.level == "object"


def test_merging_a_set_adds_its_rows_and_keeps_both_boundaries_of_one_name_apart(editor):
    editor.set_row(1, 2.5, (3, 4))
    editor.add_set("Discovery", [bnd("wood", 9, level="object", layers=(1, 3)), bnd("lamp", 3, level="object")])
    assert editor.merge_set(1) == 2
    names = [(e.boundary.name, e.strength, e.layers) for e in editor.scene.edits]
    assert names == [("view", 0.0, (0, 1)), ("wood", 2.5, (3, 4)), ("lamp", 0.0, (2, 5)),
                     ("wood (Discovery)", 0.0, (1, 3))]
    assert editor.merge_set(1) == 0  # already there
    assert editor.undo() and len(editor.scene.edits) == 2


def test_a_set_name_is_made_unique_and_a_set_that_fits_nothing_is_refused(editor):
    editor.add_set("Discovery", [bnd("lamp", 3)])
    editor.add_set("Discovery", [bnd("lamp", 4)])
    assert editor.set_names == ["Boundaries", "Discovery", "Discovery (2)"]
    with pytest.raises(StrataError, match="512"):
        editor.add_set("Huge", [bnd("huge", 4, dim=512)])
    assert editor.remove_set(1) and editor.set_names == ["Boundaries", "Discovery (2)"]
    assert not editor.remove_set(0)  # the active set stays


def test_save_never_writes_a_preview_and_keeps_rows_at_zero(editor):
    from dataclasses import replace as dc_replace

    editor.take_result(frame(editor))  # the frame asked for after fitting
    exact = editor.last
    assert editor.frame_to_save()[1].edits == editor.scene.edits  # rows at 0 drew the same pixels: kept
    editor.set_row(1, 2.0)
    preview = dc_replace(frame(editor), precision="bfloat16")
    editor.take_result(preview)
    assert editor.last is preview and editor.needs_exact_frame()
    image, scene = editor.frame_to_save()
    assert image is exact.image and scene.edits[1].strength == 0.0  # the exact frame and its own recipe
