"""Step 3 of HiGAN's pipeline: how much each boundary moves its semantic, on all layers and layer by layer.

:func:`rescore` moves fresh samples along each boundary, re-annotates them
and measures the mean rise of the score, ``dS``, with a bootstrap over the
samples for its standard error and interval and for how stable the layer
range and level read from it are (:class:`LayerResponse`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit, apply_edits
from strata.engine.core.errors import StrataError
from strata.engine.core.incremental import SynthesisCache
from strata.engine.core.jobs import Cancelled, Progress, ShouldStop, report, stopping
from strata.engine.discovery._common import (STREAM_BOOTSTRAP, STREAM_RESCORE, check_seed, device_of, draw_codes,
                                             predict_scores, semantics_of)
from strata.engine.discovery.fit import FittedBoundary
from strata.engine.discovery.hierarchy import DEFAULT_MASS, choose_layers_rows, level_of

__all__ = ["BOOTSTRAP_RESAMPLES", "LayerResponse", "Rescoring", "rescore"]

# Bootstrap resamples of the rescoring samples (dS intervals, stability).
BOOTSTRAP_RESAMPLES = 1000
# Images scored at once on a CPU (the rooms predictor: 0.43 ms per image up to 32, 0.88 from 64).
PREDICT_CHUNK = 32
# Activations of the original samples kept for the layer-by-layer edits.
RESCORE_CACHE_BYTES = 1 << 30


class _Scorer:
    """Collects images and their tags, scores them ``size`` at a time, in order."""

    def __init__(self, predictor, names: Sequence[str], size: int):
        self.predictor, self.names, self.size = predictor, list(names), size
        self._images: list[torch.Tensor] = []
        self._tags: list[np.ndarray] = []
        self._count = 0

    def add(self, images: torch.Tensor, tags: np.ndarray):
        """Scores of every full ``size`` gathered so far: ``[(tags, {name: scores})]``."""
        self._images.append(images)
        self._tags.append(np.asarray(tags))
        self._count += len(tags)
        return self._score(final=False)

    def flush(self):
        return self._score(final=True)

    def _score(self, final: bool):
        out = []
        if self._count == 0 or (self._count < self.size and not final):
            return out
        images, tags = torch.cat(self._images), np.concatenate(self._tags)
        n = len(tags) if final else len(tags) - len(tags) % self.size
        for i in range(0, n, self.size):
            j = min(i + self.size, n)
            out.append((tags[i:j], predict_scores(self.predictor, images[i:j], self.names)))
        self._images, self._tags, self._count = [images[n:]], [tags[n:]], len(tags) - n
        if self._count == 0:
            self._images, self._tags = [], []
        return out


@dataclass(frozen=True)
class LayerResponse:
    """How much a semantic's score rises when one boundary is applied, and how sure that is.

    ``dS[l]`` is ``mean(max(0, S(edited on layer l only) - S(original)))``
    over the rescoring samples; ``dS_all`` the same for an edit on all layers.

    The other fields come from a bootstrap over the rescoring samples
    (:func:`rescore`; ``docs/analysis.md``) and are None when there was none
    (a response cached by an older Strata, fewer than 2 samples, or
    ``resamples=0``): ``dS_se``, ``dS_lo``, ``dS_hi`` are each layer's
    bootstrap standard error and 95% percentile interval, ``dS_all_se``,
    ``dS_all_lo``, ``dS_all_hi`` the same for ``dS_all``;
    ``range_stability`` and ``level_stability`` the share of resamples in
    which :func:`~strata.engine.discovery.hierarchy.choose_layers` (with ``mass = stability_mass``) gives the
    full sample's range, and :func:`~strata.engine.discovery.hierarchy.level_of` its level; ``resamples`` is
    how many resamples were drawn (0: none).
    """

    name: str
    semantic: str
    dS: tuple[float, ...]
    dS_all: float
    vector_sha256: str = ""
    dS_se: tuple[float, ...] | None = None
    dS_lo: tuple[float, ...] | None = None
    dS_hi: tuple[float, ...] | None = None
    dS_all_se: float | None = None
    dS_all_lo: float | None = None
    dS_all_hi: float | None = None
    range_stability: float | None = None
    level_stability: float | None = None
    stability_mass: float | None = None
    resamples: int = 0

    def stability_for(self, mass: float) -> tuple[float | None, float | None]:
        """``(range_stability, level_stability)``, or Nones if they were measured for another ``mass``."""
        if self.stability_mass is None or not math.isclose(self.stability_mass, mass):
            return None, None
        return self.range_stability, self.level_stability

    def to_dict(self) -> dict:
        def floats(v):
            return None if v is None else list(v)

        return {"name": self.name, "semantic": self.semantic, "dS": list(self.dS),
                "dS_all": self.dS_all, "vector_sha256": self.vector_sha256,
                "dS_se": floats(self.dS_se), "dS_lo": floats(self.dS_lo), "dS_hi": floats(self.dS_hi),
                "dS_all_se": self.dS_all_se, "dS_all_lo": self.dS_all_lo, "dS_all_hi": self.dS_all_hi,
                "range_stability": self.range_stability, "level_stability": self.level_stability,
                "stability_mass": self.stability_mass, "resamples": self.resamples}

    @classmethod
    def from_dict(cls, d: Mapping) -> LayerResponse:
        """Read :meth:`to_dict` output; a dict without the bootstrap fields (older Strata) gives Nones."""
        dS = tuple(float(v) for v in d["dS"])

        def floats(key):  # a per-layer list, or None when absent or not one value per layer
            v = d.get(key)
            return tuple(float(x) for x in v) if v is not None and len(v) == len(dS) else None

        def number(key):
            v = d.get(key)
            return None if v is None else float(v)

        return cls(name=str(d["name"]), semantic=str(d["semantic"]), dS=dS,
                   dS_all=float(d["dS_all"]), vector_sha256=str(d.get("vector_sha256", "")),
                   dS_se=floats("dS_se"), dS_lo=floats("dS_lo"), dS_hi=floats("dS_hi"),
                   dS_all_se=number("dS_all_se"), dS_all_lo=number("dS_all_lo"),
                   dS_all_hi=number("dS_all_hi"), range_stability=number("range_stability"),
                   level_stability=number("level_stability"),
                   stability_mass=number("stability_mass"), resamples=int(d.get("resamples") or 0))


@dataclass(frozen=True, eq=False)
class Rescoring:
    """The responses of a set of boundaries, and how they were measured."""

    responses: Mapping[str, LayerResponse]
    m: int
    lam: float
    seed: int
    psi: float
    num_layers: int
    layer_resolutions: tuple[int, ...]
    predictor: str = ""

    def __post_init__(self):
        object.__setattr__(self, "responses", MappingProxyType(dict(self.responses)))
        object.__setattr__(self, "layer_resolutions", tuple(int(r) for r in self.layer_resolutions))

    def setup(self) -> dict:
        """Everything but the responses (what a cached response must match)."""
        return {"m": self.m, "lam": self.lam, "seed": self.seed, "psi": self.psi,
                "num_layers": self.num_layers, "layer_resolutions": list(self.layer_resolutions),
                "predictor": self.predictor}

    def to_dict(self) -> dict:
        return {**self.setup(), "responses": [r.to_dict() for r in self.responses.values()]}


def _vector_sha(vector: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).hexdigest()


def _bootstrap(rises: np.ndarray, *, resamples: int, seed: int, mass: float,
               layer_resolutions: Sequence[int] | None) -> dict:
    """Bootstrap over the rescoring samples: :class:`LayerResponse`'s uncertainty fields.

    ``rises`` is float64 ``[m, num_layers + 1]``, column 0 the all-layer
    edit. Resample ``i`` draws ``m`` samples with replacement from
    ``default_rng([seed, 2])``; every boundary of a run gets the same
    resamples (they are measured on the same samples), whatever the order
    or resume point. A resample's mean is ``counts @ rises / m``, ``counts``
    being how often it drew each sample.
    """
    m, variants = rises.shape
    num_layers = variants - 1
    rng = np.random.default_rng([seed, STREAM_BOOTSTRAP])
    means = np.empty((resamples, variants), dtype=np.float64)
    chunk = max(1, min(resamples, 1_000_000 // m))  # bounds the [chunk, m] index arrays
    for b0 in range(0, resamples, chunk):
        b = min(chunk, resamples - b0)
        idx = rng.integers(0, m, size=(b, m)) + m * np.arange(b)[:, None]
        counts = np.bincount(idx.ravel(), minlength=b * m).reshape(b, m)
        means[b0:b0 + b] = counts @ rises / m
    point = rises.sum(axis=0) / m
    se = means.std(axis=0, ddof=1)
    lo, hi = np.percentile(means, [2.5, 97.5], axis=0)
    (first0,), (last0,) = choose_layers_rows(point[None, 1:], mass)
    first, last = choose_layers_rows(means[:, 1:], mass)
    level0 = level_of((first0, last0), num_layers, layer_resolutions)
    # At most num_layers * (num_layers + 1) / 2 distinct ranges: ask level_of once for each.
    ranges, which = np.unique(np.stack([first, last], axis=1), axis=0, return_inverse=True)
    same_level = np.array([level_of((a, b), num_layers, layer_resolutions) == level0
                           for a, b in ranges])[which.reshape(-1)]
    return {
        "dS_se": tuple(float(v) for v in se[1:]), "dS_lo": tuple(float(v) for v in lo[1:]),
        "dS_hi": tuple(float(v) for v in hi[1:]), "dS_all_se": float(se[0]),
        "dS_all_lo": float(lo[0]), "dS_all_hi": float(hi[0]),
        "range_stability": float(np.mean((first == first0) & (last == last0))),
        "level_stability": float(np.mean(same_level)),
        "stability_mass": float(mass), "resamples": int(resamples),
    }


def rescore(generator, predictor, boundaries: Sequence[FittedBoundary], *, m: int = 500,
            lam: float = 2.0, seed: int = 0, psi: float | None = None, batch_size: int = 64,
            device=None, previous: Mapping[str, LayerResponse] | None = None,
            on_result: Callable[[LayerResponse], None] | None = None,
            mass: float = DEFAULT_MASS, resamples: int = BOOTSTRAP_RESAMPLES,
            cache_bytes: int = RESCORE_CACHE_BYTES, progress: Progress | None = None,
            should_stop: ShouldStop | None = None) -> Rescoring:
    """Measure each boundary's effect on its semantic, on all layers and layer by layer.

    ``m`` fresh codes (stream 1 of ``seed``, so never the annotation's
    samples) are synthesized once at truncation ``psi`` and scored; then for
    every boundary each code is moved by ``+lam`` on all layers and on each
    single layer (``num_layers + 1`` edits, through
    :func:`strata.engine.core.edits.apply_edits` with HiGAN's truncation compensation),
    and the edited images are scored, at most ``batch_size`` at a time: the
    cost is ``m * (num_layers + 1)`` syntheses per boundary plus ``m``, but
    an edit on layer ``l`` alone re-runs synthesis from layer ``l`` only: the
    original samples' activations are kept (up to ``cache_bytes``, else
    computed again per boundary), with the result of full synthesis
    (:mod:`strata.engine.core.incremental`). On a CPU, codes are synthesized
    a few at a time and images scored :data:`PREDICT_CHUNK` at a time, which
    keeps the work in the processor's caches; batches change scores only by
    float rounding.

    The per-sample rises ``max(0, S_edited - S_orig)`` (``m x (num_layers + 1)``
    per boundary) are kept until the boundary is done, for a bootstrap over
    the ``m`` samples (``resamples`` draws with replacement, seeded from
    ``seed``): each ``dS``'s standard error and 95% percentile interval, and
    how often the resampled profile gives the same layer range
    (:func:`~strata.engine.discovery.hierarchy.choose_layers` with ``mass``) and level (:func:`~strata.engine.discovery.hierarchy.level_of`) as
    the whole sample. Only these summaries are kept (:class:`LayerResponse`).
    The bootstrap covers the choice of rescoring samples, not the SVM fit.

    Parameters
    ----------
    boundaries : sequence of FittedBoundary
        Those with no vector are skipped.
    previous : mapping, optional
        ``{name: LayerResponse}`` measured before with the same setup;
        reused when the vector's hash matches (resuming).
    on_result : callable, optional
        Called with each new :class:`LayerResponse` as it is finished.
    mass : float
        :func:`~strata.engine.discovery.hierarchy.choose_layers`'s share, for the range and level stability.
    resamples : int
        Bootstrap resamples (default :data:`BOOTSTRAP_RESAMPLES`); 0 skips
        the bootstrap. With ``m = 1`` there is nothing to resample and the
        uncertainty fields stay None.

    Returns
    -------
    Rescoring
    """
    seed = check_seed(seed)
    m, batch_size = int(m), int(batch_size)
    if m < 1:
        raise StrataError(f"rescoring needs at least 1 sample, got {m}")
    if batch_size < 1:
        raise StrataError(f"batch size must be at least 1, got {batch_size}")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
            or resamples < 0 or resamples == 1:
        raise StrataError(f"resamples must be 0 (no bootstrap) or at least 2, got {resamples!r}")
    resamples = int(resamples)
    if not 0 < mass <= 1:
        raise StrataError(f"mass must be in (0, 1], got {mass!r}")
    lam = float(lam)
    if not math.isfinite(lam) or lam == 0:
        raise StrataError(f"lam must be a non-zero finite number, got {lam!r}")
    psi = float(generator.default_psi if psi is None else psi)
    dev = device_of(generator, device)
    L, D = int(generator.num_layers), int(generator.w_dim)
    trunc = int(generator.truncation_layers)
    known = {s["name"] for s in semantics_of(predictor)}
    todo, responses = [], {}
    for b in boundaries:
        if not b.ok:
            continue
        if b.semantic not in known:
            raise StrataError(f"boundary {b.name!r} measures {b.semantic!r}, which predictor "
                              f"{predictor.name!r} does not score")
        if b.vector.shape[-1] != D:
            raise StrataError(f"boundary {b.name!r} has dimension {b.vector.shape[-1]} but the "
                              f"model's W space has {D}")
        sha = _vector_sha(b.vector)
        old = (previous or {}).get(b.name)
        if old is not None and old.vector_sha256 == sha and len(old.dS) == L:
            responses[b.name] = old
        else:
            todo.append((b, sha))
    result = dict(responses)
    setup = dict(m=m, lam=lam, seed=seed, psi=psi, num_layers=L,
                 layer_resolutions=tuple(generator.layer_resolutions), predictor=str(predictor.name))
    if not todo:
        report(progress, 1.0, "rescoring: nothing left to measure")
        return Rescoring(responses=result, **setup)
    names = sorted({b.semantic for b, _ in todo})
    variants = L + 1  # 0: all layers; 1 + l: layer l only
    total = m + len(todo) * m * variants
    done = 0

    def tick(count: int, message: str) -> None:
        nonlocal done
        done += count
        report(progress, done / total, message)

    cached = hasattr(generator, "synthesis_plan")  # incremental synthesis (see below)
    # On a CPU, small batches keep activations in the caches (the layers are bound by memory
    # bandwidth): synthesize cpu_chunk() codes and score PREDICT_CHUNK images at a time.
    chunk = batch_size
    pchunk = batch_size
    if dev.type == "cpu":
        chunk = max(1, min(batch_size, int(getattr(generator, "cpu_chunk", lambda: batch_size)())))
        pchunk = max(1, min(batch_size, PREDICT_CHUNK))
    starts = list(range(0, m, chunk))

    with torch.inference_mode():
        z = torch.from_numpy(draw_codes(seed, STREAM_RESCORE, 0, m, generator.z_dim)).to(dev)
        wp0 = torch.cat([generator.truncate(generator.mapping(z[i:i + batch_size]), psi)
                         for i in range(0, m, batch_size)])
        base = {name: np.empty(m, dtype=np.float32) for name in names}
        # The activations of each chunk of original samples, kept while they fit in cache_bytes:
        # an edit on layer l re-runs synthesis from layer l only.
        caches: list[SynthesisCache | None] = []
        kept = 0

        def originals(i0: int) -> tuple[torch.Tensor, SynthesisCache | None]:
            codes = wp0[i0:i0 + chunk]
            if not cached:
                return generator.synthesize(codes), None
            c = SynthesisCache(max_bytes=cache_bytes)
            return generator.synthesize(codes, cache=c), c

        scorer = _Scorer(predictor, names, pchunk)
        for i0 in starts:
            if stopping(should_stop):
                raise Cancelled("rescoring stopped; finished boundaries are kept")
            images, c = originals(i0)
            if c is not None and kept + c.nbytes <= cache_bytes:
                kept += c.nbytes
                caches.append(c)
            else:
                caches.append(None)
            for idx, scores in scorer.add(images, np.arange(i0, min(i0 + chunk, m))):
                for name in names:
                    base[name][idx] = scores[name]
                tick(len(idx), "rescoring: original samples")
        for idx, scores in scorer.flush():
            for name in names:
                base[name][idx] = scores[name]
            tick(len(idx), "rescoring: original samples")
        zero = torch.zeros(1, L, D, dtype=wp0.dtype, device=dev)
        for b, sha in todo:
            ref = Boundary(name=b.name, vector=b.vector)
            edits = [Edit(ref, lam, (0, L - 1))] + [Edit(ref, lam, (l, l)) for l in range(L)]
            # apply_edits(zero) is exactly the step apply_edits(wp0) would add.
            steps = torch.cat([apply_edits(zero, [e], truncation_psi=psi, truncation_layers=trunc)
                               for e in edits])                                 # [V, L, D]
            rises = np.zeros((m, variants), dtype=np.float64)
            s0 = base[b.semantic]
            scorer = _Scorer(predictor, [b.semantic], pchunk)

            def take(found) -> None:
                for pairs, scores in found:
                    sample, variant = pairs // variants, pairs % variants
                    s = scores[b.semantic].astype(np.float64)
                    rises[sample, variant] = np.maximum(0.0, s - s0[sample])
                    tick(len(pairs), f"rescoring {b.name}")

            for ci, i0 in enumerate(starts):
                c = caches[ci]
                if cached and c is None:  # did not fit: the originals' activations again
                    _, c = originals(i0)
                samples = np.arange(i0, min(i0 + chunk, m))
                for v in range(variants):
                    if stopping(should_stop):
                        raise Cancelled("rescoring stopped; finished boundaries are kept")
                    codes = wp0[i0:i0 + chunk] + steps[v]
                    images = (generator.synthesize(codes, cache=c, update=False) if c is not None
                              else generator.synthesize(codes))
                    take(scorer.add(images, samples * variants + v))
            take(scorer.flush())
            gain = rises.sum(axis=0) / m
            spread = _bootstrap(rises, resamples=resamples, seed=seed, mass=mass,
                                layer_resolutions=setup["layer_resolutions"]) \
                if resamples and m > 1 else {}
            resp = LayerResponse(name=b.name, semantic=b.semantic,
                                 dS=tuple(float(v) for v in gain[1:]), dS_all=float(gain[0]),
                                 vector_sha256=sha, **spread)
            result[b.name] = resp
            if on_result is not None:
                on_result(resp)
    ordered = {b.name: result[b.name] for b in boundaries if b.name in result}
    return Rescoring(responses=ordered, **setup)
