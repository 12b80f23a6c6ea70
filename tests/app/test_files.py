"""What a dropped or opened path is taken for, and the recent-files list (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from strata.app import files
from strata.engine.core.errors import StrataError

SHAPE = (1, 6, 16)


def test_each_kind_of_path(tmp_path):
    np.save(tmp_path / "code.npy", np.zeros(SHAPE, np.float32))
    np.save(tmp_path / "wood.npy", np.ones((1, 16), np.float32))
    kinds = {name: files.kind_of(tmp_path / name, code_shape=SHAPE)
             for name in ("m.pth", "m.PT", "m.pkl", "s.png", "s.json", "b.npz", "code.npy", "wood.npy")}
    assert kinds == {"m.pth": "model", "m.PT": "model", "m.pkl": "model", "s.png": "recipe", "s.json": "recipe", "b.npz": "boundaries",
                     "code.npy": "code", "wood.npy": "boundaries"}
    assert files.kind_of(tmp_path) == "boundaries"  # a folder of boundaries
    with pytest.raises(StrataError, match=r"notes\.txt: Strata opens models"):
        files.kind_of(tmp_path / "notes.txt")


def test_a_code_shaped_npy_is_a_boundary_when_named_so_or_before_a_model(tmp_path):
    np.save(tmp_path / "wood_boundary.npy", np.zeros(SHAPE, np.float32))
    np.save(tmp_path / "code.npy", np.zeros(SHAPE, np.float32))
    assert files.kind_of(tmp_path / "wood_boundary.npy", code_shape=SHAPE) == "boundaries"
    assert files.kind_of(tmp_path / "code.npy", code_shape=None) == "boundaries"
    assert files.kind_of(tmp_path / "code.npy", code_shape=(1, 8, 16)) == "boundaries"
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    assert not files.looks_like_code(tmp_path / "broken.npy", SHAPE)  # the boundary reader will say why


def test_recent_files_newest_first_once_and_at_most_ten(tmp_path):
    recent: list[str] = []
    for i in range(12):
        recent = files.with_recent(recent, tmp_path / f"{i}.png")
    assert len(recent) == files.MAX_RECENT and recent[0] == str((tmp_path / "11.png").resolve())
    again = files.with_recent(recent, tmp_path / "5.png")
    assert again[0] == str((tmp_path / "5.png").resolve()) and again.count(again[0]) == 1 and len(again) == 10
    assert files.recent_list(None) == [] and files.recent_list("/a.png") == ["/a.png"]
    assert files.recent_list(["/a.png", ""]) == ["/a.png"]


def test_strata_keeps_its_files_in_the_platforms_folders(tmp_path, monkeypatch):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_config_dir", lambda app, author: str(tmp_path / "config" / app))
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app, author: str(tmp_path / "data" / app))
    assert files.settings_path() == tmp_path / "config" / "Strata" / "settings.ini"
    assert files.discoveries_dir("ab" * 32) == tmp_path / "data" / "Strata" / "discoveries" / ("ab" * 6)


def test_save_dialogs_suggest_a_name_from_the_scene():
    from strata.engine.core.boundary import Boundary
    from strata.engine.core.edits import Edit
    from strata.engine.core.scene import Code, Scene

    wood = Boundary(name="wood floor", vector=np.ones(16, np.float32) / 4.0)
    scene = Scene(code=Code.from_seed(7), edits=(Edit(wood, 1.0, (0, 3)),))
    assert files.suggested_name(scene, "png") == "scene_seed7.png"
    assert files.suggested_name(scene, "json") == "scene_seed7.json"
    assert files.suggested_name(scene, "wp") == "wp_seed7.npy"
    assert files.suggested_name(scene, "strip_png", row=0) == "strip_wood_floor.png"
    assert files.suggested_name(scene, "strip_gif", row=0) == "strip_wood_floor.gif"
    imported = scene.with_(code=Code(space="wp", seed=None, array=np.zeros((1, 6, 16), np.float32)))
    assert files.suggested_name(imported, "png") == "scene.png"  # no seed to name it by
    assert files.suggested_name(scene.with_(class_index=3), "png") == "scene_seed7_class3.png"
