"""Read NVIDIA's PyTorch network pickles (StyleGAN2-ADA, StyleGAN3) without running them.

NVIDIA's training code pickles ``dict(G, D, G_ema, augment_pipe, training_set_kwargs)``
whose networks are *persistent classes*: each object is stored as a call
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta``
holds ``type``, ``version``, ``module_src`` (the whole source file of the
network module), ``class_name`` and ``state`` (the object's ``__dict__``:
``_parameters``, ``_buffers``, ``_modules``, ``_init_args``, ``_init_kwargs``
and plain attributes). The ordinary unpickler would ``exec`` that source.

Here the unpickler resolves only the globals the format needs, and each
persistent object becomes a :class:`PersistentObject` record. The source text
is dropped on arrival (only its sha256 is kept, to group the objects of one
module); it is never compiled or run. Tensors arrive as nested torch
serializations (``torch.storage._load_from_bytes``), read with
``torch.load(weights_only=True)``. Any other global refuses the whole file,
in one line naming the file and the global.

Public API
----------
PersistentObject
    The record of one pickled network object.
load_nvidia_pickle(path) -> dict
    The top-level dict, with records in place of the networks.
state_dict_of(record) -> dict[str, Tensor]
    The record's module tree flattened the way ``nn.Module.state_dict`` names it.
sniff(path, head) / open_model(path)
    The ``PICKLE_READERS`` protocol of :mod:`strata.engine.core.models`.
"""

from __future__ import annotations

import collections
import hashlib
import importlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from strata.engine.core._safe_pickle import RestrictedUnpickler
from strata.engine.core.errors import ModelLoadError

__all__ = ["PersistentObject", "PickledModule", "load_nvidia_pickle", "state_dict_of",
           "sniff", "open_model", "FORMAT_STYLEGAN2", "FORMAT_STYLEGAN3"]

FORMAT_STYLEGAN2 = "nvidia-stylegan2"
FORMAT_STYLEGAN3 = "nvidia-stylegan3"

_MARKER = b"torch_utils.persistence"
_SNIFF_BYTES = 1 << 16


@dataclass(eq=False)
class PickledModule:
    """One network module whose source the file carries (the source itself is dropped).

    Its name is told by the classes the file instantiates from it, because the
    pickle does not record a module name: StyleGAN3's module is the one with
    ``SynthesisInput``; StyleGAN2's (``networks_stylegan2.py``, or
    ``networks.py`` of StyleGAN2-ADA) the one with ``SynthesisBlock`` or
    ``MappingNetwork`` and no ``SynthesisInput``.
    """

    source_sha256: str
    class_names: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        if "SynthesisInput" in self.class_names:
            return "networks_stylegan3"
        if self.class_names & {"SynthesisBlock", "MappingNetwork", "DiscriminatorBlock"}:
            return "networks_stylegan2"
        return "unknown"


@dataclass(frozen=True, eq=False)
class PersistentObject:
    """The record of one persistent network object: what it was built with, and its state.

    ``state`` is the pickled ``__dict__``; sub-networks in ``state["_modules"]``
    are records too. Nothing here can be called.
    """

    module: PickledModule
    class_name: str
    init_args: tuple
    init_kwargs: dict
    state: dict

    @property
    def module_name(self) -> str:
        return self.module.name

    def child(self, name: str) -> PersistentObject | None:
        """The sub-network ``name`` (``state["_modules"][name]``), or None."""
        sub = (self.state.get("_modules") or {}).get(name)
        return sub if isinstance(sub, PersistentObject) else None

    def __repr__(self) -> str:
        return f"PersistentObject({self.module_name}.{self.class_name})"


class _Refused(Exception):
    """The pickle names a global outside the format (carried up to one ModelLoadError line)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _Bad(Exception):
    """The pickle is well formed but holds something this format never holds."""


# --------------------------------------------------------------------------- what globals become


def _storage_from_bytes(data: bytes):
    if not isinstance(data, (bytes, bytearray)):
        raise _Bad("tensor storage is not bytes")
    storage = torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    if not isinstance(storage, (torch.storage.TypedStorage, torch.UntypedStorage)):
        raise _Bad(f"tensor storage holds a {type(storage).__name__}")
    return storage


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, torch.storage.TypedStorage):
        raise _Bad("a tensor without typed storage")
    if hooks:
        raise _Bad("a tensor carries backward hooks")
    if not (isinstance(offset, int) and all(isinstance(v, int) for v in (*size, *stride))):
        raise _Bad("a tensor with non-integer sizes")
    # set_ checks that size and stride stay inside the storage.
    t = torch.empty((0,), dtype=storage.dtype)
    return t.set_(storage._untyped_storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    if not isinstance(data, torch.Tensor):
        raise _Bad("a parameter without a tensor")
    if hooks:
        raise _Bad("a parameter carries backward hooks")
    return data  # the records hold plain tensors; nothing trains here


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, bytearray)):
        raise _Bad("a NumPy scalar that is not a number")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0].item()


def _numpy_dtype(*args):
    dt = np.dtype(*args)
    if dt.hasobject:
        raise _Bad("a NumPy array of Python objects")
    return dt


_NDARRAY = object()  # stands for numpy.ndarray: accepted by _numpy_reconstruct, not callable


def _numpy_reconstruct(subtype, shape, dtype):
    if subtype is not _NDARRAY:
        raise _Bad("a NumPy array subclass")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


class _Reader(RestrictedUnpickler):
    def __init__(self, f):
        self._modules: dict[str, PickledModule] = {}
        allowed = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
            ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
            ("torch_utils.persistence", "_reconstruct_persistent_obj"): self._record,
            ("dnnlib.util", "EasyDict"): dict,  # a dict with attribute access; a dict does
            ("dnnlib", "EasyDict"): dict,
            ("numpy", "dtype"): _numpy_dtype,
            ("numpy", "ndarray"): _NDARRAY,
        }
        for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed[(core, "scalar")] = _numpy_scalar
            allowed[(core, "_reconstruct")] = _numpy_reconstruct
        super().__init__(f, table=allowed, refuse=lambda module, name: _Refused(f"{module}.{name}"),
                         encoding="ASCII")

    def persistent_load(self, pid):
        raise _Bad("a persistent id (not a plain pickle)")

    def _record(self, meta) -> PersistentObject:
        if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
            raise _Bad("a persistent object without its class record")
        src, name = meta.get("module_src"), meta.get("class_name")
        if not isinstance(src, str) or not isinstance(name, str):
            raise _Bad("a persistent object without module source or class name")
        key = hashlib.sha256(src.encode("utf-8", "surrogatepass")).hexdigest()
        module = self._modules.setdefault(key, PickledModule(key))
        module.class_names.add(name)
        state = dict(meta["state"])
        args, kwargs = state.get("_init_args", ()), state.get("_init_kwargs", {})
        return PersistentObject(module=module, class_name=name,
                                init_args=tuple(args) if isinstance(args, (tuple, list)) else (),
                                init_kwargs=dict(kwargs) if isinstance(kwargs, dict) else {},
                                state=state)


# --------------------------------------------------------------------------- public API


def load_nvidia_pickle(path: str | Path) -> dict:
    """The top-level dict of an NVIDIA network pickle, networks as :class:`PersistentObject`.

    Raises
    ------
    ModelLoadError
        One line naming the file: a global outside the format (named), a
        truncated or corrupt stream, or a pickle that is not such a dict.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _Reader(f).load()
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelLoadError(f"{path}: is a folder, not a model file") from None
    except _Refused as exc:
        raise ModelLoadError(f"{path}: refused: the pickle names {exc.what}; "
                             f"Strata never runs code from a file") from None
    except _Bad as exc:
        raise ModelLoadError(f"{path}: not an NVIDIA network pickle: {exc}") from None
    except Exception as exc:  # pickle and torch raise many kinds for truncated or corrupt data
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: not a readable NVIDIA network pickle "
                             f"(truncated or corrupt?): {msg}") from None
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not NVIDIA's dict of networks")
    return obj


def state_dict_of(record: PersistentObject) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of ``record``'s module tree, named as
    ``nn.Module.state_dict`` names them (``mapping.fc0.weight``, ``mapping.w_avg``,
    ``synthesis.b4.const``, ``synthesis.b4.conv1.noise_const`` ...).

    Raises
    ------
    ValueError
        If a parameter, buffer or sub-module is something other than a tensor or a record.
    """
    out: dict[str, torch.Tensor] = {}

    def walk(rec: PersistentObject, prefix: str) -> None:
        st = rec.state
        skip = st.get("_non_persistent_buffers_set") or set()
        for kind in ("_parameters", "_buffers"):
            for name, value in (st.get(kind) or {}).items():
                if value is None or (kind == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise ValueError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
                out[prefix + name] = value
        for name, sub in (st.get("_modules") or {}).items():
            if sub is None:
                continue
            if not isinstance(sub, PersistentObject):
                raise ValueError(f"{prefix}{name} is a {type(sub).__name__}, not a network record")
            walk(sub, f"{prefix}{name}.")

    walk(record, "")
    return out


def generator_record(top: dict, path: Path) -> tuple[str, PersistentObject]:
    """(key, record) of the generator to draw with: ``G_ema`` (the averaged weights), else ``G``."""
    for key in ("G_ema", "G"):
        rec = top.get(key)
        if isinstance(rec, PersistentObject):
            return key, rec
    keys = ", ".join(sorted(map(str, top))[:6])
    raise ModelLoadError(f"{path}: no generator (G_ema or G) in the pickle (keys: {keys})")


def sniff(path: Path, head: bytes) -> bool:
    """A pickle stream (protocol 2+) that names NVIDIA's persistence module near its start."""
    if not head.startswith(b"\x80") or len(head) < 2 or head[1] < 2:
        return False
    if _MARKER in head:
        return True
    try:
        with open(path, "rb") as f:
            return _MARKER in f.read(_SNIFF_BYTES)
    except OSError:
        return False


def open_model(path: str | Path):
    """(generator, meta, format) from an NVIDIA pickle, on the CPU.

    The generator's module decides the architecture: StyleGAN2 is built by
    :mod:`strata.engine.core.nvidia_stylegan2`; StyleGAN3 by
    ``strata.engine.core.stylegan3``, whose ``from_nvidia_record(record, path)``
    returns the generator.
    """
    path = Path(path)
    key, rec = generator_record(load_nvidia_pickle(path), path)
    meta = {"network": key}
    if rec.module_name == "networks_stylegan3":
        try:
            sg3 = importlib.import_module("strata.engine.core.stylegan3")
        except ModuleNotFoundError:
            raise ModelLoadError(f"{path}: StyleGAN3 pickles are not supported yet") from None
        return sg3.from_nvidia_record(rec, path), meta, FORMAT_STYLEGAN3
    if rec.module_name == "networks_stylegan2" and rec.class_name == "Generator":
        from strata.engine.core.nvidia_stylegan2 import from_nvidia_record

        return from_nvidia_record(rec, path), meta, FORMAT_STYLEGAN2
    raise ModelLoadError(f"{path}: {key} is a {rec.class_name} from a module Strata does not know "
                         f"(classes: {', '.join(sorted(rec.module.class_names))})")
