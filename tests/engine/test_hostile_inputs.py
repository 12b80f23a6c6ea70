"""Every reader of a file Strata opens, fed a generated corpus of broken and hostile files.

Each case must end in a valid result or a StrataError whose message is one line of bounded
length naming the file; never another exception, never a hang (pytest-timeout).

The corpus is seeded and small enough for CI. ``STRATA_FUZZ=N`` makes it N times larger
(random cuts and byte flips; the structured cases stay as they are) and ``STRATA_FUZZ_SEED``
changes the seed, for a long run: ``STRATA_FUZZ=50 pytest tests/engine/test_hostile_inputs.py``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from strata.app.files import kind_of
from strata.app.journal import Journal
from strata.engine.core import limits
from strata.engine.core.boundary import Boundary, load_boundary, save_boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import MAX_MESSAGE_CHARS, StrataError
from strata.engine.core.models import load_generator, save_generator
from strata.engine.core.scene import Code, Scene, load_code_npy, png_bytes_with_recipe, read_recipe

from .._models import tiny_generator

SCALE = max(1, int(os.environ.get("STRATA_FUZZ", "1")))
SEED = int(os.environ.get("STRATA_FUZZ_SEED", "19"))
N = 6 * SCALE  # random cuts, header flips and body flips per file

pytestmark = pytest.mark.timeout(240 * SCALE)

FIXTURE_MODELS = ["genforce_stylegan/stylegan_tiny32.pth", "genforce_stylegan2/stylegan2_tiny32.pth",
                  "rosinality_stylegan2/stylegan2_rosinality_tiny32.pt", "nvidia_pkl/stylegan2_ada_tiny32.pkl",
                  "nvidia_pkl/stylegan3t_tiny32.pkl"]


def mutations(data: bytes, rng: np.random.RandomState, n: int = N):
    """(name, bytes): empty, random, cuts at many offsets, header and body byte flips."""
    yield "empty", b""
    yield "random", rng.bytes(max(len(data), 64))
    yield "random-tiny", rng.bytes(5)
    yield "zeros", bytes(len(data))
    cuts = {1, 8, 16, 64, len(data) // 2, len(data) - 1} | {int(c) for c in rng.randint(1, len(data), n)}
    for at in sorted(c for c in cuts if 0 < c < len(data)):
        yield f"cut@{at}", data[:at]
    for region, hi in (("header", min(len(data), 160)), ("body", len(data))):
        for _ in range(n):
            at = int(rng.randint(0, hi))
            flipped = bytearray(data)
            flipped[at] ^= int(rng.randint(1, 256))
            yield f"flip-{region}@{at}", bytes(flipped)


def check(read, path: Path):
    """``read(path)`` gives a result or a one-line StrataError naming the file; returns which."""
    try:
        return read(path)
    except StrataError as exc:
        msg = str(exc)
        assert "\n" not in msg and len(msg) <= MAX_MESSAGE_CHARS, msg
        assert path.name in msg, msg
        return exc


def run_corpus(tmp_path, name: str, data: bytes, read, *, extra=()) -> dict[str, int]:
    rng = np.random.RandomState([SEED, zlib.crc32(name.encode())])
    outcome = {"refused": 0, "read": 0}
    for i, (how, blob) in enumerate([*mutations(data, rng), *extra]):
        path = tmp_path / f"case{i}_{Path(name).name}"
        path.write_bytes(blob)
        result = check(read, path)
        outcome["refused" if isinstance(result, StrataError) else "read"] += 1
        path.unlink()
    return outcome


# ------------------------------------------------------------------ models


@pytest.mark.parametrize("name", FIXTURE_MODELS)
def test_damaged_models_of_every_format(fixtures_dir, tmp_path, name, one_thread):
    data = (fixtures_dir / name).read_bytes()
    out = run_corpus(tmp_path, name, data, lambda p: load_generator(p, "cpu"))
    assert out["refused"] >= 4 + N  # at the least: empty, random, zeros and the cuts


def _strata_model(tmp_path) -> Path:
    path = tmp_path / "tiny.pth"
    save_generator(tiny_generator(), path)
    return path


def test_damaged_strata_models(tmp_path, one_thread):
    path = _strata_model(tmp_path)
    run_corpus(tmp_path, "strata.pth", path.read_bytes(), lambda p: load_generator(p, "cpu"))


def test_damaged_legacy_torch_files(tmp_path, one_thread):
    """torch's pre-1.6 format declares each storage's size before its bytes: a flipped size must not allocate."""
    buf = io.BytesIO()
    torch.save(tiny_generator().state_dict(), buf, _use_new_zipfile_serialization=False)
    run_corpus(tmp_path, "legacy.pth", buf.getvalue(), lambda p: load_generator(p, "cpu"))


ODD_VALUES = [None, "x" * 100_000, -1, 0, 2**40, 1e308, float("nan"), [], {}, [1e9] * 3, True]


def _walk(obj, prefix=()):
    """Every (key path) in nested dicts and lists."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield (*prefix, k)
            yield from _walk(v, (*prefix, k))
    elif isinstance(obj, list) and len(obj) <= 8:
        for i, v in enumerate(obj):
            yield (*prefix, i)
            yield from _walk(v, (*prefix, i))


def _set(obj, keys, value):
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value


def test_a_strata_model_with_wrong_types_in_its_configuration(tmp_path, one_thread):
    blob = torch.load(_strata_model(tmp_path), weights_only=True)
    seen = 0
    for keys in list(_walk(blob["config"])):
        for value in ODD_VALUES:
            bad = dict(blob, config=json.loads(json.dumps(blob["config"])))
            _set(bad["config"], keys, value)
            path = tmp_path / "config.pth"
            torch.save(bad, path)
            check(lambda p: load_generator(p, "cpu"), path)
            seen += 1
    assert seen > 50


def test_a_model_that_draws_nan_or_one_colour_is_refused_at_load(tmp_path):
    g = tiny_generator()
    with torch.no_grad():
        g.synthesis.layer0.const.fill_(float("inf"))  # finite checks on weights pass nothing non-finite...
    path = tmp_path / "inf.pth"
    torch.save(g.state_dict(), path)
    with pytest.raises(StrataError, match="inf.pth: .*NaN or infinite"):
        load_generator(path, "cpu")
    g = tiny_generator()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if "torgb" in name.lower() or "output" in name.lower():
                p.zero_()
    path = tmp_path / "flat.pth"
    torch.save(g.state_dict(), path)
    with pytest.raises(StrataError, match="flat.pth: refused: it draws one flat colour"):
        load_generator(path, "cpu")


def test_hostile_model_pickles_are_told_apart(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "evil.pt"
    torch.save({"g_ema": Payload()}, path)
    with pytest.raises(StrataError, match=r"evil.pt: refused \(hostile pickle\): .*system"):
        load_generator(path, "cpu")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(StrataError, match="evil.pt: not a model file"):
        load_generator(path, "cpu")
    path.write_bytes(_strata_model(tmp_path).read_bytes()[:5000])
    with pytest.raises(StrataError, match="evil.pt: corrupt or truncated archive"):
        load_generator(path, "cpu")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("reader", ["model", "boundary", "code", "recipe"])
def test_a_fifo_or_device_never_blocks_and_is_refused(tmp_path, reader):
    fifo = tmp_path / {"model": "m.pth", "boundary": "b.npy", "code": "c.npy", "recipe": "r.json"}[reader]
    os.mkfifo(fifo)
    read = {"model": lambda p: load_generator(p, "cpu"), "boundary": load_boundary,
            "code": lambda p: load_code_npy(p, z_dim=16, w_dim=16, num_layers=6), "recipe": read_recipe}[reader]
    with pytest.raises(StrataError, match="is a FIFO .*Strata reads regular files only"):
        read(fifo)
    zero = tmp_path / fifo.name.replace(".", "-zero.")
    zero.symlink_to("/dev/zero")
    with pytest.raises(StrataError, match="is a character device.*Strata reads regular files only"):
        read(zero)


def test_files_over_the_size_limit_are_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.truncate(limits.MAX_FILE_BYTES["recipe"] + 1)  # sparse: no disk used
    with pytest.raises(StrataError, match=r"huge.json: is 64 MiB, over the 64 MiB limit for a recipe file"):
        read_recipe(path)


# ------------------------------------------------------------------ boundaries and codes


def npy_bytes(arr, *, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_with_header(header: str, data: bytes = b"") -> bytes:
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def structured_npy_cases():
    """Wrong shapes, wrong dtypes, NaN/inf, hostile headers."""
    rng = np.random.RandomState(SEED)
    yield "nan", npy_bytes(np.full((1, 16), np.nan, np.float32))
    yield "inf", npy_bytes(np.full((1, 16), np.inf, np.float32))
    yield "huge-values", npy_bytes(np.full((1, 16), 3e38, np.float32))
    yield "zero-vector", npy_bytes(np.zeros((1, 16), np.float32))
    for shape in [(), (0,), (1, 0), (2, 3, 4, 5), (1, 17), (3, 16), (1, 6, 16), (1, 1, 1, 16)]:
        yield f"shape{shape}", npy_bytes(np.asarray(rng.randn(*shape), dtype=np.float32))
    for dtype in ["complex64", "bool", "<U4", "int8", "float16", ">f8", "uint64"]:
        yield f"dtype-{dtype}", npy_bytes(np.ones((1, 16), dtype=dtype))
    yield "structured", npy_bytes(np.zeros(16, dtype=[("a", "<f4"), ("b", "<i4")]))
    yield "fortran", npy_bytes(np.asfortranarray(rng.randn(6, 16).astype(np.float32)))
    yield "10^12 elements", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }")
    yield "negative shape", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 16), }")
    yield "header says more", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16), }", b"\0" * 8)
    yield "unclosed header", npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 16")
    yield "code in header", npy_with_header("__import__('os').system('true')")
    yield "deep header", npy_with_header("[" * 5000 + "]" * 5000)
    yield "odd descr", npy_with_header("{'descr': 'not-a-dtype', 'fortran_order': False, 'shape': (16,), }")
    yield "header length", b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 100
    yield "version 9", b"\x93NUMPY\x09\x00" + b"\0" * 100

    class Payload:
        def __reduce__(self):
            return (os.system, ("true",))

    yield "pickled os.system", npy_bytes(np.array(Payload(), dtype=object), allow_pickle=True)
    yield "pickled list", npy_bytes(np.array([1, "x", None], dtype=object), allow_pickle=True)
    yield "pickled dict, no boundary", npy_bytes(np.array({"x": 1}, dtype=object), allow_pickle=True)
    yield "pickled dict, bad layers", npy_bytes(np.array(
        {"boundary": rng.randn(1, 16), "meta_data": {"manipulate_layers": "9-2,x"}}, dtype=object), allow_pickle=True)


def test_damaged_higan_boundaries(fixtures_dir, tmp_path):
    for f in sorted((fixtures_dir / "higan_boundaries").rglob("*.npy"))[:2]:  # a pickled dict and a plain array
        extra = [(k, v) for k, v in structured_npy_cases()]
        out = run_corpus(tmp_path, f.name, f.read_bytes(), load_boundary, extra=extra)
        assert out["refused"] > len(extra)


def test_damaged_codes(tmp_path):
    data = npy_bytes(np.random.RandomState(0).randn(1, 6, 16).astype(np.float32))
    out = run_corpus(tmp_path, "wp.npy", data, lambda p: load_code_npy(p, z_dim=16, w_dim=16, num_layers=6),
                     extra=list(structured_npy_cases()))
    assert out["read"] >= 2  # the code itself reads under a flipped data byte, and the [1, 6, 16] case


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_damaged_strata_boundaries(tmp_path):
    b = Boundary("wood", np.random.RandomState(0).randn(16), level="attribute", layers=(1, 3))
    save_boundary(b, tmp_path / "wood.npz")
    meta = json.loads(json.dumps(b.to_dict()))
    vec = np.asarray(b.vector)

    def meta_bytes(obj) -> np.ndarray:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    extra = [
        ("deep meta", npz_bytes(vector=vec, meta=meta_bytes("[" * 100_000 + "]" * 100_000))),
        ("long number", npz_bytes(vector=vec, meta=meta_bytes('{"format": "strata-boundary", "accuracy": 1' + "0" * 5000 + "}"))),
        ("NaN meta", npz_bytes(vector=vec, meta=meta_bytes(json.dumps(dict(meta, accuracy=float("nan")))))),
        ("meta not uint8", npz_bytes(vector=vec, meta=np.zeros(4, np.float32))),
        ("no meta", npz_bytes(vector=vec)),
        ("pickled member", npz_bytes(vector=np.array([os.system], dtype=object), meta=meta_bytes(meta))),
        ("wrong fingerprint", npz_bytes(vector=vec[::-1].copy(), meta=meta_bytes(meta))),
        ("nan vector", npz_bytes(vector=np.full(16, np.nan, np.float32), meta=meta_bytes(dict(meta, fingerprint=None)))),
        ("huge layers", npz_bytes(vector=vec, meta=meta_bytes(dict(meta, layers=[0, 10**30], fingerprint=None)))),
    ]
    for keys in list(_walk(meta)):
        for value in ODD_VALUES[:6]:
            bad = json.loads(json.dumps(meta))
            _set(bad, keys, value)
            extra.append((f"meta{keys}={str(value)[:10]}", npz_bytes(vector=vec, meta=meta_bytes(bad))))
    run_corpus(tmp_path, "wood.npz", (tmp_path / "wood.npz").read_bytes(), load_boundary, extra=extra)


def test_kind_of_never_blocks_or_raises_on_a_damaged_npy(tmp_path):
    data = npy_bytes(np.zeros((1, 6, 16), np.float32))
    rng = np.random.RandomState(SEED)
    for i, (how, blob) in enumerate([*mutations(data, rng), *structured_npy_cases()]):
        path = tmp_path / f"c{i}.npy"
        path.write_bytes(blob)
        assert kind_of(path, code_shape=(1, 6, 16)) in ("code", "boundaries")


# ------------------------------------------------------------------ recipes


def recipe_scene() -> Scene:
    rng = np.random.RandomState(0)
    rows = tuple(Edit(Boundary(f"b{i}", rng.randn(16), layers=(1, 3)), 1.5 * i, (1, 3)) for i in range(2))
    return Scene(code=Code("wp", None, rng.randn(1, 6, 16)), psi=0.7, edits=rows)


def test_damaged_recipes_in_json(tmp_path):
    recipe = recipe_scene().to_dict()
    text = json.dumps(recipe)
    extra = [("deep", ("[" * 100_000 + "]" * 100_000).encode()),
             ("deep in a field", json.dumps(dict(recipe, extra="X")).replace('"X"', "[" * 1000 + "]" * 1000).encode()),
             ("seed 1e400", json.dumps(dict(recipe, code={"space": "z", "seed": 1}, checksum=None))
              .replace('"seed": 1', '"seed": 1e400').encode()),
             ("5000-digit seed", json.dumps(dict(recipe, code={"space": "z", "seed": 1})).replace(
                 '"seed": 1', '"seed": ' + "9" * 5000).encode()),
             ("NaN psi", text.replace('"truncation_psi": 0.7', '"truncation_psi": NaN').encode()),
             ("huge psi", text.replace('"truncation_psi": 0.7', '"truncation_psi": 1e9').encode()),
             ("utf-16", text.encode("utf-16")),
             ("over the length limit", b" " * (limits.MAX_JSON_CHARS + 1))]
    for keys in list(_walk(recipe)):
        for value in ODD_VALUES:
            bad = json.loads(text)
            _set(bad, keys, value)
            extra.append((f"{keys}={str(value)[:10]}", json.dumps(bad).encode()))
    out = run_corpus(tmp_path, "scene.json", text.encode(), read_recipe, extra=extra)
    assert out["refused"] > len(extra) // 2


def test_a_recipe_whose_code_or_boundaries_changed_is_refused_by_its_checksum(tmp_path):
    recipe = recipe_scene().to_dict()
    data = recipe["code"]["data"]
    recipe["code"]["data"] = "A" * 8 + data[8:]
    (tmp_path / "s.json").write_text(json.dumps(recipe))
    with pytest.raises(StrataError, match="s.json: the code or boundaries do not match the recipe's checksum"):
        read_recipe(tmp_path / "s.json")
    recipe["code"]["data"] = data
    recipe["boundaries"][1]["meta"]["level"] = "layout"
    (tmp_path / "s.json").write_text(json.dumps(recipe))
    with pytest.raises(StrataError, match="s.json: the code or boundaries do not match the recipe's checksum"):
        read_recipe(tmp_path / "s.json")
    del recipe["checksum"]  # a recipe from before checksums: read as it is
    (tmp_path / "s.json").write_text(json.dumps(recipe))
    assert read_recipe(tmp_path / "s.json").code.space == "wp"


def test_damaged_recipes_in_png(tmp_path):
    image = np.random.RandomState(0).randint(0, 255, (16, 16, 3), dtype=np.uint8)
    data = png_bytes_with_recipe(image, recipe_scene())
    # A text chunk whose CRC fails, and one whose compressed text inflates past the limit.
    key = b"strata:recipe\0"
    bomb = key + b"\0" + zlib.compress(b" " * (limits.MAX_JSON_CHARS + 10), 9)
    bomb_chunk = struct.pack(">I", len(bomb)) + b"zTXt" + bomb + struct.pack(">I", zlib.crc32(b"zTXt" + bomb))
    extra = [("bomb", data[:33] + bomb_chunk + data[33:]),
             ("bad crc", data[:33] + bomb_chunk[:-1] + b"\0" + data[33:])]
    out = run_corpus(tmp_path, "scene.png", data, read_recipe, extra=extra)
    assert out["read"] >= 1


def test_a_recipe_over_one_megabyte_round_trips_through_a_png(tmp_path):
    rng = np.random.RandomState(0)
    rows = tuple(Edit(Boundary(f"row{i}", rng.randn(6, 512)), 0.0, (0, 5)) for i in range(60))
    scene = Scene(code=Code.from_seed(3), edits=rows)
    assert len(json.dumps(scene.to_dict())) > 1_000_000
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes_with_recipe(np.zeros((8, 8, 3), np.uint8), scene))
    assert read_recipe(path).same_as(scene)


def test_hierarchy_reports_and_journals_go_through_the_limits(tmp_path):
    from strata.engine.discovery.hierarchy import _library_files

    (tmp_path / "hierarchy.json").write_text("[" * 100_000 + "]" * 100_000)
    assert _library_files(tmp_path) == set()  # a damaged report names no files: nothing is deleted
    journal = Journal(tmp_path)
    journal.record_steps([("m.pth", recipe_scene())], 0)
    out = run_corpus(tmp_path, journal.path.name, journal.path.read_bytes(), journal.load)
    assert out["refused"] >= 4 + N
