"""HiGAN's pipeline: annotation runs shard, merge and resume exactly; boundaries,
rescoring and the hierarchy come out as a user of the library would expect."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from strata.engine.core.boundary import load_boundaries
from strata.engine.core.edits import Edit, apply_edits
from strata.engine.core.errors import StrataError
from strata.engine.discovery import (BOOTSTRAP_RESAMPLES, Annotations, Cancelled, FittedBoundary, LayerResponse,
                                     Rescoring, SemanticSpec, choose_layers, condition_boundary, fit_boundaries,
                                     level_of, load_annotations, merge_annotations, register_predictor, rescore,
                                     run_discovery, sample_and_annotate, shard_file_name, shard_range,
                                     unregister_predictor, write_library)
from strata.engine.discovery._common import draw_codes
from strata.engine.discovery.rescoring import _bootstrap
from tests._models import tiny_generator

torch.set_num_threads(1)


class RegionPredictor:
    """Scores that are fixed functions of an image's mean colour in regions."""

    name = "regions"
    input_resolution = 8  # the tiny generator draws 16 px: exercises the resize
    semantics = (
        SemanticSpec("red_top", "layout", "continuous", "mean red of the top half"),
        SemanticSpec("blue_left", "object", "binary", "probability that the left half is blue"),
        SemanticSpec("bright", "colour", "continuous", "mean brightness"),
    )

    def __init__(self):
        self.calls = 0

    def predict(self, images):
        assert images.shape[-1] == self.input_resolution and images.abs().max() <= 1
        self.calls += 1
        h, w = images.shape[-2:]
        return {
            "red_top": images[:, 0, : h // 2].mean(dim=(1, 2)),
            "blue_left": torch.sigmoid(20 * images[:, 2, :, : w // 2].mean(dim=(1, 2))),
            "bright": images.mean(dim=(1, 2, 3)),
        }


@pytest.fixture(scope="module")
def gen():
    return tiny_generator()


def _annotate(gen, path, **kw):
    args = dict(n=50, seed=3, psi=0.7, batch_size=8)
    args.update(kw)
    n = args.pop("n")
    return sample_and_annotate(gen, RegionPredictor(), n, out_path=path, **args)


def _same(a: Annotations, b: Annotations) -> None:
    assert np.array_equal(a.z, b.z) and np.array_equal(a.w, b.w)
    assert a.scores.keys() == b.scores.keys()
    for k in a.scores:
        assert np.array_equal(a.scores[k], b.scores[k]), k
    assert dict(a.meta) == dict(b.meta)


# --------------------------------------------------------------------------- annotation


def test_shards_merge_into_the_single_run_bit_for_bit(gen, tmp_path):
    single = _annotate(gen, tmp_path / "single.npz")
    assert single.count == 50 and single.complete
    assert single.z.dtype == np.float32 and single.w.shape == (50, 16)
    assert set(single.scores) == {"red_top", "blue_left", "bright"}
    for count in (3, 9):  # 9 shards of 7 batches: some shards are empty
        paths = [tmp_path / f"s{count}" / shard_file_name(i, count) for i in range(count)]
        paths[0].parent.mkdir()
        for i, p in enumerate(paths):
            _annotate(gen, p, shard=(i, count))
        merged = merge_annotations(paths[::-1], tmp_path / f"merged{count}.npz")
        _same(merged, single)
        _same(load_annotations(tmp_path / f"merged{count}.npz"), single)
        assert (tmp_path / f"merged{count}.npz").read_bytes() == (tmp_path / "single.npz").read_bytes()


def test_an_annotation_file_with_codes_of_the_wrong_rank_names_the_file(gen, tmp_path):
    good = _annotate(gen, tmp_path / "good.npz")
    arrays = good.arrays()
    np.savez(tmp_path / "flat.npz", **{**arrays, "w": arrays["w"].reshape(-1)})
    with pytest.raises(StrataError, match=r"flat.npz: codes z \(50, 16\) and w \(800,\) must be \[N, dim\]"):
        load_annotations(tmp_path / "flat.npz")


def test_shard_ranges_tile_the_run_on_batch_boundaries():
    for n, b, c in [(50, 8, 3), (50, 8, 9), (1000, 64, 7), (5, 64, 2)]:
        ranges = [shard_range(n, b, (i, c)) for i in range(c)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(r[1] == s[0] for r, s in zip(ranges, ranges[1:]))
        assert all(r[0] % b == 0 for r in ranges)
    with pytest.raises(StrataError):
        shard_range(10, 4, (3, 3))


def test_merge_refuses_gaps_overlaps_and_other_runs(gen, tmp_path):
    paths = [tmp_path / shard_file_name(i, 3) for i in range(3)]
    for i, p in enumerate(paths):
        _annotate(gen, p, shard=(i, 3))
    with pytest.raises(StrataError, match="out"):
        merge_annotations([paths[0], paths[2]], tmp_path / "m.npz")
    with pytest.raises(StrataError, match="overlaps"):
        merge_annotations(paths + [paths[1]], tmp_path / "m.npz")
    other = tmp_path / "other.npz"
    _annotate(gen, other, shard=(1, 3), seed=4)
    with pytest.raises(StrataError, match="different runs.*seed"):
        merge_annotations([paths[0], other, paths[2]], tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_interrupted_run_resumes_to_the_same_file(gen, tmp_path):
    _annotate(gen, tmp_path / "whole.npz")
    calls = {"n": 0}

    def stop_after_three():
        calls["n"] += 1
        return calls["n"] > 3

    path = tmp_path / "resumed.npz"
    with pytest.raises(Cancelled, match="24 of 50"):
        _annotate(gen, path, should_stop=stop_after_three, checkpoint_seconds=0)
    partial = load_annotations(path)
    assert partial.count == 24 and not partial.complete
    with pytest.raises(StrataError, match="another run.*seed"):
        _annotate(gen, path, seed=5)
    seen = []
    resumed = _annotate(gen, path, progress=lambda f, msg: seen.append(f))
    assert seen[0] == pytest.approx(24 / 50) and seen[-1] == 1.0
    assert path.read_bytes() == (tmp_path / "whole.npz").read_bytes()
    _same(resumed, load_annotations(tmp_path / "whole.npz"))
    # A finished file is returned without synthesizing anything.
    pred = RegionPredictor()
    sample_and_annotate(gen, pred, 50, seed=3, psi=0.7, batch_size=8, out_path=path)
    assert pred.calls == 0


# --------------------------------------------------------------------------- fitting


def _planted(n=2000, d=16, seed=0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, d)
    w = (rng.standard_normal((n, d)) * scale + rng.standard_normal(d) * 3).astype(np.float32)
    dirs = rng.standard_normal((2, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    centred = w - w.mean(0)
    scores = {
        "wood": (centred @ dirs[0] + 0.1 * rng.standard_normal(n)).astype(np.float32),
        "bed": (1 / (1 + np.exp(-5 * centred @ dirs[1]))).astype(np.float32),
        "flat": np.full(n, 0.5, dtype=np.float32),
    }
    meta = {"semantics": [{"name": "wood", "level": "attribute", "kind": "continuous", "doc": ""},
                          {"name": "bed", "level": "object", "kind": "binary", "doc": ""},
                          {"name": "flat", "level": "colour", "kind": "continuous", "doc": ""}]}
    return Annotations(z=w, w=w, scores=scores, meta=meta), dirs


def test_fit_boundaries_recovers_planted_directions():
    ann, dirs = _planted()
    fitted = {f.name: f for f in fit_boundaries(ann, top=0.1, seed=1)}
    for name, d in (("wood", dirs[0]), ("bed", dirs[1])):
        f = fitted[name]
        assert f.ok and f.k == 200 and f.n_val == 2 * 60 and f.n_train == 2 * 140
        assert f.accuracy > 0.9
        assert float(f.vector @ d) > 0.9  # unit normal pointing toward higher scores
        assert np.linalg.norm(f.vector) == pytest.approx(1, abs=1e-6)
    assert fitted["bed"].declared_level == "object" and fitted["bed"].kind == "binary"
    assert not fitted["flat"].ok and "overlap" in fitted["flat"].note
    with pytest.raises(StrataError, match="samples"):
        fit_boundaries(ann, top=1500)


def test_conditional_boundaries_are_orthogonal_to_their_conditions():
    rng = np.random.default_rng(2)
    n1, n2, n3 = (v / np.linalg.norm(v) for v in rng.standard_normal((3, 32)))
    one = condition_boundary(n1, [n2])
    two = condition_boundary(n1, [n2, n3])
    assert abs(one @ n2) < 1e-10 and np.linalg.norm(one) == pytest.approx(1)
    assert abs(two @ n2) < 1e-10 and abs(two @ n3) < 1e-10
    assert one @ n1 > 0 and two @ n1 > 0
    with pytest.raises(StrataError):
        condition_boundary(n1, [n2, n2])
    with pytest.raises(StrataError):
        condition_boundary(n1, [n1])

    ann, dirs = _planted()
    fitted = {f.name: f for f in fit_boundaries(ann, top=0.1, conditions={"wood": ["bed"]})}
    cond = fitted["wood_cond_bed"]
    assert cond.semantic == "wood" and cond.conditions == ("bed",)
    assert abs(float(cond.vector @ fitted["bed"].vector)) < 1e-5
    assert cond.accuracy > 0.9


# --------------------------------------------------------------------------- the hierarchy


@pytest.mark.parametrize("profile, expected", [
    ([0, 0, 5, 0, 0], (2, 2)),
    ([0, 3, 3, 0, 0, 0], (1, 2)),
    ([1, 1, 1, 1, 1], (0, 2)),       # three of five layers hold 60%; the earliest window
    ([1, 3, 2], (1, 2)),             # two windows of width 2 pass: the larger mass wins
    ([0.1, -2, 0.05, 4, 0.1, 0], (3, 3)),
    ([0, 0, 0, 0], (0, 3)),          # no response: all layers
])
def test_choose_layers_takes_the_narrowest_window_with_most_response(profile, expected):
    assert choose_layers(profile) == expected


def test_level_follows_where_the_layers_sit():
    res64 = (4, 4, 8, 8, 16, 16, 32, 32, 64, 64)
    found = {r: level_of(r, 10, res64) for r in [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (0, 9)]}
    assert found == {(0, 1): "layout", (2, 3): "object", (4, 5): "object",
                     (6, 7): "attribute", (8, 9): "colour", (0, 9): "object"}
    res256 = tuple(4 * 2 ** (i // 2) for i in range(14))
    assert level_of((0, 4), 14, res256) == "layout"  # HiGAN's view
    assert level_of((6, 11), 14, res256) == "attribute"  # HiGAN's lighting, wood ...
    assert level_of((12, 13), 14, res256) == "colour"
    assert level_of((0, 0), 10) == "layout" and level_of((9, 9), 10) == "colour"


class OneLayerGenerator:
    """Only layer 3 of the code reaches the image: its mean is tanh(wp[:, 3] . d)."""

    num_layers, z_dim, w_dim, resolution = 6, 8, 8, 8
    layer_resolutions = (4, 4, 8, 8, 16, 16)
    truncation_layers, default_psi = 4, 0.7
    architecture = "fake"

    def __init__(self):
        rng = np.random.default_rng(0)
        self.d = torch.from_numpy(rng.standard_normal(8) / np.sqrt(8)).float()
        self.w_avg = torch.zeros(8)

    def mapping(self, z):
        return z * 0.5

    def truncate(self, w, psi=1.0):
        wp = w[:, None, :].repeat(1, self.num_layers, 1)
        wp[:, : self.truncation_layers] *= psi
        return wp

    def synthesize(self, wp):
        v = torch.tanh(wp[:, 3] @ self.d)
        return v[:, None, None, None].expand(-1, 3, 8, 8).clone()


class MeanPredictor:
    name = "mean"
    input_resolution = 8
    semantics = (SemanticSpec("mean", "object", "continuous", "mean value"),)

    def predict(self, images):
        return {"mean": images.mean(dim=(1, 2, 3))}


def test_rescore_finds_the_layer_the_semantic_lives_on():
    g = OneLayerGenerator()
    fb = FittedBoundary(name="mean", semantic="mean", vector=g.d.numpy() / g.d.norm().item(),
                        declared_level="object")
    result = rescore(g, MeanPredictor(), [fb], m=20, lam=1.0, seed=0, batch_size=9)
    resp = result.responses["mean"]
    assert len(resp.dS) == 6 and result.num_layers == 6 and result.m == 20
    assert resp.dS[3] > 0.05
    # Other layers do not reach the image (up to rounding: batches differ in size).
    assert all(v < 1e-6 for i, v in enumerate(resp.dS) if i != 3)
    assert resp.dS_all == pytest.approx(resp.dS[3], rel=1e-6)
    assert choose_layers(resp.dS) == (3, 3)
    assert level_of((3, 3), 6, g.layer_resolutions) == "object"


def test_rescore_batches_give_the_plain_per_edit_answer(gen):
    pred = RegionPredictor()
    rng = np.random.default_rng(5)
    v = rng.standard_normal(16).astype(np.float32)
    fb = FittedBoundary(name="bright", semantic="bright", vector=v / np.linalg.norm(v))
    m, lam, psi, L = 5, 3.0, 0.6, gen.num_layers
    result = rescore(gen, pred, [fb], m=m, lam=lam, seed=7, psi=psi, batch_size=7)
    resp = result.responses["bright"]
    # The same measurement, one edit at a time.
    z = torch.from_numpy(draw_codes(7, 1, 0, m, 16))
    with torch.no_grad():
        wp = gen.truncate(gen.mapping(z), psi)
        s0 = pred.predict(torch.nn.functional.interpolate(
            gen.synthesize(wp).clamp(-1, 1), size=(8, 8), mode="bilinear", antialias=True))["bright"]
        b = fb.to_boundary()
        expected = []
        for layers in [(0, L - 1)] + [(l, l) for l in range(L)]:
            edited = apply_edits(wp, [Edit(b, lam, layers)], truncation_psi=psi,
                                 truncation_layers=gen.truncation_layers)
            s = pred.predict(torch.nn.functional.interpolate(
                gen.synthesize(edited).clamp(-1, 1), size=(8, 8), mode="bilinear",
                antialias=True))["bright"]
            expected.append(float((s - s0).clamp(min=0).mean()))
    assert resp.dS_all == pytest.approx(expected[0], abs=1e-5)
    assert list(resp.dS) == pytest.approx(expected[1:], abs=1e-5)


def _one_layer_response(m, seed=0, **kw):
    g = OneLayerGenerator()
    fb = FittedBoundary(name="mean", semantic="mean", vector=g.d.numpy() / g.d.norm().item())
    return rescore(g, MeanPredictor(), [fb], m=m, lam=1.0, seed=seed, batch_size=64, **kw).responses["mean"]


def test_bootstrap_interval_holds_the_estimate_and_narrows_as_m_grows():
    small, large = _one_layer_response(20), _one_layer_response(500)
    for r in (small, large):
        assert r.resamples == BOOTSTRAP_RESAMPLES
        assert all(lo - 1e-12 <= d <= hi + 1e-12 for lo, d, hi in zip(r.dS_lo, r.dS, r.dS_hi))
        assert r.dS_all_lo - 1e-12 <= r.dS_all <= r.dS_all_hi + 1e-12
        assert r.dS_lo[3] < r.dS[3] < r.dS_hi[3] and r.dS_se[3] > 0
        # The interval is about +-1.96 se for a mean of many samples.
        assert r.dS_hi[3] - r.dS_lo[3] == pytest.approx(2 * 1.96 * r.dS_se[3], rel=0.25)
    # 25 times the samples: about a fifth of the width (sqrt(25)); at least half as wide.
    assert large.dS_hi[3] - large.dS_lo[3] < 0.5 * (small.dS_hi[3] - small.dS_lo[3])
    assert large.dS_se[3] < 0.5 * small.dS_se[3]
    # Seeded from the run seed: the same seed gives the same numbers, another seed others.
    assert _one_layer_response(20) == small
    assert _one_layer_response(20, seed=1).dS_se != small.dS_se
    # No bootstrap when asked for none, or with one sample.
    for r in (_one_layer_response(20, resamples=0), _one_layer_response(1)):
        assert r.dS_se is None and r.range_stability is None and r.resamples == 0
    with pytest.raises(StrataError, match="resamples"):
        _one_layer_response(5, resamples=1)


def test_stability_is_one_when_the_response_sits_on_one_layer():
    r = _one_layer_response(20)
    assert choose_layers(r.dS) == (3, 3)
    assert r.range_stability == 1.0 and r.level_stability == 1.0 and r.stability_mass == 0.6


def test_stability_falls_when_the_window_could_go_either_way():
    # Layer 1 holds about 60% of the response, right at choose_layers's mass:
    # resamples flip between 1-1 (layout) and 1-2 (object).
    rng = np.random.default_rng(0)
    rises = np.zeros((200, 7))
    rises[:, 2] = rng.exponential(0.6, 200)
    rises[:, 3] = rng.exponential(0.4, 200)
    rises[:, 0] = rises.sum(axis=1)
    res = OneLayerGenerator.layer_resolutions
    mass = float(rises[:, 2].sum() / rises[:, 2:4].sum())  # exactly the share layer 1 holds
    out = _bootstrap(rises, resamples=1000, seed=0, mass=mass, layer_resolutions=res)
    assert 0.2 < out["range_stability"] < 0.8
    assert out["level_stability"] == pytest.approx(out["range_stability"])  # 1-1 and 1-2 differ in level
    clear = _bootstrap(rises, resamples=1000, seed=0, mass=0.3, layer_resolutions=res)
    assert clear["range_stability"] == 1.0 and clear["level_stability"] == 1.0


def test_layer_response_round_trips_and_reads_the_old_format():
    r = _one_layer_response(20)
    d = r.to_dict()
    assert LayerResponse.from_dict(json.loads(json.dumps(d))) == r
    # Summaries only: no per-sample or per-resample arrays in the cache.
    assert max(len(v) for v in d.values() if isinstance(v, list)) == 6
    old = {"name": "wood", "semantic": "wood", "dS": [0.1, 0.5], "dS_all": 0.6, "vector_sha256": "ab"}
    loaded = LayerResponse.from_dict(old)
    assert loaded.dS == (0.1, 0.5) and loaded.vector_sha256 == "ab"
    assert loaded.dS_se is None and loaded.dS_lo is None and loaded.level_stability is None
    assert loaded.resamples == 0 and loaded.stability_for(0.6) == (None, None)


def test_write_library_saves_loadable_boundaries_and_a_report(tmp_path):
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((2, 16))
    fitted = [
        FittedBoundary("wood", "wood", vecs[0], declared_level="attribute", accuracy=0.95, k=10),
        FittedBoundary("view", "view", vecs[1], declared_level="layout", accuracy=0.9, k=10),
        FittedBoundary("flat", "flat", None, declared_level="colour", note="nothing to separate"),
    ]
    responses = {
        "wood": LayerResponse("wood", "wood", (0, 0, 0, 0, 0, 0.1, 0.5, 0.4, 0, 0), 0.9),
        "view": LayerResponse("view", "view", (0.6, 0.3, 0.1, 0, 0, 0, 0, 0, 0, 0), 0.8),
    }
    res = (4, 4, 8, 8, 16, 16, 32, 32, 64, 64)
    rescoring = Rescoring(responses, m=10, lam=2.0, seed=0, psi=0.7, num_layers=10,
                                   layer_resolutions=res, predictor="fake")
    report = write_library(fitted, rescoring, tmp_path / "lib", model_fingerprint="abc",
                           command="strata analyze -o x")
    boundaries, errors = load_boundaries(tmp_path / "lib")
    assert errors == []
    by_name = {b.name: b for b in boundaries}
    assert set(by_name) == {"wood", "view"}
    wood = by_name["wood"]
    assert wood.layers == (6, 7) and wood.level == "attribute" and wood.accuracy == 0.95
    assert wood.model_fingerprint == "abc"
    assert wood.extra["dS"][6] == 0.5 and wood.extra["declared_level"] == "attribute"
    assert wood.extra["semantic"] == "wood" and wood.extra["dS_all"] == 0.9
    assert by_name["view"].layers == (0, 0) and by_name["view"].level == "layout"
    assert report["semantics"][2]["note"] == "nothing to separate"
    data = json.loads((tmp_path / "lib" / "hierarchy.json").read_text())
    assert [r["layers"] for r in data["semantics"]] == [[6, 7], [0, 0], None]
    md = (tmp_path / "lib" / "hierarchy.md").read_text()
    assert "| wood | attribute | attribute | 6-7 |" in md and "flat: nothing to separate" in md
    # Responses without a bootstrap (older Strata): the report leaves the uncertainty out.
    assert "±" not in md and "bootstrap" not in md and "dS_se" not in wood.extra
    assert data["semantics"][0]["dS_se"] is None and data["semantics"][0]["level_stability"] is None
    with Image.open(tmp_path / "lib" / "hierarchy.png") as im:
        assert im.format == "PNG" and im.width > 10 * 30 and im.height > 3 * 20
        px = np.asarray(im.convert("RGB"))
    assert (px == [230, 30, 30]).all(axis=-1).any()  # the chosen ranges are outlined


def test_write_library_reports_the_bootstrap(tmp_path):
    L = 10
    dS = (0, 0, 0, 0, 0, 0.1, 0.5, 0.4, 0, 0)
    resp = LayerResponse(
        "wood", "wood", dS, 0.9, dS_se=tuple(0.02 for _ in dS), dS_lo=tuple(v - 0.04 for v in dS),
        dS_hi=tuple(v + 0.04 for v in dS), dS_all_se=0.03, dS_all_lo=0.84, dS_all_hi=0.96,
        range_stability=0.81, level_stability=0.93, stability_mass=0.6, resamples=1000)
    fitted = [FittedBoundary("wood", "wood", np.ones(16), declared_level="attribute", accuracy=0.9)]
    rescoring = Rescoring({"wood": resp}, m=500, lam=2.0, seed=0, psi=0.7, num_layers=L,
                                   layer_resolutions=(4, 4, 8, 8, 16, 16, 32, 32, 64, 64))
    write_library(fitted, rescoring, tmp_path, model_fingerprint="abc")
    wood = load_boundaries(tmp_path)[0][0]
    assert wood.extra["dS_se"][6] == 0.02 and wood.extra["dS_lo"][6] == pytest.approx(0.46)
    assert wood.extra["dS_hi"][6] == pytest.approx(0.54)
    assert wood.extra["range_stability"] == 0.81 and wood.extra["level_stability"] == 0.93
    row = json.loads((tmp_path / "hierarchy.json").read_text())["semantics"][0]
    assert row["level_stability"] == 0.93 and row["dS_all_hi"] == 0.96 and row["resamples"] == 1000
    md = (tmp_path / "hierarchy.md").read_text()
    assert "| wood | attribute | attribute (0.93) | 6-7 (0.81) | 0.900 | 0.900 | 6: 0.500 ± 0.039 |" in md
    assert "1000 bootstrap resamples" in md
    # Stabilities measured for another mass do not describe this library's ranges: left out.
    write_library(fitted, rescoring, tmp_path, model_fingerprint="abc", mass=0.8)
    row = json.loads((tmp_path / "hierarchy.json").read_text())["semantics"][0]
    assert row["range_stability"] is None and row["dS_se"][6] == 0.02
    md = (tmp_path / "hierarchy.md").read_text()
    assert "(0.93)" not in md and "± 0.039" in md


# --------------------------------------------------------------------------- stopping, whole pipeline


def test_every_step_stops_when_asked(gen, tmp_path):
    ann, _ = _planted(n=200)
    with pytest.raises(Cancelled):
        fit_boundaries(ann, top=0.1, should_stop=lambda: True)
    fb = FittedBoundary("bright", "bright", np.ones(16))
    with pytest.raises(Cancelled):
        rescore(gen, RegionPredictor(), [fb], m=4, should_stop=lambda: True)
    with pytest.raises(Cancelled):
        _annotate(gen, tmp_path / "a.npz", should_stop=lambda: True)
    assert issubclass(Cancelled, StrataError)


def test_run_discovery_writes_a_library_and_resumes(tiny_model, tmp_path):
    out = tmp_path / "run"
    args = dict(n=96, m=3, lam=2.0, k=0.2, seed=0, out_dir=out, batch_size=32, device="cpu")
    # Stop as soon as the first boundary's response is on disk.
    with pytest.raises(Cancelled):
        run_discovery(tiny_model, predictor=RegionPredictor(), **args,
                      should_stop=lambda: (out / "rescore.json").exists())
    assert load_annotations(out / "annotations.npz").complete
    cache = json.loads((out / "rescore.json").read_text())
    assert len(cache["responses"]) == 1
    first = cache["responses"][0]
    assert first["resamples"] == 1000 and len(first["dS_se"]) == 6
    # As an older Strata wrote it: no bootstrap fields. It must still be reused.
    cache["responses"] = [{k: first[k] for k in ("name", "semantic", "dS", "dS_all", "vector_sha256")}]
    (out / "rescore.json").write_text(json.dumps(cache))
    pred, seen = RegionPredictor(), []
    summary = run_discovery(tiny_model, predictor=pred, **args, progress=lambda f, m: seen.append(f))
    # Resumed: no annotation, one batch of originals, one batch for each of the two boundaries left.
    assert pred.calls == 3
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert [r["name"] for r in summary["boundaries"]] == ["red_top", "blue_left", "bright"]
    boundaries, errors = load_boundaries(out / "boundaries")
    assert errors == [] and len(boundaries) == 3
    for b in boundaries:
        assert len(b.extra["dS"]) == 6 and b.layers is not None and b.w_dim == 16
        # The boundary from the old-format cache has no uncertainty; the two rescored now do.
        assert ("dS_se" in b.extra) == (b.name != first["name"])
        assert ("level_stability" in b.extra) == (b.name != first["name"])
    rows = {r["name"]: r for r in summary["boundaries"]}
    assert rows[first["name"]]["level_stability"] is None
    assert all(0 <= r["level_stability"] <= 1 for n, r in rows.items() if n != first["name"])
    assert (out / "boundaries" / "hierarchy.png").exists()
    with pytest.raises(StrataError, match="seed"):
        run_discovery(tiny_model, predictor=RegionPredictor(), **{**args, "seed": 1})


@pytest.fixture()
def regions_registered():
    """RegionPredictor in the registry as "regions", as a plug-in would be, for the command line."""
    register_predictor("regions", RegionPredictor)
    yield "regions"
    unregister_predictor("regions")


def test_cli_shards_merge_and_fit(tiny_model, tmp_path, regions_registered, capsys):
    from strata.app.analyze_cli import main

    out = tmp_path / "cli"
    common = ["--model", str(tiny_model), "--predictor", "regions", "-n", "40", "--batch-size", "16", "-o", str(out)]
    for i in range(2):
        assert main(common + ["--shard", f"{i}/2"]) == 0
    assert main(common + ["--merge", "-m", "2", "--top", "5"]) == 0
    assert load_annotations(out / "annotations.npz").count == 40
    assert "red_top" in capsys.readouterr().out
    assert len(load_boundaries(out / "boundaries")[0]) == 3
    with pytest.raises(ValueError, match="--shard"):
        main(common + ["--shard", "2/2"])
