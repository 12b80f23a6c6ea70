"""Predictors: the registry and its one resolver, the shipped rooms predictor, its file format."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from strata.engine.core.errors import StrataError
from strata.engine.discovery import predictors as registry
from strata.engine.discovery.predictors import (
    FunctionPredictor,
    Predictor,
    PredictorError,
    SemanticSpec,
    available_predictors,
    get_predictor,
    register_predictor,
    resolve_predictor,
    unregister_predictor,
)
from strata.engine.rooms.predictor import (
    RoomsPredictor,
    default_predictor_path,
    evaluate_predictor,
    load_rooms_predictor,
    report_markdown,
    train_rooms_predictor,
)
from strata.engine.rooms.render import render_rooms
from strata.engine.rooms.semantics import REQUIRES, SEMANTICS, sample_params, scores_of

BRIGHT = SemanticSpec("brightness", "attribute", "continuous", "mean pixel value")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/engine/conftest.py


@pytest.fixture()
def fake_name():
    name = "test-brightness"
    yield name
    unregister_predictor(name)


@pytest.fixture(scope="module")
def shipped():
    return get_predictor("rooms")


@pytest.fixture(scope="module")
def held_out():
    params = sample_params(200, torch.Generator().manual_seed(424242))
    return params, render_rooms(params, 64), scores_of(params)


def test_register_and_get_a_fake_predictor(fake_name):
    seen = {}

    def factory(scale=1.0):
        def fn(images):
            seen["shape"] = tuple(images.shape)
            return {"brightness": images.mean(dim=(1, 2, 3)) * scale}
        return FunctionPredictor(fake_name, [BRIGHT], fn, input_resolution=32)

    register_predictor(fake_name, factory)
    assert fake_name in available_predictors() and "rooms" in available_predictors()
    pred = get_predictor(fake_name, scale=2.0)
    assert isinstance(pred, Predictor)
    images = torch.full((3, 3, 64, 64), 0.25)
    out = pred.predict(images)
    assert seen["shape"] == (3, 3, 32, 32)               # resized to its input
    assert torch.allclose(out["brightness"], torch.full((3,), 0.5))
    with pytest.raises(ValueError, match="already registered"):
        register_predictor(fake_name, factory)
    register_predictor(fake_name, factory, replace=True)
    with pytest.raises(KeyError, match="unknown predictor 'nope'.*rooms"):
        get_predictor("nope")


def test_shipped_predictor_reads_held_out_rooms(shipped, held_out):
    params, images, truth = held_out
    assert isinstance(shipped, Predictor) and shipped.name == "rooms"
    assert [s.name for s in shipped.semantics] == [s.name for s in SEMANTICS]
    scores = shipped.predict(images)
    bed = ((scores["bed"] > 0.5).float() == truth["bed"]).float().mean()
    assert bed > 0.9
    for spec in SEMANTICS:
        p, y = scores[spec.name], truth[spec.name]
        assert p.shape == (200,) and torch.isfinite(p).all()
        if spec.kind == "binary":
            assert ((p > 0.5).float() == y).float().mean() > 0.8, spec.name
            assert p.min() >= 0 and p.max() <= 1
        else:
            if spec.name in REQUIRES:                      # the bedding's colour needs a bed
                shows = truth[REQUIRES[spec.name]] > 0.5
                p, y = p[shows], y[shows]
            r2 = 1 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
            assert r2 > 0.7, spec.name


def test_shipped_predictor_resizes_and_gives_features(shipped, held_out):
    params, images, truth = held_out
    big = render_rooms(params.select(slice(0, 60)), 128)
    scores = shipped.predict(big)
    assert ((scores["bed"] > 0.5).float() == truth["bed"][:60]).float().mean() > 0.85
    feats = shipped.features(images[:10])
    assert feats.shape == (10, shipped.feature_dim) and torch.isfinite(feats).all()
    assert shipped.features(big[:10]).shape == (10, shipped.feature_dim)
    with pytest.raises(ValueError, match=r"\[n, 3, H, W\]"):
        shipped.predict(torch.zeros(3, 64, 64))


def test_shipped_file_is_small_plain_and_self_describing():
    path = default_predictor_path()
    assert path.is_file() and path.stat().st_size < 2 * 2 ** 20
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = blob["metadata"]
    assert meta["input_resolution"] == 64
    assert [(d["name"], d["level"], d["kind"]) for d in meta["semantics"]] == \
        [(s.name, s.level, s.kind) for s in SEMANTICS]
    assert all(isinstance(v, torch.Tensor) for v in blob["state_dict"].values())
    assert meta["training"]["evaluation"]["semantics"]["bed"]["value"] > 0.9


def test_bad_files_give_a_clear_error_naming_the_file(tmp_path, capsys):
    good = default_predictor_path().read_bytes()
    cases = {
        "truncated.pth": good[: len(good) // 2],
        "garbage.pth": b"not a predictor at all" * 100,
        "empty.pth": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    torch.save({"hello": torch.zeros(2)}, tmp_path / "other.pth")
    blob = torch.load(default_predictor_path(), weights_only=True)
    torch.save({**blob, "metadata": {**blob["metadata"], "training": [1, 2]}}, tmp_path / "training.pth")

    class Boom:
        def __reduce__(self):
            return (print, ("code ran",))

    (tmp_path / "pickle.pth").write_bytes(pickle.dumps({"format": "strata-predictor", "x": Boom()}, protocol=2))
    for name in (*cases, "other.pth", "training.pth", "pickle.pth", "missing.pth"):
        with pytest.raises(PredictorError, match=name) as info:
            load_rooms_predictor(tmp_path / name)
        assert isinstance(info.value, StrataError)
        assert "\n" not in str(info.value)
    assert "code ran" not in capsys.readouterr().out       # nothing inside a file runs


def test_save_load_round_trip_and_training_loop(tmp_path):
    calls = []
    out = tmp_path / "tiny.pth"
    info = train_rooms_predictor(out, steps=3, batch_size=8, seed=1, eval_n=16,
                                 progress=lambda f, m: calls.append((f, m)))
    assert info["steps"] == 3 and not info["stopped"]
    assert calls and calls[-1][0] == 1.0
    loaded = load_rooms_predictor(out)
    images = render_rooms(sample_params(4, torch.Generator().manual_seed(5)), 64)
    assert loaded.training_info["steps"] == 3
    again = load_rooms_predictor(out)
    a, b = loaded.predict(images), again.predict(images)
    assert all(torch.equal(a[k], b[k]) for k in a)

    answers = iter([False, True])            # go on before step 1, stop before step 2
    stopped = train_rooms_predictor(tmp_path / "stop.pth", steps=50, batch_size=8, eval_n=8,
                                    should_stop=lambda: next(answers, True))
    assert stopped["stopped"] and stopped["steps"] == 1
    assert load_rooms_predictor(tmp_path / "stop.pth").training_info["stopped"]


def test_evaluation_table(shipped):
    result = evaluate_predictor(shipped, n=100, seed=7)
    assert result["semantics"]["bed"]["metric"] == "accuracy"
    assert result["semantics"]["room_depth"]["metric"] == "r2"
    assert result["semantics"]["bedding_hue"]["given"] == "bed"
    assert result["semantics"]["bedding_hue"]["value_given"] > result["semantics"]["bedding_hue"]["value"]
    table = report_markdown(result)
    assert "| object | `bed` | binary | accuracy |" in table
    assert table.count("\n| ") == len(SEMANTICS) + 1       # header and one row per semantic


def test_untrained_predictor_shapes():
    model = RoomsPredictor()
    out = model.predict(torch.zeros(2, 3, 64, 64))
    assert set(out) == {s.name for s in SEMANTICS}
    with pytest.raises(ValueError):
        RoomsPredictor(input_resolution=32)


# --------------------------------------------------------------------------- the registry and the resolver

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_finds_rooms_through_its_entry_point_without_importing_rooms_first():
    """Discovery never imports the rooms world: the installed entry point brings it in on demand."""
    code = (
        "import sys\n"
        "from strata.engine.discovery import predictors\n"
        "def rooms_loaded():\n"
        "    return sorted(m for m in sys.modules if m.startswith('strata.engine.rooms'))\n"
        "assert rooms_loaded() == [], rooms_loaded()\n"
        "names = predictors.available_predictors()\n"
        "assert 'rooms' in names, names\n"
        "assert rooms_loaded() == [], rooms_loaded()  # listing names imports nothing\n"
        "p = predictors.get_predictor('rooms')\n"
        "print(type(p).__module__, p.name)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["strata.engine.rooms.predictor", "rooms"]


def test_resolve_takes_a_name_a_file_or_an_object(tmp_path, held_out):
    _, images, _ = held_out
    by_name = resolve_predictor("rooms")
    assert isinstance(by_name, RoomsPredictor)
    torch.manual_seed(3)
    other = tmp_path / "other.pth"
    RoomsPredictor().save(other)
    for spec in (str(other), other):                          # a .pth name, or a path object
        from_file = resolve_predictor(spec)
        assert isinstance(from_file, RoomsPredictor)
        # The file's weights, not the shipped ones: an untrained net reads the rooms differently.
        assert not torch.equal(from_file.predict(images[:8])["bed"], by_name.predict(images[:8])["bed"])
    also = resolve_predictor("rooms", path=other)
    assert torch.equal(also.predict(images[:8])["bed"], from_file.predict(images[:8])["bed"])
    assert resolve_predictor(by_name) is by_name             # an object is used as it is
    assert resolve_predictor("rooms", "cpu").device == torch.device("cpu")


def test_resolve_names_what_it_could_not_find(tmp_path, fake_name):
    cases = [("places", "'places' is neither a registered predictor (rooms"),
             (str(tmp_path / "missing.pth"), "missing.pth: predictor file not found")]
    register_predictor(fake_name, lambda: FunctionPredictor(fake_name, [BRIGHT], lambda x: {}))
    cases += [((fake_name, tmp_path / "x.pth"), f"x.pth: predictor '{fake_name}' does not read files"),
              (("places", tmp_path / "x.pth"), "x.pth: no predictor 'places' to read it")]
    (tmp_path / "bad.pth").write_bytes(b"not a predictor")
    cases.append((str(tmp_path / "bad.pth"), "bad.pth: cannot read predictor file"))
    for spec, said in cases:
        name, path = spec if isinstance(spec, tuple) else (spec, None)
        with pytest.raises(PredictorError, match=re.escape(said)) as info:
            resolve_predictor(name, path=path)
        assert isinstance(info.value, StrataError) and "\n" not in str(info.value)


def test_a_broken_plugin_is_listed_and_says_what_is_wrong_when_asked_for(monkeypatch):
    from importlib.metadata import EntryPoint

    broken = EntryPoint(name="broken", value="strata_no_such_plugin:load", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_FACTORIES", {})
    monkeypatch.setattr(registry, "_entry_points_read", False)
    monkeypatch.setattr(registry, "_plugin_entry_points", lambda: [broken])
    assert available_predictors() == ("broken",)
    with pytest.raises(PredictorError, match="'broken' .*strata_no_such_plugin:load.*cannot be loaded"):
        resolve_predictor("broken")
    with pytest.raises(ValueError, match="already registered"):  # a plug-in's name counts as taken
        register_predictor("broken", lambda: None)


def test_strata_predictor_trains_a_file_and_evaluates_it(tmp_path, capsys):
    from strata.app.cli import main

    out = tmp_path / "p.pth"
    assert main(["predictor", "train", "--out", str(out), "--steps", "2", "--batch-size", "4", "--seed", "5",
                 "--eval-n", "8"]) == 0
    said = capsys.readouterr().out
    assert f"saved {out} after 2 steps" in said and "| object | `bed` | binary | accuracy |" in said
    assert load_rooms_predictor(out).training_info["seed"] == 5
    assert main(["predictor", "eval", "--path", str(out), "-n", "20"]) == 0
    assert "Held-out rooms: n = 20" in capsys.readouterr().out
    assert main(["predictor", "eval", "--path", str(tmp_path / "missing.pth")]) == 1
    assert "missing.pth: predictor file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predictor"])
    assert "usage: strata predictor" in capsys.readouterr().err
