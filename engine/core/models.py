"""Open a generator from a path, whatever its layout, without running code.

Formats, tried by their keys (never by trusting the file name):

- HiGAN / genforce StyleGAN: a plain state dict with ``mapping.dense0.fc.weight``
  and ``synthesis.layer0.const`` (``stylegan_bedroom256_generator.pth``),
  or such a dict under ``generator`` / ``generator_smooth``.
- StyleGAN2 in the layout of the common PyTorch port (rosinality): a
  checkpoint ``{"g_ema": state_dict, "latent_avg": [w_dim]}`` as its
  converter writes it, a training checkpoint holding ``g_ema`` (its
  ``args`` namespace is read as plain data), or a bare ``g_ema`` state dict.
  Without ``latent_avg``, the mean of 4,096 mapped codes stands in for it.
- HiGAN's StyleGAN2 release (genforce layout): a plain state dict with
  ``mapping.dense0.fc.weight`` and ``synthesis.early_layer.const``
  (``stylegan2_church256_generator.pth``), read onto the port's generator.
- Strata's own: ``{"format": "strata-generator", "architecture", "config",
  "state_dict", "meta"}``, written by :func:`save_generator`.

Every file is read with ``torch.load(weights_only=True)``: tensors, dicts,
lists, strings and numbers only (plus ``argparse.Namespace``, which holds
plain attributes and runs nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.device import resolve_device
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.genforce_stylegan2 import is_genforce_stylegan2, translate
from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator, infer_config
from strata.engine.core.stylegan2 import StyleGAN2Config, StyleGAN2Generator, infer_config2

__all__ = ["LoadedModel", "load_generator", "save_generator", "file_fingerprint"]

FORMAT = "strata-generator"

# What `LoadedModel.format` says for each layout load_generator reads.
FORMATS = {
    "strata": "Strata generator file",
    "higan-stylegan": "HiGAN / genforce StyleGAN state dict",
    "rosinality-stylegan2": "StyleGAN2 PyTorch port (rosinality) checkpoint",
    "tf-stylegan": "NVIDIA TensorFlow StyleGAN pickle", "tf-stylegan2": "NVIDIA TensorFlow StyleGAN2 pickle",
    "higan-stylegan2": "HiGAN / genforce StyleGAN2 state dict",
    "nvidia-stylegan2": "NVIDIA PyTorch pickle (StyleGAN2-ADA / StyleGAN3 code), StyleGAN2 generator",
    "nvidia-stylegan3": "NVIDIA PyTorch pickle (StyleGAN3 code), StyleGAN3 generator",
}

# Pickle formats that torch.load(weights_only=True) cannot read, each read by a module of its own
# with a restricted unpickler. A module here provides ``sniff(path, head: bytes) -> bool`` (cheap: is
# this file mine?) and ``open_model(path) -> (generator, meta: dict, format: str)`` on the CPU,
# raising ModelLoadError; FORMATS gets its format names. Imported only when a file is not a zip.
PICKLE_READERS: tuple[str, ...] = ("strata.engine.core.nvidia_pkl", "strata.engine.core.tf_pkl")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A generator ready for inference, and what it came from."""

    generator: nn.Module
    path: Path
    fingerprint: str  # sha256 of the weights file: recipes name their model by it
    name: str
    description: str = ""
    meta: dict = field(default_factory=dict)
    format: str = ""  # which layout the file had, for `strata info` and error messages (see FORMATS)


_FINGERPRINTS: dict[tuple, str] = {}


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file, remembered while the file keeps its size and mtime
    (finding a recipe's model must not hash every candidate each time)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = _sha256(path)
    return _FINGERPRINTS[key]


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read(path: Path) -> object:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a folder, not a model file") from None
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Weights only load failed" in msg or "Unsupported global" in str(exc):
            hint = ("; NVIDIA's .pkl files pickle whole networks (with their source code): "
                    "convert to the StyleGAN2 PyTorch port's .pt first") if path.suffix.lower() == ".pkl" else ""
            raise ModelLoadError(
                f"{path}: refused: the file holds Python objects beyond tensors and plain "
                f"containers (a pickled network class?); Strata loads weights only{hint}") from None
        raise ModelLoadError(f"{path}: not a readable PyTorch weights file "
                             f"(truncated or corrupt?): {msg}") from None


def _strict_load(gen: nn.Module, state: dict, path: Path, what: str,
                 ignore: tuple[str, ...] = ()) -> None:
    """Every key of the generator from the file, with its shape; nothing left over."""
    own = gen.state_dict()
    missing = [k for k in own if k not in state and k not in ignore]
    for k, v in own.items():
        if k in state and tuple(state[k].shape) != tuple(v.shape):
            raise ModelLoadError(f"{path}: {k} has shape {list(state[k].shape)}, "
                                 f"expected {list(v.shape)}")
    unexpected = [k for k in state if k not in own and k not in ignore]
    if missing or unexpected:
        detail = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {unexpected[:3]}" if unexpected else "")
        raise ModelLoadError(f"{path}: keys do not match a {what}: {detail.strip()}")
    gen.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
    for k, v in gen.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelLoadError(f"{path}: {k} holds NaN or infinite values")


def _stylegan_from_state(state: dict, path: Path, config: StyleGANConfig | None = None) -> StyleGANGenerator:
    try:
        cfg = config or infer_config(state)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: not a StyleGAN generator in HiGAN's layout "
                             f"(missing or odd key {exc})") from None
    gen = StyleGANGenerator(cfg)
    # The release drops the truncation coefficient buffer; it is rebuilt from psi.
    _strict_load(gen, state, path, "StyleGAN generator", ignore=("truncation.truncation",))
    return gen


def _stylegan2_from_state(state: dict, path: Path, latent_avg: object = None,
                          config: StyleGAN2Config | None = None) -> StyleGAN2Generator:
    try:
        cfg = config or infer_config2(state)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: not a StyleGAN2 generator in the rosinality layout "
                             f"(missing or odd key {exc})") from None
    gen = StyleGAN2Generator(cfg)
    _strict_load(gen, state, path, "StyleGAN2 generator", ignore=("latent_avg",))
    if "latent_avg" in state:
        return gen
    if latent_avg is None:
        gen.latent_avg.copy_(gen.estimate_w_avg())
    elif not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != cfg.w_dim:
        shape = list(latent_avg.shape) if isinstance(latent_avg, torch.Tensor) else type(latent_avg).__name__
        raise ModelLoadError(f"{path}: latent_avg has shape {shape}, expected [{cfg.w_dim}]")
    else:
        gen.latent_avg.copy_(latent_avg.reshape(-1).float())
    if not torch.isfinite(gen.latent_avg).all():
        raise ModelLoadError(f"{path}: latent_avg holds NaN or infinite values")
    return gen


def _read_foreign(path: Path):
    """(generator, meta, format) from a pickle format of :data:`PICKLE_READERS`, or None."""
    import importlib

    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None  # _read says what is wrong with the path
    if head.startswith(b"PK\x03\x04"):
        return None  # a zip: torch's own format
    for name in PICKLE_READERS:
        reader = importlib.import_module(name)
        if reader.sniff(path, head):
            return reader.open_model(path)
    return None


def _from_torch_file(path: Path) -> tuple[nn.Module, dict, str]:
    """(generator, meta, format) from a file torch.load(weights_only=True) reads."""
    obj = _read(path)
    meta: dict = {}
    fmt = "higan-stylegan"
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch = obj.get("architecture")
        kinds = _saved_architectures()
        if arch not in kinds:
            raise ModelLoadError(f"{path}: architecture {arch!r} is not supported")
        try:
            cfg = kinds[arch][0].from_dict(obj["config"])
        except Exception as exc:
            raise ModelLoadError(f"{path}: bad configuration: {exc}") from None
        if not isinstance(obj.get("state_dict"), dict):
            raise ModelLoadError(f"{path}: no state_dict in a Strata generator file")
        bad = [k for k, v in obj["state_dict"].items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ModelLoadError(f"{path}: state_dict entries that are not tensors: {', '.join(map(str, bad[:5]))}")
        if not isinstance(obj.get("meta") or {}, dict):
            raise ModelLoadError(f"{path}: meta is a {type(obj['meta']).__name__}, not a mapping")
        if arch == "stylegan":
            gen = _stylegan_from_state(obj["state_dict"], path, cfg)
        elif arch == "stylegan2":
            gen = _stylegan2_from_state(obj["state_dict"], path, config=cfg)
        else:
            gen = kinds[arch][1](cfg)
            _strict_load(gen, obj["state_dict"], path, f"{arch} generator")
        meta, fmt = dict(obj.get("meta") or {}), "strata"
    elif isinstance(obj, dict):
        state = obj
        for key in ("generator_smooth", "generator", "g_ema_stylegan1"):
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
        if isinstance(obj.get("g_ema"), dict):  # rosinality: converted or training checkpoint
            state = obj["g_ema"]
        if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ModelLoadError(f"{path}: not a generator state dict (top-level keys: "
                                 f"{sorted(map(str, obj))[:6]})")
        if "style.1.weight" in state:
            gen = _stylegan2_from_state(state, path, obj.get("latent_avg") if state is not obj else None)
            fmt = "rosinality-stylegan2"
        elif is_genforce_stylegan2(state):
            # Same maths as the port's layout: translated once, then the port's generator.
            cfg, translated = translate(state, path)
            gen = _stylegan2_from_state(translated, path, config=cfg)
            fmt = "higan-stylegan2"
        else:
            gen = _stylegan_from_state(state, path)
    else:
        raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    return gen, meta, fmt


def load_generator(path: str | Path, device: str | torch.device | None = None) -> LoadedModel:
    """Open a generator file; see the module docstring for the formats.

    Raises
    ------
    ModelLoadError
        With one line naming the file and what is wrong.
    """
    path = Path(path)
    foreign = _read_foreign(path)
    if foreign is not None:
        gen, meta, fmt = foreign
    else:
        gen, meta, fmt = _from_torch_file(path)
    gen.eval().requires_grad_(False)
    gen.to(resolve_device(device))
    return LoadedModel(
        generator=gen, path=path.resolve(), fingerprint=file_fingerprint(path),
        name=str(meta.get("name") or path.stem), description=str(meta.get("description", "")),
        meta=meta, format=fmt)


def _saved_architectures() -> dict[str, tuple[type, type]]:
    """Strata's own files: the name each generator class is saved under -> (config class, generator class).

    Names, not ``generator.architecture``: NVIDIA's StyleGAN2 and the port's share an architecture
    but not their modules, so a saved file must say which one it holds.
    """
    from strata.engine.core.nvidia_stylegan2 import NvidiaStyleGAN2Config, NvidiaStyleGAN2Generator
    from strata.engine.core.stylegan3 import StyleGAN3Config, StyleGAN3Generator

    return {"stylegan": (StyleGANConfig, StyleGANGenerator), "stylegan2": (StyleGAN2Config, StyleGAN2Generator),
            "nvidia-stylegan2": (NvidiaStyleGAN2Config, NvidiaStyleGAN2Generator),
            "stylegan3": (StyleGAN3Config, StyleGAN3Generator)}


def save_generator(gen: nn.Module, path: str | Path, *, meta: dict | None = None) -> None:
    """Write Strata's own format atomically (loadable with weights_only=True)."""
    names = [name for name, (_, kind) in _saved_architectures().items() if type(gen) is kind]
    if not names:
        raise TypeError(f"save_generator: {type(gen).__name__} is not a generator Strata saves")
    state = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": 1, "architecture": names[0],
                "config": gen.config.to_dict(), "state_dict": state, "meta": dict(meta or {})}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
