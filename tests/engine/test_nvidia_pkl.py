"""NVIDIA's PyTorch pickles (StyleGAN2-ADA): the authors' outputs, and never their code.

The pickles carry their network module's source for ``exec``; these tests prove
the weights come through exactly while nothing from the file runs: a pickle
whose source would write a marker file opens and renders with no marker, and a
pickle naming ``os.system`` (or ``exec``, ``Popen``) is one refusal line.
"""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from strata.app.cli import main
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator
from strata.engine.core.nvidia_pkl import PersistentObject, load_nvidia_pickle, state_dict_of
from strata.engine.core.protocol import Generator
from tests._reference import close, higan_pixels

FIXTURES = [("stylegan2_ada_tiny32", None), ("stylegan2_ada_cond_tiny32", 3)]


@pytest.fixture(autouse=True)
def _small(one_thread):
    pass


def _outputs(g, e) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        ws, ws_t = g.truncate(w, 1.0), g.truncate(w, 0.7)  # psi 0.7 on every entry by default
        return {"w_avg": g.w_avg.numpy(), "ws": ws.numpy(), "ws_truncated": ws_t.numpy(),
                "image": g.synthesize(ws).numpy(), "image_truncated": g.synthesize(ws_t).numpy(),
                "image_layerwise": g.synthesize(torch.from_numpy(e["ws_layerwise"])).numpy()}


@pytest.mark.parametrize("stem,class_index", FIXTURES)
def test_reproduces_nvidia_outputs(reference, stem, class_index):
    g, e, cfg = reference(f"nvidia_pkl/{stem}", ".pkl")
    assert (g.num_layers, g.z_dim, g.w_dim, g.resolution) == (cfg["num_ws"], cfg["z_dim"], cfg["w_dim"], 32)
    assert isinstance(g, Generator)
    assert g.truncation_layers == g.num_layers and g.default_psi == 0.7
    assert g.layer_resolutions == (4, 8, 8, 16, 16, 32, 32, 32)
    if class_index is not None:
        g.class_index = cfg["class_of_expected"]
    got = _outputs(g, e)
    for key, value in got.items():
        assert close(value, e[key]), f"{stem}: {key} off by {np.abs(value - e[key]).max():g}"


def test_the_class_changes_the_code_and_is_checked(reference):
    g, e, _ = reference("nvidia_pkl/stylegan2_ada_cond_tiny32", ".pkl")
    z = torch.from_numpy(e["z"])
    g.class_index = 3
    w3 = g.mapping(z)
    g.class_index = 0
    assert (g.mapping(z) - w3).abs().max() > 1e-3
    with pytest.raises(ValueError, match="0-4"):
        g.class_index = 5


def test_conv_clamp_bounds_every_layer(reference):
    # The fixtures' activations never reach the clamp (256); blow them up so it must engage.
    g, e, _ = reference("nvidia_pkl/stylegan2_ada_tiny32", ".pkl")
    with torch.inference_mode():
        g.synthesis.b4.const.mul_(1e6)
        image = g.synthesize(torch.from_numpy(e["ws"]))
    # four to-RGB outputs, each clamped to +-256, summed through positive up-sampling filters
    assert 256 < image.abs().max() <= 4 * 256


def test_records_hold_init_kwargs_and_a_state_dict_in_nvidias_names(fixtures_dir):
    top = load_nvidia_pickle(fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32.pkl")
    assert top["D"] is None and isinstance(top["G_ema"], PersistentObject)
    g = top["G_ema"]
    assert (g.module_name, g.class_name) == ("networks_stylegan2", "Generator")
    assert g.init_kwargs["mapping_kwargs"] == {"num_layers": 4} and g.init_kwargs["conv_clamp"] == 256
    sd = state_dict_of(g)
    assert sd["mapping.w_avg"].shape == (64,) and sd["synthesis.b4.const"].shape == (64, 4, 4)
    assert sd["synthesis.b32.conv1.noise_const"].shape == (32, 32)
    assert "mapping.fc3.weight" in sd and "synthesis.b32.torgb.affine.bias" in sd
    assert "module_src" not in repr(g.state)  # the source text is not kept
    assert load_nvidia_pickle(fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl")["G_ema"].module_name == "networks_stylegan3"


def test_stylegan3_is_one_line_while_its_generator_is_missing(fixtures_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "strata.engine.core.stylegan3", None)  # import fails
    with pytest.raises(ModelLoadError, match="StyleGAN3 pickles are not supported yet"):
        load_generator(fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl", device="cpu")


# --------------------------------------------------------------------------- code in the file never runs


class _Persistent:
    """Pickles as NVIDIA's persistence module does: a call to _reconstruct_persistent_obj(meta)."""

    def __init__(self, meta: dict, reconstruct):
        self.meta, self.reconstruct = meta, reconstruct

    def __reduce__(self):
        return self.reconstruct, (self.meta,)


def _dumps(obj) -> bytes:
    # os.system pickles under its C module's name (posix.system); write it as a malicious file would.
    return pickle.dumps(obj, protocol=2, fix_imports=False).replace(b"cposix\nsystem\n", b"cos\nsystem\n")


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


@pytest.fixture
def persistence(monkeypatch, tmp_path):
    """A stand-in ``torch_utils.persistence`` for writing pickles: its reconstruct
    function does what exec'ing the module source would do here, write the marker."""
    marker = tmp_path / "ran.txt"

    def _reconstruct_persistent_obj(meta):
        marker.write_text("ran")
        return meta

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    pkg, mod = types.ModuleType("torch_utils"), types.ModuleType("torch_utils.persistence")
    mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
    pkg.persistence = mod
    monkeypatch.setitem(sys.modules, "torch_utils", pkg)
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", mod)
    src = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    return marker, src, _reconstruct_persistent_obj


def _as_pickled(obj, src, reconstruct):
    if isinstance(obj, PersistentObject):
        meta = dict(type="class", version=6, module_src=src, class_name=obj.class_name,
                    state={k: _as_pickled(v, src, reconstruct) for k, v in obj.state.items()})
        return _Persistent(meta, reconstruct)
    if isinstance(obj, dict):
        return type(obj)((k, _as_pickled(v, src, reconstruct)) for k, v in obj.items())
    return obj


def test_a_pickle_whose_source_would_write_a_file_renders_and_writes_nothing(fixtures_dir, tmp_path, persistence):
    marker, src, reconstruct = persistence
    top = load_nvidia_pickle(fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32.pkl")
    data = pickle.dumps({k: _as_pickled(v, src, reconstruct) for k, v in top.items()}, protocol=4)
    assert b"torch_utils.persistence" in data and src.encode() in data
    pickle.loads(data)  # the ordinary way: the file's code runs
    assert marker.exists()
    marker.unlink()

    path = tmp_path / "armed.pkl"
    path.write_bytes(data)
    model = load_generator(path, device="cpu")
    assert model.format == "nvidia-stylegan2"
    e = np.load(fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32_expected.npz")
    with torch.inference_mode():
        image = model.generator.synthesize(torch.from_numpy(e["ws_layerwise"])).numpy()
    assert close(image, e["image_layerwise"])
    assert not marker.exists()


@pytest.mark.parametrize("call", [
    ("os.system", lambda m: _Call(__import__("os").system, f"echo ran > {m}")),
    ("builtins.exec", lambda m: _Call(exec, f"open({str(m)!r}, 'w').write('ran')")),
    ("subprocess.Popen", lambda m: _Call(__import__("subprocess").Popen, ["touch", str(m)])),
], ids=lambda c: c[0] if isinstance(c, tuple) else None)
def test_a_pickle_naming_a_code_runner_is_refused_by_name(tmp_path, persistence, call):
    marker, src, reconstruct = persistence
    name, make = call
    meta = dict(type="class", version=6, module_src=src, class_name="Generator",
                state={"_parameters": {}, "_modules": {}, "payload": make(marker)})
    path = tmp_path / "evil.pkl"
    path.write_bytes(_dumps({"G": None, "G_ema": _Persistent(meta, reconstruct)}))
    with pytest.raises(ModelLoadError) as info:
        load_generator(path, device="cpu")
    msg = str(info.value)
    assert msg == f"{path}: refused: the pickle names {name}; Strata never runs code from a file"
    assert "\n" not in msg and not marker.exists()
    # A bare pickle with nothing NVIDIA about it is refused the same way by the reader.
    path.write_bytes(_dumps(make(marker)))
    with pytest.raises(ModelLoadError, match=f"refused: the pickle names {name}"):
        load_nvidia_pickle(path)
    assert not marker.exists()


# --------------------------------------------------------------------------- damaged files, the command line


def test_a_truncated_copy_is_one_line(fixtures_dir, tmp_path):
    data = (fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32.pkl").read_bytes()
    for cut in (len(data) // 2, 200):
        path = tmp_path / "cut.pkl"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelLoadError) as info:
            load_generator(path, device="cpu")
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
        assert "truncated or corrupt" in str(info.value)


def test_info_prints_the_format(fixtures_dir, capsys):
    assert main(["info", str(fixtures_dir / "nvidia_pkl/stylegan2_ada_cond_tiny32.pkl")]) == 0
    out = capsys.readouterr().out
    assert "format:       NVIDIA PyTorch pickle (StyleGAN2-ADA / StyleGAN3 code), StyleGAN2 generator" in out
    assert "layers (W+):  8" in out and "mapping:      2 layers" in out


def test_render_class_picks_the_class(fixtures_dir, tmp_path, capsys):
    base = fixtures_dir / "nvidia_pkl/stylegan2_ada_cond_tiny32"
    e = np.load(f"{base}_expected.npz")
    np.save(tmp_path / "z.npy", e["z"][:1])
    out = tmp_path / "c3.png"
    args = ["render", "-m", f"{base}.pkl", "--latent", str(tmp_path / "z.npy"), "-t", "0.7"]
    assert main([*args, "--class", "3", "-o", str(out)]) == 0
    got = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert np.abs(got - higan_pixels(e["image_truncated"])[0]).max() <= 1
    assert main([*args, "--class", "7", "-o", str(out)]) == 1
    assert "--class 7: the model has classes 0-4" in capsys.readouterr().err
    plain = fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32.pkl"
    assert main(["render", "-m", str(plain), "--class", "1", "-o", str(out)]) == 1
    assert "not a class-conditional model" in capsys.readouterr().err
