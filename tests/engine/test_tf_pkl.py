"""NVIDIA's original TensorFlow pickles (StyleGAN, StyleGAN2 config-f) open without
TensorFlow and without running the source code they carry.

No release file is stored here, so each test writes one the way
``dnnlib.tflib.network.Network.__getstate__`` does: a tuple ``(G, D, Gs)`` of
objects pickled under that class name, each a state dict with the variables as
NumPy arrays named and laid out as TensorFlow keeps them (rebuilt here from the
reference fixtures by inverting the published converters' conventions), plus
``build_module_src`` that would write a marker file if anything ran it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from strata.engine.core import tf_pkl
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator
from tests._reference import close


class Network:
    """Stand-in pickled as ``dnnlib.tflib.network.Network``, with the real class's state."""

    __module__ = "dnnlib.tflib.network"
    __qualname__ = "Network"

    def __init__(self, name, variables, components=None, static_kwargs=None, src="", func=""):
        self._state = {"version": 4, "name": name, "static_kwargs": dict(static_kwargs or {}),
                       "components": dict(components or {}), "build_module_src": src,
                       "build_func_name": func, "variables": list(variables.items())}

    def __getstate__(self):
        return self._state


@contextlib.contextmanager
def _dnnlib_importable():
    """pickle finds a class by its module and name: make them resolvable only while pickling."""
    names = ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    sys.modules["dnnlib.tflib.network"].Network = Network
    try:
        yield
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def _marker_src(marker) -> str:
    return (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('build_module_src ran')\n"
            "def G_style(latents_in, labels_in, **kwargs):\n    return latents_in\n")


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


# --------------------------------------------------------------------------- StyleGAN (v1)


def _v1_networks(sd: dict, fused: bool):
    """(mapping vars, synthesis vars, Gs own vars) of a HiGAN state dict, as TensorFlow names them."""
    mapping, synthesis = {}, {"lod": np.float32(0.0)}
    i = 0
    while f"mapping.dense{i}.fc.weight" in sd:
        mapping[f"Dense{i}/weight"] = _np(sd[f"mapping.dense{i}.fc.weight"]).T  # TF dense: [in, out]
        mapping[f"Dense{i}/bias"] = _np(sd[f"mapping.dense{i}.wscale.bias"])
        i += 1
    n_res = 0
    while f"synthesis.output{n_res}.conv.weight" in sd:
        n_res += 1
    synthesis["4x4/Const/const"] = _np(sd["synthesis.layer0.const"])
    for layer in range(2 * n_res):
        r = 4 * 2 ** (layer // 2)
        scope = (["4x4/Const", "4x4/Conv"][layer] if layer < 2
                 else f"{r}x{r}/" + ("Conv0_up" if layer % 2 == 0 else "Conv1"))
        p = f"synthesis.layer{layer}"
        synthesis[f"{scope}/Noise/weight"] = _np(sd[f"{p}.epilogue.apply_noise.weight"])
        synthesis[f"noise{layer}"] = _np(sd[f"{p}.epilogue.apply_noise.noise"])
        synthesis[f"{scope}/bias"] = _np(sd[f"{p}.epilogue.bias"])
        synthesis[f"{scope}/StyleMod/weight"] = _np(sd[f"{p}.epilogue.style_mod.dense.fc.weight"]).T
        synthesis[f"{scope}/StyleMod/bias"] = _np(sd[f"{p}.epilogue.style_mod.dense.wscale.bias"])
        if layer == 0:
            continue
        if f"{p}.weight" in sd:  # fused up-sampling: HiGAN keeps TensorFlow's [3, 3, in, out]
            assert fused
            synthesis[f"{scope}/weight"] = _np(sd[f"{p}.weight"])
        else:  # [out, in, kh, kw] -> [kh, kw, in, out]
            synthesis[f"{scope}/weight"] = _np(sd[f"{p}.conv.weight"]).transpose(2, 3, 1, 0)
    for b in range(n_res):
        lod = n_res - 1 - b
        synthesis[f"ToRGB_lod{lod}/weight"] = _np(sd[f"synthesis.output{b}.conv.weight"]).transpose(2, 3, 1, 0)
        synthesis[f"ToRGB_lod{lod}/bias"] = _np(sd[f"synthesis.output{b}.bias"])
    own = {"lod": np.float32(0.0), "dlatent_avg": _np(sd["truncation.w_avg"])}
    return mapping, synthesis, own


def _write_tf_pickle(path, mapping, synthesis, own, src, kwargs, protocol=4):
    """(G, D, Gs) as NVIDIA's training loop pickles them; G holds other weights than Gs."""
    def generator(name, scale):
        comps = {"synthesis": Network("G_synthesis", {k: v * scale for k, v in synthesis.items()},
                                      static_kwargs=kwargs, src=src, func="G_synthesis"),
                 "mapping": Network("G_mapping", {k: v * scale for k, v in mapping.items()},
                                    static_kwargs=kwargs, src=src, func="G_mapping")}
        return Network(name, own, comps, static_kwargs=kwargs, src=src, func="G_style")

    d = Network("D", {"4x4/Conv/weight": np.ones((3, 3, 8, 8), np.float32)}, src=src, func="D_basic")
    with _dnnlib_importable():
        data = pickle.dumps((generator("G", np.float32(0.5)), d, generator("Gs", np.float32(1.0))),
                            protocol=protocol)
    path.write_bytes(data)
    return data


@pytest.fixture(params=["stylegan_tiny32", "stylegan_tiny32_fused"])
def v1(request, fixtures_dir, tmp_path):
    base = fixtures_dir / "genforce_stylegan" / request.param
    sd = torch.load(base.with_suffix(".pth"), map_location="cpu", weights_only=True)
    fused = request.param.endswith("fused")
    marker = tmp_path / "ran.txt"
    src = _marker_src(marker)
    parts = _v1_networks(sd, fused)
    path = tmp_path / "karras2019stylegan-tiny-32x32.pkl"
    kwargs = {"resolution": 32, "fused_scale": True if fused else "auto"}
    data = _write_tf_pickle(path, *parts, src, kwargs)
    return types.SimpleNamespace(path=path, data=data, marker=marker, e=np.load(f"{base}_expected.npz"),
                                 parts=parts, kwargs=kwargs)


def test_v1_pickle_reproduces_higan_outputs(v1):
    path, data, marker, e = v1.path, v1.data, v1.marker, v1.e
    model = load_generator(path, device="cpu")
    g = model.generator
    assert model.format == "tf-stylegan" and g.architecture == "stylegan"
    assert g.num_layers == 8 and g.default_psi == 0.7 and g.truncation_layers == 8
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        assert close(w, e["w"])  # Gs, not G (whose weights are halved)
        assert close(g.truncate(w, 0.7), e["wp"])
        for which in ("", "_untruncated", "_layerwise"):
            assert close(g.synthesize(torch.from_numpy(e["wp" + which])), e["image" + which])
    # The source code travelled in the file and nothing ran it.
    assert b"build_module_src ran" in data
    assert not marker.exists()


def test_the_wrong_fused_setting_changes_the_image(v1, tmp_path):
    # Fused and plain up-sampling store the same [3, 3, in, out] weight: the build setting decides.
    fused = load_generator(v1.path, device="cpu").generator.config.fused[-1]
    other = tmp_path / "other.pkl"
    _write_tf_pickle(other, *v1.parts, "", {"fused_scale": not fused})
    g = load_generator(other, device="cpu").generator
    assert g.config.fused[-1] != fused
    with torch.inference_mode():
        assert not close(g.synthesize(torch.from_numpy(v1.e["wp"])), v1.e["image"])


def test_old_numpy_spelling_and_protocol_2_read(v1, tmp_path):
    # Files written under NumPy 1 name numpy.core.multiarray; protocol 2 spells globals as text.
    e, path = v1.e, tmp_path / "old.pkl"
    data = _write_tf_pickle(path, *v1.parts, "", v1.kwargs, protocol=2)
    assert b"cnumpy._core.multiarray\n" in data
    path.write_bytes(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    g = load_generator(path, device="cpu").generator
    with torch.inference_mode():
        assert close(g.mapping(torch.from_numpy(e["z"])), e["w"])
        assert close(g.synthesize(torch.from_numpy(e["wp"])), e["image"])


# --------------------------------------------------------------------------- StyleGAN2


def _v2_networks(ckpt: dict):
    """(mapping, synthesis, Gs own) variables of a rosinality checkpoint, as TensorFlow names them."""
    sd = ckpt["g_ema"]
    mapping, synthesis = {}, {}
    i = 1
    while f"style.{i}.weight" in sd:
        mapping[f"Dense{i - 1}/weight"] = _np(sd[f"style.{i}.weight"]).T
        mapping[f"Dense{i - 1}/bias"] = _np(sd[f"style.{i}.bias"])
        i += 1
    synthesis["4x4/Const/const"] = _np(sd["input.input"])

    def modconv(scope, key, up=False):
        w = _np(sd[f"{key}.conv.weight"])[0].transpose(2, 3, 1, 0)  # -> [kh, kw, in, out]
        synthesis[f"{scope}/weight"] = np.ascontiguousarray(w[::-1, ::-1] if up else w)
        synthesis[f"{scope}/mod_weight"] = _np(sd[f"{key}.conv.modulation.weight"]).T
        synthesis[f"{scope}/mod_bias"] = _np(sd[f"{key}.conv.modulation.bias"]) - 1  # TF adds 1 at run time
        synthesis[f"{scope}/noise_strength"] = np.float32(sd[f"{key}.noise.weight"].item())
        synthesis[f"{scope}/bias"] = _np(sd[f"{key}.activate.bias"])

    def torgb(scope, key):
        synthesis[f"{scope}/ToRGB/weight"] = _np(sd[f"{key}.conv.weight"])[0].transpose(2, 3, 1, 0)
        synthesis[f"{scope}/ToRGB/mod_weight"] = _np(sd[f"{key}.conv.modulation.weight"]).T
        synthesis[f"{scope}/ToRGB/mod_bias"] = _np(sd[f"{key}.conv.modulation.bias"]) - 1
        synthesis[f"{scope}/ToRGB/bias"] = _np(sd[f"{key}.bias"]).reshape(-1)

    modconv("4x4/Conv", "conv1")
    torgb("4x4", "to_rgb1")
    k = 0
    while f"to_rgbs.{k}.conv.weight" in sd:
        r = 8 * 2**k
        modconv(f"{r}x{r}/Conv0_up", f"convs.{2 * k}", up=True)
        modconv(f"{r}x{r}/Conv1", f"convs.{2 * k + 1}")
        torgb(f"{r}x{r}", f"to_rgbs.{k}")
        k += 1
    for j in range(2 * k + 1):
        synthesis[f"noise{j}"] = _np(sd[f"noises.noise_{j}"])
    own = {"lod": np.float32(0.0), "dlatent_avg": _np(ckpt["latent_avg"])}
    return mapping, synthesis, own


@pytest.fixture
def v2(fixtures_dir, tmp_path):
    base = fixtures_dir / "rosinality_stylegan2" / "stylegan2_rosinality_tiny32"
    ckpt = torch.load(base.with_suffix(".pt"), map_location="cpu", weights_only=True)
    marker = tmp_path / "ran.txt"
    path = tmp_path / "stylegan2-tiny-config-f.pkl"
    parts = _v2_networks(ckpt)
    kwargs = {"resolution": 32, "architecture": "skip"}
    data = _write_tf_pickle(path, *parts, _marker_src(marker), kwargs)
    return types.SimpleNamespace(path=path, data=data, marker=marker, e=np.load(f"{base}_expected.npz"),
                                 parts=parts, kwargs=kwargs)


def test_v2_pickle_reproduces_the_port_outputs(v2):
    path, data, marker, e = v2.path, v2.data, v2.marker, v2.e
    model = load_generator(path, device="cpu")
    g = model.generator
    assert model.format == "tf-stylegan2" and g.architecture == "stylegan2"
    # StyleGAN2's own default (G_main): psi 0.5 on every layer.
    assert g.num_layers == 8 and g.default_psi == 0.5 and g.truncation_layers == 8
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        assert close(w, e["w"])
        assert close(g.w_avg, e["latent_avg"])
        assert close(g.synthesize(g.truncate(w, 1.0)), e["image"])
        assert close(g.synthesize(g.truncate(w, 0.7)), e["image_truncated"])
        assert close(g.synthesize(torch.from_numpy(e["wp_layerwise"])), e["image_layerwise"])
    assert b"build_module_src ran" in data
    assert not marker.exists()


def test_v2_unknown_variable_is_named(v2, tmp_path):
    mapping, synthesis, own = v2.parts
    path = tmp_path / "cond.pkl"
    _write_tf_pickle(path, {**mapping, "LabelConcat/weight": np.ones((4, 64), np.float32)}, synthesis, own, "", {})
    with pytest.raises(ModelLoadError, match=r"cond\.pkl: variable G_mapping/LabelConcat/weight has no place"):
        load_generator(path, device="cpu")


def test_v2_setting_strata_does_not_read_is_refused(v2, tmp_path):
    path = tmp_path / "resnet.pkl"
    _write_tf_pickle(path, *v2.parts, "", {"architecture": "resnet"})
    with pytest.raises(ModelLoadError, match=r"resnet\.pkl: the synthesis network was built with architecture='resnet'"):
        load_generator(path, device="cpu")


# --------------------------------------------------------------------------- refusals and recognition


def test_a_pickle_naming_os_system_is_refused_in_one_line(v2, tmp_path):
    marker = tmp_path / "pwned.txt"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    own = v2.parts[2]
    with _dnnlib_importable():
        data = pickle.dumps((Network("Gs", {**own, "x": Evil()}),), protocol=2)
    # os.system pickles under its C module's name (posix); spell it as an attacker would.
    global_ = f"c{os.system.__module__}\nsystem\n".encode()
    assert global_ in data
    path = tmp_path / "evil.pkl"
    path.write_bytes(data.replace(global_, b"cos\nsystem\n"))
    assert tf_pkl.sniff(path, path.read_bytes()[:64])
    with pytest.raises(ModelLoadError) as info:
        load_generator(path, device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "'os.system'" in msg
    assert not marker.exists()


def test_truncated_copy_is_one_line(v1, tmp_path):
    data = v1.data
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: len(data) // 2])
    assert tf_pkl.sniff(cut, data[:64])  # still recognised: the reader, not torch, reports it
    with pytest.raises(ModelLoadError) as info:
        load_generator(cut, device="cpu")
    msg = str(info.value)
    assert "\n" not in msg and str(cut) in msg and "truncated" in msg


def test_sniff_tells_tf_pickles_from_other_files(v1, fixtures_dir):
    assert tf_pkl.sniff(v1.path, v1.data[:64])
    others = [fixtures_dir / "nvidia_pkl" / "stylegan2_ada_tiny32.pkl",  # NVIDIA's PyTorch pickle
              fixtures_dir / "genforce_stylegan" / "stylegan_tiny32.pth",  # torch zip
              fixtures_dir / "higan_boundaries" / "stylegan_bedroom"]  # a folder
    for other in others:
        head = other.read_bytes()[:64] if other.is_file() else b""
        assert not tf_pkl.sniff(other, head), other
