"""Boundaries from HiGAN's release and Strata's own files load as their authors meant."""

from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from strata.engine.core.boundary import LEVELS, Boundary, load_boundaries, load_boundary, save_boundary
from strata.engine.core.errors import BoundaryError, SaveError
from tests._reference import SHARED_FIXTURES as FIXTURES

HIGAN = FIXTURES / "higan_boundaries"
BEDROOM = HIGAN / "stylegan_bedroom"
CHURCH = HIGAN / "stylegan2_church"


def _unit(rng, *shape):
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "path, name, level, layers",
    [
        (BEDROOM / "wood_boundary.npy", "wood", "attribute", (6, 11)),
        (BEDROOM / "indoor_lighting_boundary.npy", "indoor_lighting", "attribute", (6, 11)),
        (BEDROOM / "view_boundary.npy", "view", "unknown", None),
        (CHURCH / "clouds_boundary.npy", "clouds", "unknown", None),
    ],
)
def test_higan_fixtures_load(path, name, level, layers):
    b = load_boundary(path)
    assert (b.name, b.level, b.layers) == (name, level, layers)
    assert b.vector.dtype == np.float32 and b.vector.shape == (512,)
    assert not b.layerwise and b.w_dim == 512
    assert np.linalg.norm(b.vector.astype(np.float64)) == pytest.approx(1.0, abs=1e-6)
    assert b.provenance == str(path)
    assert not b.vector.flags.writeable


def test_higan_pickled_vector_matches_the_stored_float64_values():
    from strata.engine.core._safe_pickle import safe_load_npy

    raw = safe_load_npy(BEDROOM / "wood_boundary.npy")["boundary"][0]
    np.testing.assert_allclose(load_boundary(BEDROOM / "wood_boundary.npy").vector, raw,
                               rtol=0, atol=1e-7)


def _write_higan(path, vector, meta=None):
    holder = np.empty((), dtype=object)
    holder[()] = {"boundary": np.asarray(vector), "meta_data": meta or {}}
    np.save(path, holder, allow_pickle=True)


@pytest.mark.parametrize(
    "kind, manipulate, level, layers",
    [
        ("scene", "0-3", "layout", (0, 3)),
        ("Color", "12", "colour", (12, 12)),
        ("object", "4,5,7", "object", (4, 7)),
        ("attribute", [8, 6, 9], "attribute", (6, 9)),
        ("texture", "2-3,8", "unknown", (2, 8)),
        (None, None, "unknown", None),
    ],
)
def test_higan_metadata_variants(tmp_path, kind, manipulate, level, layers):
    meta = {}
    if kind is not None:
        meta["type"] = kind
    if manipulate is not None:
        meta["manipulate_layers"] = manipulate
    path = tmp_path / "thing_boundary.npy"
    _write_higan(path, np.full((1, 16), 3.0), meta)
    b = load_boundary(path)
    assert (b.name, b.level, b.layers) == ("thing", level, layers)
    assert np.linalg.norm(b.vector) == pytest.approx(1.0, abs=1e-6)


def test_unreadable_layers_name_the_file(tmp_path):
    path = tmp_path / "x_boundary.npy"
    _write_higan(path, np.ones((1, 8)), {"type": "attribute", "manipulate_layers": "six-eleven"})
    with pytest.raises(BoundaryError, match="six-eleven") as info:
        load_boundary(path)
    assert str(path) in str(info.value)


def test_layerwise_arrays(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((1, 8, 32)) * 5.0
    np.save(tmp_path / "lw.npy", v.astype(np.float32))
    b = load_boundary(tmp_path / "lw.npy")
    assert b.layerwise and b.vector.shape == (8, 32) and b.w_dim == 32
    np.testing.assert_allclose(np.linalg.norm(b.vector, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(b.vector_for_layer(3), v[0, 3] / np.linalg.norm(v[0, 3]), atol=1e-6)
    with pytest.raises(ValueError):
        b.vector_for_layer(8)
    flat = Boundary("flat", _unit(rng, 32))
    assert flat.vector_for_layer(5) is flat.vector


def test_bad_vectors_are_refused(tmp_path):
    for name, arr in [("zero", np.zeros((1, 8), np.float32)),
                      ("nan", np.full((1, 8), np.nan, np.float32)),
                      ("cube", np.ones((2, 2, 8), np.float32)),
                      ("text", np.array(["a", "b"]))]:
        np.save(tmp_path / f"{name}.npy", arr)
        with pytest.raises(BoundaryError) as info:
            load_boundary(tmp_path / f"{name}.npy")
        assert str(tmp_path / f"{name}.npy") in str(info.value)


def test_fingerprint_depends_on_vector_and_name():
    v = _unit(np.random.default_rng(1), 64)
    a = Boundary("a", v)
    assert a.fingerprint == Boundary("a", v.copy()).fingerprint
    assert a.fingerprint != Boundary("b", v).fingerprint
    w = v.copy()
    w[0] += 1e-3
    assert a.fingerprint != Boundary("a", w).fingerprint
    # Re-normalising an already-unit vector keeps its bits, so its fingerprint.
    assert Boundary("a", a.vector).fingerprint == a.fingerprint


def test_constructor_validates():
    v = _unit(np.random.default_rng(2), 8)
    with pytest.raises(BoundaryError, match="level"):
        Boundary("x", v, level="color")
    with pytest.raises(BoundaryError, match="layer range"):
        Boundary("x", v, layers=(5, 2))
    assert set(LEVELS) == {"layout", "object", "attribute", "colour", "unknown"}


def test_project_format_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    original = Boundary(
        name="open door",
        vector=_unit(rng, 6, 64).astype(np.float32),
        level="object",
        layers=(2, 4),
        provenance="fitted by strata analyze --attribute door",
        model_fingerprint="abc123",
        accuracy=0.875,
        extra={"dS": [0.1, 0.25, 0.5], "note": "ñ"},
    )
    path = tmp_path / "door.npz"
    save_boundary(original, path)
    loaded = load_boundary(path)
    assert loaded.vector.dtype == np.float32
    np.testing.assert_array_equal(loaded.vector, original.vector)
    assert loaded.fingerprint == original.fingerprint
    assert loaded.to_dict() == original.to_dict()
    for attr in ("name", "level", "layers", "provenance", "model_fingerprint", "accuracy"):
        assert getattr(loaded, attr) == getattr(original, attr)
    assert dict(loaded.extra) == {"dS": [0.1, 0.25, 0.5], "note": "ñ"}
    # No pickle anywhere: the file loads with pickling switched off.
    with np.load(path, allow_pickle=False) as npz:
        assert npz["meta"].dtype == np.uint8


def test_higan_boundary_saved_in_project_format_keeps_its_metadata(tmp_path):
    wood = load_boundary(BEDROOM / "wood_boundary.npy")
    save_boundary(wood, tmp_path / "wood.npz")
    again = load_boundary(tmp_path / "wood.npz")
    assert (again.name, again.level, again.layers, again.fingerprint) == \
        (wood.name, wood.level, wood.layers, wood.fingerprint)


def test_project_file_with_altered_vector_is_refused(tmp_path):
    path = tmp_path / "b.npz"
    b = Boundary("b", _unit(np.random.default_rng(4), 16))
    save_boundary(b, path)
    with np.load(path) as npz:
        meta = npz["meta"]
    np.savez(path, vector=np.roll(b.vector, 1), meta=meta)
    with pytest.raises(BoundaryError, match="fingerprint") as info:
        load_boundary(path)
    assert str(path) in str(info.value)


def test_project_file_from_newer_version_is_refused(tmp_path):
    b = Boundary("b", _unit(np.random.default_rng(5), 16))
    meta = dict(b.to_dict(), version=99)
    np.savez(tmp_path / "new.npz", vector=b.vector,
             meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with pytest.raises(BoundaryError, match="newer"):
        load_boundary(tmp_path / "new.npz")


def test_other_npz_and_damaged_npz_are_refused(tmp_path):
    src = FIXTURES / "genforce_stylegan" / "stylegan_tiny32_expected.npz"
    with pytest.raises(BoundaryError, match="not a Strata boundary file"):
        load_boundary(src)
    b = Boundary("b", _unit(np.random.default_rng(6), 16))
    save_boundary(b, tmp_path / "b.npz")
    data = (tmp_path / "b.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(BoundaryError) as info:
        load_boundary(tmp_path / "cut.npz")
    assert str(tmp_path / "cut.npz") in str(info.value)


def test_save_refuses_other_suffix(tmp_path):
    b = Boundary("b", _unit(np.random.default_rng(7), 16))
    with pytest.raises(SaveError, match=r"\.npz"):
        save_boundary(b, tmp_path / "b.npy")
    assert not (tmp_path / "b.npy").exists()


def test_check_compatible_names_both_dimensions():
    view = load_boundary(BEDROOM / "view_boundary.npy")
    view.check_compatible(w_dim=512, num_layers=14)
    with pytest.raises(BoundaryError) as info:
        view.check_compatible(w_dim=64, num_layers=8, source="view.npy")
    assert str(info.value) == "view.npy: boundary has dimension 512 but the model's W space has 64"


def test_check_compatible_layers():
    wood = load_boundary(BEDROOM / "wood_boundary.npy")
    # Default layers past the model's end are not an incompatibility: an edit
    # picks its own range (see Edit.with_default_layers).
    wood.check_compatible(w_dim=512, num_layers=10)
    lw = Boundary("lw", _unit(np.random.default_rng(8), 8, 64))
    lw.check_compatible(w_dim=64, num_layers=8)
    with pytest.raises(BoundaryError, match="8 per-layer directions but the model has 10"):
        lw.check_compatible(w_dim=64, num_layers=10)


def test_folders_load_all_four():
    found, errors = [], []
    for folder in (BEDROOM, CHURCH):
        bs, errs = load_boundaries(folder)
        found += bs
        errors += errs
    assert errors == []
    assert sorted(b.name for b in found) == ["clouds", "indoor_lighting", "view", "wood"]
    # Sorted by file name within a folder.
    assert [b.name for b in load_boundaries(BEDROOM)[0]] == ["indoor_lighting", "view", "wood"]
    # The release's parent folder, one sub-folder per model.
    bs, errs = load_boundaries(HIGAN, recursive=True)
    assert errs == [] and [b.name for b in bs] == ["clouds", "indoor_lighting", "view", "wood"]
    assert load_boundaries(HIGAN) == ([], [])


def test_folder_with_junk_reports_it_and_loads_the_rest(tmp_path):
    for f in BEDROOM.glob("*.npy"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "junk_boundary.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "notes.txt").write_text("not a boundary")
    (tmp_path / ".hidden.npy").write_bytes(b"ignored")
    bs, errors = load_boundaries(tmp_path)
    assert [b.name for b in bs] == ["indoor_lighting", "view", "wood"]
    assert len(errors) == 1 and str(tmp_path / "junk_boundary.npy") in errors[0]


def test_single_file_and_missing_path(tmp_path):
    bs, errs = load_boundaries(BEDROOM / "wood_boundary.npy")
    assert [b.name for b in bs] == ["wood"] and errs == []
    bs, errs = load_boundaries(tmp_path / "nowhere")
    assert bs == [] and len(errs) == 1 and "nowhere" in errs[0]


def test_load_boundary_errors_name_the_file(tmp_path):
    with pytest.raises(BoundaryError, match="no such file"):
        load_boundary(tmp_path / "absent.npy")
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(BoundaryError, match=r"expected \.npy or \.npz"):
        load_boundary(tmp_path / "b.txt")
    zipfile.ZipFile(tmp_path / "empty.npz", "w").close()
    with pytest.raises(BoundaryError, match="not a Strata boundary file"):
        load_boundary(tmp_path / "empty.npz")
