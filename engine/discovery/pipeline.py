"""HiGAN's whole pipeline in one call, resumably: annotate, fit, rescore, write the library."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from strata.engine.core import limits
from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Progress, ShouldStop, report
from strata.engine.discovery._common import semantics_of
from strata.engine.discovery.annotate import ANNOTATIONS_FILE, load_annotations, sample_and_annotate
from strata.engine.discovery.fit import fit_boundaries
from strata.engine.discovery.hierarchy import DEFAULT_MASS, write_library
from strata.engine.discovery.predictors import resolve_predictor
from strata.engine.discovery.rescoring import LayerResponse, rescore

__all__ = ["LIBRARY_DIR", "RESCORE_CACHE", "run_discovery"]

RESCORE_CACHE = "rescore.json"
LIBRARY_DIR = "boundaries"


def _read_rescore_cache(path: Path, setup: Mapping) -> dict[str, LayerResponse]:
    try:
        data = limits.read_json_file(path, "report", StrataError)
        if data.get("setup") != json.loads(json.dumps(dict(setup))):
            return {}
        return {d["name"]: LayerResponse.from_dict(d) for d in data.get("responses", ())}
    except (StrataError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def run_discovery(model_path: str | os.PathLike, *, predictor="rooms", n: int | None = 10000,
                  m: int = 500, lam: float = 2.0, k: float | int = 0.02, seed: int = 0,
                  psi: float | None = None, out_dir: str | os.PathLike, batch_size: int = 64,
                  device=None, val_fraction: float = 0.3,
                  conditions: Mapping[str, Sequence[str]] | None = None, mass: float = DEFAULT_MASS,
                  command: str = "", checkpoint_seconds: float = 60.0,
                  progress: Progress | None = None,
                  should_stop: ShouldStop | None = None) -> dict:
    """The whole pipeline, resumably: annotate, fit, rescore, write the library.

    Layout of ``out_dir``: ``annotations.npz`` (resumed if partial, reused
    if finished), ``rescore.json`` (finished responses, reused when the
    setup and vectors match), and ``boundaries/`` (the library written by
    :func:`~strata.engine.discovery.hierarchy.write_library`). Running the same call again after a stop or a
    crash continues where it was.

    Parameters
    ----------
    model_path : path
        Generator file (:func:`strata.engine.core.models.load_generator`); a model
        this process already holds for the same file and device is used as it is
        (:func:`strata.engine.core.model_cache.load_shared`).
    predictor : str, path or predictor
        A registered name, a predictor file or an object
        (:func:`~strata.engine.discovery.predictors.resolve_predictor`).
    n : int or None
        Annotation samples; None uses whatever ``annotations.npz`` holds
        (e.g. a merged sharded run). If the file exists it must match
        ``n`` and ``seed``; its own batch size is kept, and so is its psi
        unless ``psi`` is given.
    m, lam
        Rescoring samples and step (HiGAN: 500 and 2).
    k : int or float
        Positives and negatives per semantic, count or fraction (HiGAN: 2%).
    seed : int
        Run seed (annotation codes, split, rescoring codes).
    psi : float, optional
        Truncation for synthesis; default the model's.
    out_dir : path
    batch_size : int
    device : optional
        Default CUDA when present.
    val_fraction, conditions, mass
        See :func:`~strata.engine.discovery.fit.fit_boundaries` and
        :func:`~strata.engine.discovery.hierarchy.choose_layers`.
    command : str
        Recorded in the library's provenance.
    progress, should_stop
        Callbacks for the whole run.

    Returns
    -------
    dict
        ``out_dir``, ``annotations``, ``library``, ``n``, ``m``, ``seconds``
        per stage, ``images_per_second`` and ``boundaries`` (one row per
        semantic: name, declared and found level, layers, accuracy, dS_all,
        range_stability, level_stability; the last two None when not measured).
    """
    from strata.engine.core.device import keep_freed_memory, resolve_device
    from strata.engine.core.model_cache import load_shared

    t_start = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StrataError(f"cannot create {out}: {exc.strerror or exc}") from None
    dev = resolve_device(device)
    # The model already open in this process for the same file (the window's), else loaded.
    model = load_shared(model_path, dev)
    g = model.generator
    pred = resolve_predictor(predictor, dev)
    specs = semantics_of(pred)
    L = int(g.num_layers)
    ann_path = out / ANNOTATIONS_FILE
    ann_batch = batch_size
    ann_before = 0  # samples already on disk: not counted in the throughput
    if ann_path.exists():
        prev = load_annotations(ann_path)
        ann_before = prev.count
        if n is None:
            n, seed_ann = int(prev.meta["n_total"]), int(prev.meta["seed"])
        else:
            seed_ann = seed
            if (prev.meta.get("n_total"), prev.meta.get("seed")) != (n, seed):
                raise StrataError(f"{ann_path} holds a run of {prev.meta.get('n_total')} samples with "
                                  f"seed {prev.meta.get('seed')}, not {n} with seed {seed}; pass "
                                  "the same -n/--seed, or write to another folder")
        ann_batch = int(prev.meta.get("batch_size", batch_size))
        if psi is None:
            psi = float(prev.meta["psi"])
    elif n is None:
        raise StrataError(f"{ann_path} does not exist; give the number of samples (-n) or merge shards")
    else:
        seed_ann = seed
    n_conditional = len(conditions or {})
    # Split the bar by the syntheses each stage costs.
    cost_ann = float(n)
    cost_res = float(m + (len(specs) + n_conditional) * m * (L + 1))
    total = cost_ann + cost_res
    a_end = 0.97 * cost_ann / total
    f_end = a_end + 0.01
    r_end = 0.99

    def stage(lo: float, hi: float) -> Progress | None:
        if progress is None:
            return None
        return lambda f, msg: progress(lo + (hi - lo) * f, msg)

    t0 = time.perf_counter()
    ann = sample_and_annotate(g, pred, n, seed=seed_ann, psi=psi, batch_size=ann_batch,
                              out_path=ann_path, model_fingerprint=model.fingerprint, device=dev,
                              checkpoint_seconds=checkpoint_seconds, progress=stage(0.0, a_end),
                              should_stop=should_stop)
    t_ann = time.perf_counter() - t0
    psi = float(ann.meta["psi"])
    t0 = time.perf_counter()
    fitted = fit_boundaries(ann, top=k, val_fraction=val_fraction, conditions=conditions, seed=seed,
                            progress=stage(a_end, f_end), should_stop=should_stop)
    t_fit = time.perf_counter() - t0
    cache_path = out / RESCORE_CACHE
    setup = {"model_fingerprint": model.fingerprint, "predictor": str(pred.name), "m": int(m),
             "lam": float(lam), "seed": int(seed), "psi": psi, "num_layers": L}
    cached = _read_rescore_cache(cache_path, setup)
    finished = dict(cached)

    def keep(resp: LayerResponse) -> None:
        finished[resp.name] = resp
        data = {"setup": setup, "responses": [r.to_dict() for r in finished.values()]}
        atomic_write_bytes(cache_path, json.dumps(data, indent=1).encode("utf-8"))

    t0 = time.perf_counter()
    rescoring = rescore(g, pred, fitted, m=m, lam=lam, seed=seed, psi=psi, batch_size=batch_size,
                        device=dev, previous=cached, on_result=keep, mass=mass,
                        progress=stage(f_end, r_end), should_stop=should_stop)
    t_res = time.perf_counter() - t0
    library = out / LIBRARY_DIR
    hierarchy = write_library(fitted, rescoring, library, model_fingerprint=model.fingerprint,
                              command=command, mass=mass)
    report(progress, 1.0, f"wrote {sum(r['file'] is not None for r in hierarchy['semantics'])} "
           f"boundaries to {library}")
    rescored = sum(1 for b in fitted if b.ok and b.name not in cached)
    images = (ann.count - ann_before) + (m + rescored * m * (L + 1) if rescored else 0)
    return {
        "out_dir": str(out), "annotations": str(ann_path), "library": str(library),
        "n": int(n), "m": int(m), "psi": psi, "device": str(dev),
        "seconds": {"annotate": t_ann, "fit": t_fit, "rescore": t_res,
                    "total": time.perf_counter() - t_start},
        "images_per_second": images / max(t_ann + t_res, 1e-9),
        "boundaries": [{k_: r[k_] for k_ in ("name", "declared_level", "found_level", "layers",
                                              "accuracy", "dS_all", "range_stability",
                                              "level_stability", "note")}
                       for r in hierarchy["semantics"]],
    }
