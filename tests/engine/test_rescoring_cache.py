"""The layer-wise rescoring edits one layer at a time and re-runs synthesis from that layer only,
with the answer of full synthesis."""

from __future__ import annotations

import numpy as np
import torch

from strata.engine.discovery import FittedBoundary, rescore
from tests._models import tiny_generator
from tests.engine.test_analysis import RegionPredictor


class _Spy(torch.nn.Module):
    """The tiny generator, recording where each incremental synthesis started."""

    def __init__(self):
        super().__init__()
        self.g = tiny_generator()
        self.starts: list[int] = []

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.g, name)

    def synthesize(self, wp, *, cache=None, update=True):
        out = self.g.synthesize(wp, cache=cache, update=update)
        if cache is not None and not update:
            self.starts.append(cache.last_start)
        return out


def _boundaries():
    rng = np.random.default_rng(2)
    out = []
    for name in ("bright", "red_top"):
        v = rng.standard_normal(16).astype(np.float32)
        out.append(FittedBoundary(name=name, semantic=name, vector=v / np.linalg.norm(v)))
    return out


def test_layer_by_layer_edits_start_at_their_layer_and_give_the_full_answer():
    spy = _Spy()
    args = dict(m=13, lam=2.0, seed=4, psi=0.7, batch_size=5)
    fast = rescore(spy, RegionPredictor(), _boundaries(), **args)
    L = spy.g.num_layers
    # Per boundary and chunk of samples: the all-layer edit from 0, then layer l from l.
    assert sorted(set(spy.starts)) == list(range(L))
    assert spy.starts.count(L - 1) == len(spy.starts) // (L + 1)
    # With no room to keep activations, every chunk's originals are drawn again: same answer.
    again = rescore(spy, RegionPredictor(), _boundaries(), cache_bytes=0, **args)
    # And a generator that cannot synthesize incrementally: every edit a full synthesis.
    plain = rescore(_Plain(), RegionPredictor(), _boundaries(), **args)
    for name in ("bright", "red_top"):
        a = fast.responses[name]
        for b in (again.responses[name], plain.responses[name]):
            assert np.abs(np.array(a.dS) - b.dS).max() <= 1e-5 and abs(a.dS_all - b.dS_all) <= 1e-5


class _Plain:
    """The tiny generator behind the protocol alone (no synthesis_plan, no cache)."""

    def __init__(self):
        self.g = tiny_generator()

    def __getattr__(self, name):
        if name in ("synthesis_plan", "cpu_chunk"):
            raise AttributeError(name)
        return getattr(self.g, name)

    def synthesize(self, wp):
        return self.g.synthesize(wp)
