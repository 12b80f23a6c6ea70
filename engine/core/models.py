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
import math
import os
import pickle
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from strata.engine.core import limits
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
    with limits.open_regular(path, "model", ModelLoadError) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_GLOBAL = re.compile(r"GLOBAL ([A-Za-z_][\w.]*)")


def _kind_of_head(head: bytes) -> str:
    """What the first bytes say the file is: "zip", "pickle" or "other"."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return "other"


def _read(path: Path, head: bytes) -> object:
    """torch.load(weights_only=True), each failure told apart in one line naming the file."""
    kind = _kind_of_head(head)
    if kind == "other":
        raise ModelLoadError(f"{path}: not a model file (neither a PyTorch archive nor a pickle: it starts with "
                             f"bytes {head[:8].hex(' ')})")
    try:
        with limits.open_regular(path, "model", ModelLoadError) as fh, \
                torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols; the outcome is what counts
            return torch.load(fh, map_location="cpu", weights_only=True)
    except ModelLoadError:
        raise
    except MemoryError:
        raise ModelLoadError(f"{path}: refused: reading it would need more memory than this machine has "
                             "(a damaged size field?)") from None
    except Exception as exc:  # torch raises many kinds for truncated or foreign files
        text = str(exc)
        glob = _GLOBAL.search(text)
        if glob or "Unsupported global" in text:
            name = glob.group(1) if glob else "a Python class"
            hint = ("; NVIDIA's .pkl files pickle whole networks (with their source code): "
                    "convert to the StyleGAN2 PyTorch port's .pt first") if path.suffix.lower() == ".pkl" else ""
            raise ModelLoadError(
                f"{path}: refused (hostile pickle): the file's pickle names {name}, which a weights file "
                f"never needs; Strata loads weights only and ran nothing{hint}") from None
        if kind == "zip" or "PytorchStreamReader" in text or "zip archive" in text:
            raise ModelLoadError(f"{path}: corrupt or truncated archive (the PyTorch zip archive cannot be "
                                 "read)") from None
        if "legacy .tar format" in text:
            raise ModelLoadError(f"{path}: not a model file Strata reads (an old .tar checkpoint or not "
                                 "a PyTorch file)") from None
        detail = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\s{2,}|$)", text)
        why = detail.group(1) if detail else (text.strip().splitlines() or [type(exc).__name__])[0]
        raise ModelLoadError(f"{path}: corrupt or truncated file (its pickle cannot be read: "
                             f"{why[:120]})") from None


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


def _read_foreign(path: Path, head: bytes):
    """(generator, meta, format) from a pickle format of :data:`PICKLE_READERS`, or None."""
    import importlib

    if head.startswith(b"PK\x03\x04"):
        return None  # a zip: torch's own format
    for name in PICKLE_READERS:
        reader = importlib.import_module(name)
        if reader.sniff(path, head):
            return reader.open_model(path)
    return None


def _from_torch_file(path: Path, head: bytes) -> tuple[nn.Module, dict, str]:
    """(generator, meta, format) from a file torch.load(weights_only=True) reads."""
    obj = _read(path, head)
    meta: dict = {}
    fmt = "higan-stylegan"
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch = obj.get("architecture")
        kinds = _saved_architectures()
        if arch not in kinds:
            raise ModelLoadError(f"{path}: architecture {arch!r} is not supported")
        _check_config(obj.get("config"), path)
        try:
            cfg = kinds[arch][0].from_dict(obj["config"])
        except Exception as exc:
            raise ModelLoadError(f"{path}: bad configuration ({type(exc).__name__}: {exc})") from None
        if not isinstance(obj.get("state_dict"), dict):
            raise ModelLoadError(f"{path}: no state_dict in a Strata generator file")
        bad = [k for k, v in obj["state_dict"].items() if not isinstance(v, torch.Tensor)]
        if bad:
            raise ModelLoadError(f"{path}: state_dict entries that are not tensors: {', '.join(map(str, bad[:5]))}")
        if not isinstance(obj.get("meta") or {}, dict):
            raise ModelLoadError(f"{path}: meta is a {type(obj['meta']).__name__}, not a mapping")
        _check_size(kinds[arch][1], cfg, obj["state_dict"], path)
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
    with limits.open_regular(path, "model", ModelLoadError) as fh:
        head = fh.read(64)
    try:
        foreign = _read_foreign(path, head)
        if foreign is not None:
            gen, meta, fmt = foreign
        else:
            gen, meta, fmt = _from_torch_file(path, head)
    except ModelLoadError:
        raise
    except MemoryError:
        raise ModelLoadError(f"{path}: refused: building this model would need more memory than this "
                             "machine has (its configuration is damaged or hostile)") from None
    except (pickle.UnpicklingError, EOFError, struct.error, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{path}: corrupt or truncated file ({type(exc).__name__}: "
                             f"{str(exc)[:160]})") from None
    except RecursionError:
        raise ModelLoadError(f"{path}: refused: its data nests deeper than any model's") from None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file trips in a reader is one line
        # A well-formed file whose contents do not build a generator (a wrong type in its configuration).
        raise ModelLoadError(f"{path}: not a model Strata can build ({type(exc).__name__}: "
                             f"{str(exc)[:160]})") from None
    if not isinstance(meta, dict):
        meta = {}
    gen.eval().requires_grad_(False)
    gen.to(resolve_device(device))
    check_output(gen, path)
    return LoadedModel(
        generator=gen, path=path.resolve(), fingerprint=file_fingerprint(path),
        name=str(meta.get("name") or path.stem), description=str(meta.get("description", "")),
        meta=meta, format=fmt)


# Bounds on the numbers of a saved configuration, checked before anything is built: a damaged
# ``mapping_layers`` of 2**40 would otherwise build layers until the machine gives out.
CONFIG_INT_MAX = 1 << 17  # channel_base 32768 is the largest a released model uses
CONFIG_LAYERS_MAX = 128  # any "*layers" count (mapping, synthesis, truncation)
CONFIG_RESOLUTION_MAX = 8192
CONFIG_LIST_MAX = 16  # channels per resolution from 4 px up to 8192 px need 12


def _check_config(config: object, path: Path) -> None:
    """Refuse a Strata file's configuration with a wrong type or a number out of bounds, by field name."""
    if not isinstance(config, dict):
        raise ModelLoadError(f"{path}: bad configuration (a {type(config).__name__}, not a mapping)")

    def bad(key, why) -> ModelLoadError:
        return ModelLoadError(f"{path}: bad configuration: {str(key)[:40]} {why}")

    for key, value in config.items():
        if not isinstance(key, str) or len(key) > 64:
            raise bad(key, "is not a field name")
        values = value if isinstance(value, (list, tuple)) else [value]
        if isinstance(value, (list, tuple)) and len(value) > CONFIG_LIST_MAX:
            raise bad(key, f"has {len(value)} entries, over {CONFIG_LIST_MAX}")
        top = CONFIG_RESOLUTION_MAX if key == "resolution" else \
            CONFIG_LAYERS_MAX if key.endswith("layers") else CONFIG_INT_MAX
        for v in values:
            if v is None or isinstance(v, bool):
                continue
            if isinstance(v, int):
                if not -1 <= v <= top:
                    raise bad(key, f"is {v if abs(v) < 10**12 else 'a huge number'}, outside -1 to {top}")
            elif isinstance(v, float):
                if not math.isfinite(v) or abs(v) > 1e6:
                    raise bad(key, f"is {v!r}, not a finite number up to 1e6")
            elif isinstance(v, str):
                if len(v) > 64:
                    raise bad(key, "is a string of more than 64 characters")
            else:
                raise bad(key, f"is a {type(v).__name__}, not a number")


def _check_size(kind: type, cfg, state: dict, path: Path) -> None:
    """Refuse a configuration that describes a far bigger network than the file's weights.

    Built first on PyTorch's ``meta`` device (shapes only, no memory), so that a
    damaged or hostile ``resolution`` or channel count never allocates.
    """
    have = sum(v.numel() for v in state.values() if isinstance(v, torch.Tensor))
    try:
        with torch.device("meta"):
            shell = kind(cfg)
        want = sum(t.numel() for t in shell.state_dict().values())
    except Exception:  # noqa: BLE001 - a config the meta build cannot take is left to the real build to judge
        return
    if want > 2 * have + (1 << 20):
        raise ModelLoadError(f"{path}: its configuration describes {want:,} weights but the file holds "
                             f"{have:,} (a damaged or hostile configuration)")


def check_output(gen: nn.Module, path: Path) -> None:
    """Refuse a generator whose image for the default seed is not finite or is one flat colour.

    One synthesis at load (seed 0, the model's default truncation): weights that
    load but draw nothing (NaN, overflow, a dead network) are caught here, once,
    rather than as black frames later.
    """
    from strata.engine.core.scene import Code

    try:
        with torch.inference_mode():
            z = torch.from_numpy(Code.from_seed(0).z(gen.z_dim)).to(gen.w_avg.device)
            if getattr(gen, "num_classes", 0):
                gen.class_index = 0
            image = gen.synthesize(gen.truncate(gen.mapping(z), gen.default_psi))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ModelLoadError(f"{path}: the model fails to draw an image ({type(exc).__name__}: "
                             f"{str(exc)[:160]})") from None
    if not torch.isfinite(image).all():
        raise ModelLoadError(f"{path}: refused: its weights give NaN or infinite pixels for seed 0 "
                             "(damaged weights)")
    if float(image.max() - image.min()) < 1e-6:
        raise ModelLoadError(f"{path}: refused: it draws one flat colour for seed 0 (damaged or "
                             "untrained weights)")


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
