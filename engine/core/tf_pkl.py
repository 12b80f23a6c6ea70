"""Open NVIDIA's original TensorFlow pickles (StyleGAN and StyleGAN2) without
TensorFlow and without running anything from the file.

``karras2019stylegan-*.pkl`` (the files HiGAN converts) and
``stylegan2-*-config-f.pkl`` pickle a tuple ``(G, D, Gs)`` of
``dnnlib.tflib.network.Network`` objects. A Network pickles as a state dict:
``version``, ``name``, ``static_kwargs`` (the build function's settings),
``components`` (sub-networks: ``mapping``, ``synthesis``), ``build_module_src``
and ``build_func_name`` (the source code that unpickling the ordinary way
would ``exec``), and ``variables``, a list of ``(name, numpy array)``.

Here a restricted unpickler turns each Network into a :class:`NetworkRecord`
holding that state as data (the source text is never read, compiled or run),
rebuilds NumPy arrays with the few NumPy globals that array reconstruction
needs, and refuses every other global by name. The averaged generator ``Gs``
is preferred; its variables are renamed and re-laid-out into Strata's
generators: StyleGAN (v1) onto HiGAN's layout (:mod:`strata.engine.core.stylegan`),
StyleGAN2 onto the rosinality layout (:mod:`strata.engine.core.stylegan2`).
Both layouts keep TensorFlow's equalized-lr convention (weights stored
unscaled, scaled at run time), so weights move over as they are, transposed.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import pickle
import pickletools
from pathlib import Path

import numpy as np
import torch

from strata.engine.core._safe_pickle import RestrictedUnpickler
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import _strict_load
from strata.engine.core.stylegan import StyleGANGenerator, infer_config
from strata.engine.core.stylegan2 import StyleGAN2Generator, infer_config2

__all__ = ["NetworkRecord", "open_model", "sniff"]

_NETWORK = ("dnnlib.tflib.network", "Network")
_SNIFF_BYTES = 4096  # the first global of a (G, D, Gs) pickle is within its first few dozen bytes


# --------------------------------------------------------------------------- unpickling


class NetworkRecord:
    """What a pickled ``dnnlib.tflib.network.Network`` becomes: its state, as data."""

    state: dict | None = None

    def __setstate__(self, state: object) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"a Network's state is a {type(state).__name__}, not a dict")
        self.state = state

    @property
    def name(self) -> str:
        return str((self.state or {}).get("name", ""))

    @property
    def static_kwargs(self) -> dict:
        kw = (self.state or {}).get("static_kwargs")
        return kw if isinstance(kw, dict) else {}

    @property
    def components(self) -> dict:
        comps = (self.state or {}).get("components")
        return comps if isinstance(comps, dict) else {}


class _PlainDict(dict):
    """``dnnlib.util.EasyDict`` (a dict with attribute access) read as a plain dict."""

    def __setstate__(self, state: object) -> None:
        if isinstance(state, dict):
            self.update(state)


def _latin1_bytes(text: object, encoding: object = "latin1") -> bytes:
    """``_codecs.encode`` as protocol 2 uses it for bytes, and nothing more."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is read only as protocol 2's spelling of bytes")
    return text.encode("latin1")


def _allowed() -> dict[tuple[str, str], object]:
    try:  # NumPy 2 moved the C core to numpy._core; files written under NumPy 1 name numpy.core
        ma = importlib.import_module("numpy._core.multiarray")
    except ImportError:  # NumPy < 2
        ma = importlib.import_module("numpy.core.multiarray")
    table: dict[tuple[str, str], object] = {_NETWORK: NetworkRecord, ("dnnlib.util", "EasyDict"): _PlainDict,
                                            ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                            ("_codecs", "encode"): _latin1_bytes}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        # _reconstruct allocates an empty array that ndarray.__setstate__ fills; scalar makes a NumPy
        # scalar from raw bytes (TensorFlow hands 0-d variables such as 'lod' back as NumPy scalars).
        table[(module, "_reconstruct")] = ma._reconstruct
        table[(module, "scalar")] = ma.scalar
    return table


def _unpickler(file, path: Path) -> RestrictedUnpickler:
    def refuse(module: str, name: str) -> ModelLoadError:
        return ModelLoadError(f"{path}: refused: the pickle asks for '{module}.{name}', which a "
                              "TensorFlow StyleGAN pickle never needs; nothing was executed")

    return RestrictedUnpickler(file, table=_allowed(), refuse=refuse)

    def persistent_load(self, pid):
        raise ModelLoadError(f"{self._path}: refused: the pickle uses persistent references, "
                             "which a TensorFlow StyleGAN pickle never has")


def _first_global(data: bytes) -> tuple[str, str] | None:
    """(module, name) of the first global a pickle prefix names, without loading anything."""
    memo: dict[int, object] = {}
    pushed: list[object] = []
    try:
        for op, arg, _pos in pickletools.genops(data):
            if op.name == "GLOBAL":
                module, _, name = str(arg).partition(" ")
                return module, name
            if op.name == "STACK_GLOBAL":
                return (str(pushed[-2]), str(pushed[-1])) if len(pushed) >= 2 else None
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                pushed.append(arg)
            elif op.name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = pushed[-1] if pushed else None
            elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                pushed.append(memo.get(int(arg)))
    except Exception:  # the prefix ends mid-opcode, or the bytes are not a pickle
        return None
    return None


def sniff(path: str | Path, head: bytes) -> bool:
    """Whether ``path`` is a TensorFlow Network pickle: its first global is
    ``dnnlib.tflib.network.Network`` (NVIDIA's PyTorch pickles name other globals first)."""
    if not head.startswith(b"\x80"):  # every protocol-2+ pickle opens with PROTO
        return False
    try:
        with open(path, "rb") as f:
            data = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _first_global(data) == _NETWORK


def _load(path: Path) -> object:
    try:
        with open(path, "rb") as f:
            return _unpickler(f, path).load()
    except ModelLoadError:
        raise
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a folder, not a model file") from None
    except Exception as exc:  # truncation and damage surface as many kinds
        msg = " ".join(str(exc).split()) or "unexpected end of data"
        raise ModelLoadError(f"{path}: not a readable TensorFlow pickle (truncated or corrupt?): "
                             f"{type(exc).__name__}: {msg}") from None


# --------------------------------------------------------------------------- variables


def _pick_generator(obj: object, path: Path) -> NetworkRecord:
    """``Gs`` (the averaged generator) of ``(G, D, Gs)``; else the last network with
    a mapping and a synthesis component (a file holding a generator alone)."""
    items = list(obj) if isinstance(obj, (tuple, list)) else list(obj.values()) if isinstance(obj, dict) else [obj]
    nets = [x for x in items if isinstance(x, NetworkRecord) and x.state is not None]
    generators = [n for n in nets if {"mapping", "synthesis"} <= set(n.components)]
    for net in generators:
        if net.name == "Gs":
            return net
    if generators:
        return generators[-1]
    raise ModelLoadError(f"{path}: holds no generator network (expected G, D, Gs with mapping and synthesis)")


def _variables(net: NetworkRecord, path: Path, prefix: str = "", depth: int = 0) -> dict[str, np.ndarray]:
    """Every variable of ``net`` and its components, named as ``Network.vars`` names them
    (``dlatent_avg``, ``G_mapping/Dense0/weight``, ``G_synthesis/4x4/Const/const``)."""
    if depth > 4:
        raise ModelLoadError(f"{path}: networks nested deeper than a generator's")
    out: dict[str, np.ndarray] = {}
    listed = (net.state or {}).get("variables")
    if not isinstance(listed, (list, tuple)):
        raise ModelLoadError(f"{path}: network {net.name!r} has no variable list")
    for item in listed:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
            raise ModelLoadError(f"{path}: network {net.name!r} holds a variable entry that is not (name, array)")
        name, value = item
        value = np.asarray(value) if isinstance(value, np.generic) else value
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ModelLoadError(f"{path}: variable {prefix + name} is not a floating-point array")
        out[prefix + name] = value
    for comp in net.components.values():
        if not isinstance(comp, NetworkRecord):
            raise ModelLoadError(f"{path}: network {net.name!r} has a component that is not a network")
        out.update(_variables(comp, path, f"{prefix}{comp.name}/", depth + 1))
    return out


# How a TensorFlow array becomes a PyTorch one: (ndim it must have, the re-layout).
_OPS = {
    "copy": (None, lambda a: a),
    "dense": (2, lambda a: a.T),  # [in, out] -> [out, in]
    "conv": (4, lambda a: a.transpose(3, 2, 0, 1)),  # [kh, kw, in, out] -> [out, in, kh, kw]
    "modconv": (4, lambda a: a.transpose(3, 2, 0, 1)[None]),  # -> [1, out, in, kh, kw]
    # TensorFlow's up-sampling modulated conv flips its kernel before the transposed conv;
    # the rosinality layout stores the kernel that conv_transpose2d uses directly.
    "modconv_up": (4, lambda a: a[::-1, ::-1].transpose(3, 2, 0, 1)[None]),
    "plus1": (1, lambda a: a + 1.0),  # StyleGAN2 adds 1 to mod_bias at run time; the port stores it added
    "scalar": (0, lambda a: a.reshape(())),
    "vector1": (0, lambda a: a.reshape(1)),  # noise_strength: a scalar, the port's noise.weight is [1]
    "rgb_bias": (1, lambda a: a.reshape(1, -1, 1, 1)),
}


def _v1_table(tf: dict, synthesis_kwargs: dict, path: Path) -> list[tuple[str, str, str]]:
    """(TensorFlow name, HiGAN key, op) for a StyleGAN (v1) ``Gs``. The names follow
    ``G_style`` / ``G_mapping`` / ``G_synthesis`` of NVIDIA's networks_stylegan.py; the keys
    HiGAN's converter writes (dense weights transposed, plain conv weights to
    [out, in, kh, kw], fused up-sampling weights kept as [kh, kw, in, out])."""
    n_map = _count(tf, "G_mapping/Dense{}/weight")
    n_res = _count(tf, "G_synthesis/ToRGB_lod{}/weight")
    if n_map == 0 or n_res == 0:
        raise ModelLoadError(f"{path}: a StyleGAN pickle without G_mapping/Dense0 or G_synthesis/ToRGB_lod0")
    fused_scale = synthesis_kwargs.get("fused_scale", "auto")  # True, False or 'auto'
    rows = [("dlatent_avg", "truncation.w_avg", "copy")]
    for i in range(n_map):
        rows += [(f"G_mapping/Dense{i}/weight", f"mapping.dense{i}.fc.weight", "dense"),
                 (f"G_mapping/Dense{i}/bias", f"mapping.dense{i}.wscale.bias", "copy")]
    rows.append(("G_synthesis/4x4/Const/const", "synthesis.layer0.const", "copy"))
    for b in range(n_res):
        r = 4 * 2**b
        scopes = ("4x4/Const", "4x4/Conv") if b == 0 else (f"{r}x{r}/Conv0_up", f"{r}x{r}/Conv1")
        for j, scope in enumerate(scopes):
            i, s = 2 * b + j, f"G_synthesis/{scope}"
            k = f"synthesis.layer{i}"
            rows += [(f"{s}/Noise/weight", f"{k}.epilogue.apply_noise.weight", "copy"),
                     (f"G_synthesis/noise{i}", f"{k}.epilogue.apply_noise.noise", "copy"),
                     (f"{s}/bias", f"{k}.epilogue.bias", "copy"),
                     (f"{s}/StyleMod/weight", f"{k}.epilogue.style_mod.dense.fc.weight", "dense"),
                     (f"{s}/StyleMod/bias", f"{k}.epilogue.style_mod.dense.wscale.bias", "copy")]
            if i == 0:
                continue
            # Up-sampling is fused (one transposed conv) per the build settings, not the weight's
            # shape, which is [3, 3, in, out] either way: 'auto' fuses from 128 px up.
            fused = j == 0 and (r >= 128 if isinstance(fused_scale, str) else bool(fused_scale))
            rows.append((f"{s}/weight", f"{k}.weight" if fused else f"{k}.conv.weight",
                         "copy" if fused else "conv"))
        lod = n_res - 1 - b
        rows += [(f"G_synthesis/ToRGB_lod{lod}/weight", f"synthesis.output{b}.conv.weight", "conv"),
                 (f"G_synthesis/ToRGB_lod{lod}/bias", f"synthesis.output{b}.bias", "copy")]
    # Gs assigns its own 'lod' to the synthesis network's before every run.
    rows.append(("lod" if "lod" in tf else "G_synthesis/lod", "synthesis.lod", "scalar"))
    return rows


def _v2_table(tf: dict, path: Path) -> list[tuple[str, str, str]]:
    """(TensorFlow name, rosinality key, op) for a StyleGAN2 ``Gs`` (networks_stylegan2.py,
    skip architecture, as in every config-f release)."""
    n_map = _count(tf, "G_mapping/Dense{}/weight")
    n_up = _count(tf, "G_synthesis/{r}x{r}/Conv1/weight", start=1)
    if n_map == 0 or n_up == 0:
        raise ModelLoadError(f"{path}: a StyleGAN2 pickle without G_mapping/Dense0 or G_synthesis/8x8/Conv1")

    def modconv(scope: str, key: str, up: bool = False) -> list[tuple[str, str, str]]:
        s = f"G_synthesis/{scope}"
        return [(f"{s}/weight", f"{key}.conv.weight", "modconv_up" if up else "modconv"),
                (f"{s}/mod_weight", f"{key}.conv.modulation.weight", "dense"),
                (f"{s}/mod_bias", f"{key}.conv.modulation.bias", "plus1"),
                (f"{s}/noise_strength", f"{key}.noise.weight", "vector1"),
                (f"{s}/bias", f"{key}.activate.bias", "copy")]

    def torgb(scope: str, key: str) -> list[tuple[str, str, str]]:
        s = f"G_synthesis/{scope}/ToRGB"
        return [(f"{s}/weight", f"{key}.conv.weight", "modconv"),
                (f"{s}/mod_weight", f"{key}.conv.modulation.weight", "dense"),
                (f"{s}/mod_bias", f"{key}.conv.modulation.bias", "plus1"),
                (f"{s}/bias", f"{key}.bias", "rgb_bias")]

    rows = [("dlatent_avg", "latent_avg", "copy")]
    for i in range(n_map):
        rows += [(f"G_mapping/Dense{i}/weight", f"style.{i + 1}.weight", "dense"),
                 (f"G_mapping/Dense{i}/bias", f"style.{i + 1}.bias", "copy")]
    rows.append(("G_synthesis/4x4/Const/const", "input.input", "copy"))
    rows += modconv("4x4/Conv", "conv1") + torgb("4x4", "to_rgb1")
    for k in range(n_up):
        r = 8 * 2**k
        rows += modconv(f"{r}x{r}/Conv0_up", f"convs.{2 * k}", up=True)
        rows += modconv(f"{r}x{r}/Conv1", f"convs.{2 * k + 1}")
        rows += torgb(f"{r}x{r}", f"to_rgbs.{k}")
    rows += [(f"G_synthesis/noise{j}", f"noises.noise_{j}", "copy") for j in range(2 * n_up + 1)]
    return rows


def _count(tf: dict, pattern: str, start: int = 0) -> int:
    """How many of pattern's names exist in a row; ``{}`` is an index, ``{r}`` a resolution 4 * 2**i."""
    n = 0
    while (pattern.format(n + start) if "{}" in pattern
           else pattern.format(r=4 * 2 ** (n + start))) in tf:
        n += 1
    return n


def _convert(tf: dict, rows: list[tuple[str, str, str]], path: Path, ignore: set[str]) -> dict:
    """The PyTorch state dict the table describes; every variable of the file must find a place."""
    state = {}
    for name, key, op in rows:
        if name not in tf:
            raise ModelLoadError(f"{path}: variable {name} is missing")
        ndim, fn = _OPS[op]
        a = tf[name]
        if ndim is not None and a.ndim != ndim:
            raise ModelLoadError(f"{path}: variable {name} has shape {list(a.shape)}, expected {ndim} dimensions")
        state[key] = torch.from_numpy(np.array(fn(a), dtype=np.float32, order="C"))  # 0-d stays 0-d
    unused = sorted(set(tf) - {name for name, _, _ in rows} - ignore)
    if unused:
        raise ModelLoadError(f"{path}: variable {unused[0]} has no place in Strata's generator "
                             f"(a setting Strata does not read: labels, another architecture?)")
    return state


def _check_settings(kwargs: dict, expected: dict, path: Path, where: str) -> None:
    """Refuse build settings that change the arithmetic from what Strata's generators do."""
    for key, want in expected.items():
        if key not in kwargs:
            continue
        got = kwargs[key]
        got = got.tolist() if isinstance(got, np.ndarray) else list(got) if isinstance(got, tuple) else got
        try:
            same = bool(got == want)
        except Exception:  # a value that does not compare plainly is not the setting Strata reads
            same = False
        if not same:
            raise ModelLoadError(f"{path}: {where} was built with {key}={got!r}; Strata reads only {want!r}")


_V1_SYNTHESIS = {"use_styles": True, "const_input_layer": True, "use_noise": True, "nonlinearity": "lrelu",
                 "use_wscale": True, "use_pixel_norm": False, "use_instance_norm": True, "blur_filter": [1, 2, 1]}
_V2_SYNTHESIS = {"architecture": "skip", "nonlinearity": "lrelu", "resample_kernel": [1, 3, 3, 1],
                 "conv_clamp": None}
_MAPPING = {"mapping_nonlinearity": "lrelu", "normalize_latents": True, "label_size": 0}


def _number(kwargs: dict, key: str, default):
    v = kwargs.get(key, default)
    return v if v is None or (isinstance(v, (int, float)) and math.isfinite(v)) else default


def _fill_constants(gen: torch.nn.Module, state: dict) -> None:
    """Fixed filter kernels are buffers of Strata's modules but never variables in TensorFlow."""
    for key, value in gen.state_dict().items():
        if key not in state and key.endswith(("blur.kernel", "upsample.kernel")):
            state[key] = value


# --------------------------------------------------------------------------- public


def open_model(path: str | Path) -> tuple[torch.nn.Module, dict, str]:
    """(generator, meta, format) from a TensorFlow StyleGAN / StyleGAN2 pickle, on the CPU.

    Raises
    ------
    ModelLoadError
        With one line naming the file: a refused global, a truncated file, a variable
        that is missing, misshapen or has no place, or a build setting Strata does not read.
    """
    path = Path(path)
    gs = _pick_generator(_load(path), path)
    tf = _variables(gs, path)
    mapping, synthesis = gs.components["mapping"], gs.components["synthesis"]
    if not isinstance(mapping, NetworkRecord) or not isinstance(synthesis, NetworkRecord):
        raise ModelLoadError(f"{path}: generator {gs.name!r} has components that are not networks")
    top = gs.static_kwargs
    _check_settings(mapping.static_kwargs, _MAPPING, path, "the mapping network")
    if "G_synthesis/4x4/Const/StyleMod/weight" in tf:
        _check_settings(synthesis.static_kwargs, _V1_SYNTHESIS, path, "the synthesis network")
        _check_settings(mapping.static_kwargs, {"use_wscale": True}, path, "the mapping network")
        state = _convert(tf, _v1_table(tf, synthesis.static_kwargs, path), path, ignore={"lod", "G_synthesis/lod"})
        try:
            cfg = infer_config(state)
        except (KeyError, ValueError, IndexError) as exc:
            raise ModelLoadError(f"{path}: variables do not form a StyleGAN generator ({exc})") from None
        # G_style's defaults (psi 0.7 on layers 0-7) unless Gs was built with others; no psi or
        # no cutoff there means no truncation.
        psi = _number(top, "truncation_psi", cfg.truncation_psi)
        cutoff = _number(top, "truncation_cutoff", cfg.truncation_layers)
        cfg = dataclasses.replace(
            cfg, mapping_lr_mul=float(_number(mapping.static_kwargs, "mapping_lrmul", cfg.mapping_lr_mul)),
            truncation_psi=1.0 if psi is None or cutoff is None else float(psi),
            truncation_layers=cfg.truncation_layers if cutoff is None else int(cutoff))
        gen, fmt, what = StyleGANGenerator(cfg), "tf-stylegan", "StyleGAN generator"
    elif "G_synthesis/4x4/Conv/mod_weight" in tf:
        _check_settings(synthesis.static_kwargs, _V2_SYNTHESIS, path, "the synthesis network")
        _check_settings(mapping.static_kwargs, {"mapping_lrmul": 0.01}, path, "the mapping network")
        state = _convert(tf, _v2_table(tf, path), path, ignore={"lod", "G_synthesis/lod"})
        try:
            cfg = infer_config2(state)
        except (KeyError, ValueError, IndexError) as exc:
            raise ModelLoadError(f"{path}: variables do not form a StyleGAN2 generator ({exc})") from None
        # networks_stylegan2.G_main's defaults: psi 0.5 on every layer.
        cutoff = _number(top, "truncation_cutoff", None)
        psi = _number(top, "truncation_psi", 0.5)
        cfg = dataclasses.replace(cfg, truncation_psi=1.0 if psi is None else float(psi),
                                  truncation_layers=int(cutoff) if cutoff is not None else None)
        gen, fmt, what = StyleGAN2Generator(cfg), "tf-stylegan2", "StyleGAN2 generator"
    else:
        raise ModelLoadError(f"{path}: network {gs.name!r} is neither a StyleGAN nor a StyleGAN2 generator "
                             "(no G_synthesis/4x4/Const/StyleMod or G_synthesis/4x4/Conv/mod_weight)")
    _fill_constants(gen, state)
    _strict_load(gen, state, path, what, ignore=("truncation.truncation",))
    return gen, {"description": f"NVIDIA TensorFlow pickle, network {gs.name}"}, fmt
