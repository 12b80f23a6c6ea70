"""One copy of each model in memory, however many parts of the program use it.

:func:`load_shared` returns the :class:`~strata.engine.core.models.LoadedModel`
already open for the same file (same path, modification time and size) on
the same device, else loads it. Models are held weakly: once nobody uses a
model it is freed, and a file rewritten in place is read again.

:func:`private_view` gives a user of a shared model a generator of its own
that shares every parameter (the weights, nearly all of the memory) but
copies the buffers and plain attributes, so that the settings a renderer
writes per frame (a StyleGAN3 input transform, the class of a conditional
model) do not reach another thread drawing with the same weights.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import weakref
from pathlib import Path

import torch

from strata.engine.core.models import LoadedModel, load_generator

__all__ = ["load_shared", "private_view", "shared_count"]

_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_LOCK = threading.Lock()


def _key(path: Path, device: torch.device) -> tuple:
    try:
        st = os.stat(path)
        return (str(path), st.st_mtime_ns, st.st_size, str(device))
    except OSError:
        return (str(path), None, None, str(device))


def load_shared(path: str | os.PathLike, device: torch.device) -> LoadedModel:
    """The model at ``path`` on ``device``: the one already open if any, else loaded now.

    Raises
    ------
    ModelLoadError
        As :func:`~strata.engine.core.models.load_generator`.
    """
    path = Path(path).resolve()
    device = torch.device(device)
    key = _key(path, device)
    with _LOCK:  # two threads asking for one file at once load it once
        model = _LIVE.get(key) if key[1] is not None else None
        if model is None:
            model = load_generator(path, device)
            if key[1] is not None:
                _LIVE[key] = model
        return model


def shared_count() -> int:
    """How many models are open (for tests)."""
    return len(_LIVE)


def private_view(model: LoadedModel) -> LoadedModel:
    """The same model with a generator object of its own: parameters shared, buffers copied."""
    g = model.generator
    memo = {id(p): p for p in g.parameters()}
    view = copy.deepcopy(g, memo)
    return dataclasses.replace(model, generator=view)
