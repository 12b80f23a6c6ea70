"""Incremental synthesis: keep the activations entering each W+ entry, re-run only what changed.

An edit on layers ``k..L-1`` leaves every W+ entry before ``k`` as it was, so
everything a generator computes before it first reads entry ``k`` is the same
as last time. A generator describes its synthesis as a list of
:class:`Step` s, each reading W+ entries from ``Step.entry`` on (the steps in
non-decreasing entry order), and :func:`run_synthesis` runs them, keeping the
state entering each step in a :class:`SynthesisCache`. The next call finds
the first entry that differs from the cached code, *exactly* (bitwise), and
resumes from the latest kept state before it; the result is the same tensor
full synthesis gives, because the same operations run on the same values.

What the cache is valid for (its *context*): the generator object, every
parameter and buffer (by storage and version counter, so a weight or a noise
buffer written in place, a StyleGAN3 input transform, a reloaded model all
invalidate it), the generator's own :meth:`synthesis_token` (noise mode,
level of detail), the code's dtype and device, and the autocast precision in
force. A generator that draws fresh noise per call is never cached. The code
itself (seed, class, truncation, edits) is compared entry by entry.

Public API
----------
Step, SynthesisCache, run_synthesis, synthesis_context, first_changed_entry
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["DEFAULT_CACHE_BYTES", "Step", "SynthesisCache", "first_changed_entry", "run_synthesis",
           "synthesis_context"]

# Activations kept per cache. A 256 px StyleGAN keeps about 60 MB for one image;
# a 1024 px StyleGAN2 more than this, and then keeps the states nearest the output that fit.
DEFAULT_CACHE_BYTES = 384 << 20


@dataclass(frozen=True)
class Step:
    """One stage of a synthesis: ``run(state, wp) -> state``, reading W+ entries from ``entry`` on.

    ``state`` is None before the first step, then a tensor or a tuple of
    tensors (or Nones). A step must not write into its input state: the
    cache hands the same tensors to later calls.
    """

    entry: int
    run: Callable[[Any, torch.Tensor], Any]


def _tensors(state) -> list[torch.Tensor]:
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for t in state if isinstance(t, torch.Tensor)]


def _nbytes(state) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors(state))


def _expand(state, n: int):
    """A batch-1 state seen as a batch of ``n`` (no copy)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.expand(n, *state.shape[1:])
    return tuple(t.expand(n, *t.shape[1:]) if isinstance(t, torch.Tensor) else t for t in state)


def _version(t: torch.Tensor):
    try:
        return t._version
    except RuntimeError:  # an inference tensor keeps no version counter
        return None


def synthesis_context(generator, wp: torch.Tensor) -> tuple | None:
    """What a cached state depends on besides the code; None when nothing may be cached."""
    token = generator.synthesis_token()
    if token is None:
        return None
    tensors = itertools.chain(generator.parameters(), generator.buffers())
    versions = []
    for t in tensors:
        v = _version(t)
        if v is None:
            return None
        versions.append((t.data_ptr(), v))
    dev = wp.device.type
    try:
        precision = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else None
    except (RuntimeError, ValueError):  # a device type autocast does not know
        precision = None
    return (id(generator), token, tuple(versions), wp.dtype, wp.device, precision)


def first_changed_entry(wp: torch.Tensor, base: torch.Tensor) -> int:
    """The first W+ entry where ``wp`` [N, L, D] differs from ``base`` [N or 1, L, D]; L if none."""
    changed = (wp != base).flatten(2).any(dim=2).any(dim=0)  # [L]
    idx = torch.nonzero(changed)
    return int(idx[0]) if len(idx) else int(wp.shape[1])


class SynthesisCache:
    """The states entering each synthesis step for one code (or one batch of codes).

    Bounded by ``max_bytes``: when every state does not fit, the ones
    nearest the output are kept first (they save the most work), then
    smaller earlier ones that still fit. :meth:`clear` drops everything.

    Attributes
    ----------
    last_start : int or None
        The W+ entry the last synthesis through this cache re-ran from
        (``num_layers``: nothing changed; 0: a full synthesis).
    last_step : int or None
        The step it resumed from (0: from the beginning).
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = int(max_bytes)
        self.clear()

    def clear(self) -> None:
        self._context: tuple | None = None
        self._wp: torch.Tensor | None = None
        self._states: dict[int, Any] = {}
        self.last_start: int | None = None
        self.last_step: int | None = None

    @property
    def nbytes(self) -> int:
        return sum(_nbytes(s) for s in self._states.values())

    @property
    def batch(self) -> int:
        """The batch size of the cached code (0 when empty)."""
        return 0 if self._wp is None else int(self._wp.shape[0])

    def _resume(self, wp: torch.Tensor, context: tuple, steps: Sequence[Step], update: bool):
        """(step index, state entering it, first changed entry)."""
        base = self._wp
        n = wp.shape[0]
        usable = (base is not None and self._context == context and base.shape[1:] == wp.shape[1:]
                  and (base.shape[0] == n or (base.shape[0] == 1 and not update)))
        if not usable:
            return 0, None, 0
        k = first_changed_entry(wp, base)
        s = next((i for i, st in enumerate(steps) if st.entry >= k), len(steps))
        j = max((i for i in self._states if i <= s), default=0)
        state = self._states.get(j)
        if base.shape[0] != n:
            state = _expand(state, n)
        return j, state, k

    def _store(self, wp: torch.Tensor, context: tuple, start: int, new: dict[int, Any]) -> None:
        keep = {i: s for i, s in self._states.items() if i < start} if self._context == context else {}
        keep.update(new)
        keep.pop(0, None)  # the state entering the first step is always None
        kept, total = {}, 0
        for i in sorted(keep, reverse=True):
            size = _nbytes(keep[i])
            if total + size <= self.max_bytes:
                kept[i], total = keep[i], total + size
        self._states, self._context, self._wp = kept, context, wp.detach().clone()


def run_synthesis(generator, wp: torch.Tensor, steps: Sequence[Step], finish: Callable[[Any], torch.Tensor],
                  cache: SynthesisCache | None = None, *, update: bool = True) -> torch.Tensor:
    """Run ``steps`` on ``wp`` and ``finish`` the last state, through ``cache`` when given.

    With ``update`` (the default), the cache then holds ``wp``'s states; without
    it, the cache is only read (a batch of variants of a cached batch-1 code,
    as the preview strip and the layer-wise rescoring use it).
    """
    context = None if cache is None else synthesis_context(generator, wp)
    if context is None:
        state = None
        for st in steps:
            state = st.run(state, wp)
        if cache is not None:
            cache.clear()
            cache.last_start, cache.last_step = 0, 0
        return finish(state)
    start, state, entry = cache._resume(wp, context, steps, update)
    new: dict[int, Any] = {}
    for i in range(start, len(steps)):
        if update:
            new[i] = state
        state = steps[i].run(state, wp)
    if update:
        new[len(steps)] = state
        cache._store(wp, context, start, new)
    cache.last_start, cache.last_step = entry, start
    return finish(state)
