"""Open a generator from a path, whatever its layout, without running code.

Formats, tried by their keys (never by trusting the file name):

- HiGAN / genforce StyleGAN: a plain state dict with ``mapping.dense0.fc.weight``
  and ``synthesis.layer0.const`` (``stylegan_bedroom256_generator.pth``),
  or such a dict under ``generator`` / ``generator_smooth``.
- Strata's own: ``{"format": "strata-generator", "architecture", "config",
  "state_dict", "meta"}``, written by :func:`save_generator`.

Every file is read with ``torch.load(weights_only=True)``: tensors, dicts,
lists, strings and numbers only.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_write_bytes
from .device import resolve_device
from .errors import ModelLoadError
from .stylegan import StyleGANConfig, StyleGANGenerator, infer_config

__all__ = ["LoadedModel", "load_generator", "save_generator", "file_fingerprint"]

FORMAT = "strata-generator"


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A generator ready for inference, and what it came from."""

    generator: nn.Module
    path: Path
    fingerprint: str  # sha256 of the weights file: recipes name their model by it
    name: str
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]


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
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a folder, not a model file") from None
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Weights only load failed" in msg or "Unsupported global" in str(exc):
            raise ModelLoadError(
                f"{path}: refused: the file holds Python objects beyond tensors and plain "
                "containers (a pickled network class?); Strata loads weights only") from None
        raise ModelLoadError(f"{path}: not a readable PyTorch weights file "
                             f"(truncated or corrupt?): {msg}") from None


def _stylegan_from_state(state: dict, path: Path, config: StyleGANConfig | None = None) -> StyleGANGenerator:
    try:
        cfg = config or infer_config(state)
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: not a StyleGAN generator in HiGAN's layout "
                             f"(missing or odd key {exc})") from None
    gen = StyleGANGenerator(cfg)
    missing, unexpected = [], []
    own = gen.state_dict()
    for k, v in own.items():
        if k not in state:
            missing.append(k)
        elif tuple(state[k].shape) != tuple(v.shape):
            raise ModelLoadError(f"{path}: {k} has shape {list(state[k].shape)}, "
                                 f"expected {list(v.shape)}")
    # The release drops the truncation coefficient buffer; it is rebuilt from psi.
    unexpected = [k for k in state if k not in own and k != "truncation.truncation"]
    if missing or unexpected:
        what = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {unexpected[:3]}" if unexpected else "")
        raise ModelLoadError(f"{path}: keys do not match a StyleGAN generator: {what.strip()}")
    gen.load_state_dict({k: state[k] for k in own}, strict=True)
    for k, v in gen.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelLoadError(f"{path}: {k} holds NaN or infinite values")
    return gen


def load_generator(path: str | Path, device: str | torch.device | None = None) -> LoadedModel:
    """Open a generator file; see the module docstring for the formats.

    Raises
    ------
    ModelLoadError
        With one line naming the file and what is wrong.
    """
    path = Path(path)
    obj = _read(path)
    meta: dict = {}
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch = obj.get("architecture")
        if arch != "stylegan":
            raise ModelLoadError(f"{path}: architecture {arch!r} is not supported")
        try:
            cfg = StyleGANConfig.from_dict(obj["config"])
        except Exception as exc:
            raise ModelLoadError(f"{path}: bad configuration: {exc}") from None
        gen = _stylegan_from_state(obj["state_dict"], path, cfg)
        meta = dict(obj.get("meta") or {})
    elif isinstance(obj, dict):
        state = obj
        for key in ("generator_smooth", "generator", "g_ema_stylegan1"):
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
        if not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ModelLoadError(f"{path}: not a generator state dict (top-level keys: "
                                 f"{sorted(map(str, obj))[:6]})")
        if "g_ema" in obj or "style.1.weight" in state:
            raise ModelLoadError(f"{path}: a StyleGAN2 (rosinality) checkpoint; "
                                 "this version opens StyleGAN (v1) files")
        gen = _stylegan_from_state(state, path)
    else:
        raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    gen.eval().requires_grad_(False)
    gen.to(resolve_device(device))
    return LoadedModel(
        generator=gen, path=path.resolve(), fingerprint=file_fingerprint(path),
        name=str(meta.get("name") or path.stem), description=str(meta.get("description", "")),
        meta=meta)


def save_generator(gen: StyleGANGenerator, path: str | Path, *, meta: dict | None = None) -> None:
    """Write Strata's own format atomically (loadable with weights_only=True)."""
    state = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": 1, "architecture": gen.architecture,
                "config": gen.config.to_dict(), "state_dict": state, "meta": dict(meta or {})}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
