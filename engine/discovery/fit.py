"""Step 2 of HiGAN's pipeline: a linear boundary in W for each semantic.

For each semantic, the ``k`` highest- and ``k`` lowest-scoring codes of an
annotation run train a linear SVM on ``w``; its unit normal is the boundary
(:func:`fit_boundaries`). A conditional boundary is made orthogonal to one
or two others (:func:`condition_boundary`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from strata.engine.core.boundary import Boundary
from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Cancelled, Progress, ShouldStop, report, stopping
from strata.engine.discovery._common import check_seed
from strata.engine.discovery.annotate import Annotations, load_annotations

__all__ = ["FittedBoundary", "condition_boundary", "fit_boundaries"]


@dataclass(frozen=True, eq=False)
class FittedBoundary:
    """A boundary fitted for one semantic, or the reason none could be.

    Parameters
    ----------
    name : str
        The semantic's name, or ``<primal>_cond_<c1>[_<c2>]`` for a
        conditional boundary.
    semantic : str
        The score the boundary moves (the primal one for conditional boundaries).
    vector : numpy.ndarray or None
        float32 unit normal ``[w_dim]`` pointing toward higher scores; None
        when the semantic could not be fitted (see ``note``).
    declared_level, kind : str
        What the predictor declares for the semantic.
    accuracy : float or None
        Validation accuracy on the held-out top/bottom samples.
    k, n_train, n_val : int
        Samples per class taken, and the sizes of the two splits (both classes).
    conditions : tuple of str
        Semantics the boundary was made orthogonal to.
    note : str
        Why there is no vector, when there is none.
    """

    name: str
    semantic: str
    vector: np.ndarray | None
    declared_level: str = "unknown"
    kind: str = "continuous"
    accuracy: float | None = None
    k: int = 0
    n_train: int = 0
    n_val: int = 0
    conditions: tuple[str, ...] = ()
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.vector is not None

    def to_boundary(self, **kw) -> Boundary:
        """The project's :class:`~strata.engine.core.boundary.Boundary` for this vector (``kw`` passed on)."""
        if self.vector is None:
            raise StrataError(f"semantic {self.name!r} has no boundary: {self.note}")
        return Boundary(name=self.name, vector=self.vector, accuracy=self.accuracy, **kw)

    def to_dict(self) -> dict:
        return {"name": self.name, "semantic": self.semantic,
                "vector": None if self.vector is None else [float(v) for v in self.vector],
                "declared_level": self.declared_level, "kind": self.kind, "accuracy": self.accuracy,
                "k": self.k, "n_train": self.n_train, "n_val": self.n_val,
                "conditions": list(self.conditions), "note": self.note}


def _unit(vector, what: str) -> np.ndarray:
    v = np.asarray(getattr(vector, "vector", vector), dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise StrataError(f"{what} has zero length or non-finite values")
    return v / norm


def condition_boundary(primal, conditions: Sequence) -> np.ndarray:
    """The primal boundary made orthogonal to one or two condition boundaries.

    For one condition ``n2``: ``n1 - (n1 . n2) n2``. For two, ``n1 - a n2 -
    b n3`` with ``(a, b)`` solving ``[[1, c], [c, 1]] (a, b) = (n1 . n2,
    n1 . n3)``, ``c = n2 . n3`` (InterFaceGAN's conditional manipulation, as
    used by HiGAN). Moving along the result leaves the conditions' scores
    unchanged to first order.

    Parameters
    ----------
    primal : array-like or Boundary
        ``[w_dim]``.
    conditions : sequence of array-like or Boundary
        One or two directions of the same dimension.

    Returns
    -------
    numpy.ndarray
        float64 unit vector ``[w_dim]``.

    Raises
    ------
    StrataError
        Not one or two conditions, mismatched dimensions, parallel
        conditions, or a primal inside their span.
    """
    n1 = _unit(primal, "primal boundary")
    if not 1 <= len(conditions) <= 2:
        raise StrataError(f"a conditional boundary takes one or two conditions, got {len(conditions)}")
    cond = np.stack([_unit(c, f"condition {i + 1}") for i, c in enumerate(conditions)]) \
        if all(np.size(getattr(c, "vector", c)) == n1.size for c in conditions) else None
    if cond is None:
        raise StrataError("conditions must have the primal boundary's dimension")
    gram = cond @ cond.T
    if len(cond) == 2 and abs(np.linalg.det(gram)) < 1e-8:
        raise StrataError("the two conditions are parallel; use one of them")
    coef = np.linalg.solve(gram, cond @ n1)
    out = n1 - coef @ cond
    norm = float(np.linalg.norm(out))
    if norm < 1e-6:
        raise StrataError("the primal boundary lies in the span of its conditions")
    return out / norm


def _top_k(top, n: int) -> int:
    if isinstance(top, bool):
        raise StrataError(f"top must be a count or a fraction, got {top!r}")
    if isinstance(top, (int, np.integer)) or (isinstance(top, float) and top >= 1 and top.is_integer()):
        k = int(top)
    elif isinstance(top, float) and 0 < top < 1:
        k = max(1, int(round(top * n)))
    else:
        raise StrataError(f"top must be a count >= 1 or a fraction in (0, 1), got {top!r}")
    if k < 1 or 2 * k > n:
        raise StrataError(f"top {k} per class needs at least {2 * k} samples; the annotations hold {n}")
    return k


def _threshold_accuracy(train_x, train_y, val_x, val_y) -> float:
    """Validation accuracy of the best training threshold on 1-D projections (positives above)."""
    order = np.argsort(train_x, kind="stable")
    xs, ys = train_x[order], train_y[order]
    # Cut after i samples: negatives predicted for the first i.
    neg_ok = np.concatenate([[0], np.cumsum(ys == 0)])
    pos_ok = (ys == 1).sum() - np.concatenate([[0], np.cumsum(ys == 1)])
    i = int(np.argmax(neg_ok + pos_ok))
    if i == 0:
        cut = xs[0] - 1.0
    elif i == len(xs):
        cut = xs[-1] + 1.0
    else:
        cut = 0.5 * (xs[i - 1] + xs[i])
    return float(np.mean((val_x > cut) == (val_y == 1)))


def fit_boundaries(annotations: Annotations | str | os.PathLike, *, top: float | int = 0.02,
                   val_fraction: float = 0.3,
                   conditions: Mapping[str, Sequence[str]] | None = None,
                   semantics: Sequence[str] | None = None, seed: int = 0, C: float = 1.0,
                   max_iter: int = 10000, progress: Progress | None = None,
                   should_stop: ShouldStop | None = None) -> list[FittedBoundary]:
    """Fit one linear boundary in W per semantic, as HiGAN does.

    For each semantic the ``k`` highest-scoring samples are positives and
    the ``k`` lowest negatives (binary semantics: by predicted
    probability; ties keep sample order). Each class is shuffled with
    ``seed`` and split ``1 - val_fraction`` / ``val_fraction``; a
    :class:`sklearn.svm.LinearSVC` is fitted on the training ``w`` and its
    normal, scaled to unit length and pointing toward the positives, is
    the boundary. Validation accuracy is reported.

    The SVM sees raw ``w`` (as HiGAN), not standardised features, so that
    the normal is a direction in W itself; it is only centred on the
    training mean, which leaves the normal's meaning alone but keeps
    liblinear's penalised intercept from tilting it when ``w`` sits far
    from the origin.

    Parameters
    ----------
    annotations : Annotations or path
        A complete run.
    top : int or float
        ``k`` as a count (>= 1) or a fraction of the samples (HiGAN: 0.02).
    val_fraction : float
        Share of each class held out, in [0, 1).
    conditions : mapping, optional
        ``{primal: [condition, ...]}``: also make ``primal``'s boundary
        orthogonal to one or two others (:func:`condition_boundary`); the
        result is named ``<primal>_cond_<c1>[_<c2>]``.
    semantics : sequence of str, optional
        Fit only these (default: all).
    seed : int
        For the split and liblinear's shuffling.
    C, max_iter
        Passed to LinearSVC.

    Returns
    -------
    list of FittedBoundary
        One per semantic (then one per condition), in the predictor's
        order. A semantic whose top and bottom ``k`` scores overlap (e.g. a
        score that never varies) comes back with ``vector=None`` and a note.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC
    import warnings

    if not isinstance(annotations, Annotations):
        annotations = load_annotations(annotations)
    if not annotations.complete:
        raise StrataError(f"annotations are unfinished ({annotations.count} of "
                          f"{annotations.stop - annotations.start} samples); finish or merge them first")
    if not 0 <= val_fraction < 1:
        raise StrataError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    seed = check_seed(seed)
    w = np.asarray(annotations.w, dtype=np.float64)
    n = w.shape[0]
    k = _top_k(top, n)
    n_val = int(round(val_fraction * k))
    if k - n_val < 1:
        raise StrataError(f"top {k} per class leaves no training samples at val_fraction {val_fraction}")
    specs = annotations.semantics
    if semantics is not None:
        known = {s["name"] for s in specs}
        unknown = [s for s in semantics if s not in known]
        if unknown:
            raise StrataError(f"no scores for {', '.join(map(repr, unknown))}; "
                              f"the annotations have {', '.join(sorted(known))}")
        specs = [s for s in specs if s["name"] in set(semantics)]
    conditions = dict(conditions or {})
    results: list[FittedBoundary] = []
    splits: dict[str, tuple] = {}
    total = len(specs) + len(conditions)
    for i, spec in enumerate(specs):
        if stopping(should_stop):
            raise Cancelled("fitting stopped; run again to continue (annotations are kept)")
        name = spec["name"]
        report(progress, i / max(total, 1), f"fitting {name}")
        s = np.asarray(annotations.scores[name], dtype=np.float64)
        order = np.argsort(s, kind="stable")
        neg, pos = order[:k], order[-k:]
        base = dict(name=name, semantic=name, declared_level=spec["level"], kind=spec["kind"], k=k)
        if s[pos].min() <= s[neg].max():
            results.append(FittedBoundary(
                vector=None, note=f"the top and bottom {k} scores overlap "
                f"(scores span {s.min():.3g}..{s.max():.3g}); nothing to separate", **base))
            continue
        rng = np.random.RandomState(seed)
        pos, neg = rng.permutation(pos), rng.permutation(neg)
        train = np.concatenate([pos[n_val:], neg[n_val:]])
        val = np.concatenate([pos[:n_val], neg[:n_val]])
        y_train = np.r_[np.ones(k - n_val), np.zeros(k - n_val)].astype(np.int64)
        y_val = np.r_[np.ones(n_val), np.zeros(n_val)].astype(np.int64)
        centre = w[train].mean(axis=0)
        svm = LinearSVC(C=C, max_iter=max_iter, random_state=seed, dual="auto")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm.fit(w[train] - centre, y_train)
        normal = svm.coef_.reshape(-1)
        norm = float(np.linalg.norm(normal))
        if not math.isfinite(norm) or norm == 0.0:
            results.append(FittedBoundary(vector=None, note="the SVM found no direction", **base))
            continue
        acc = float(np.mean(svm.predict(w[val] - centre) == y_val)) if n_val else None
        vector = (normal / norm).astype(np.float32)
        results.append(FittedBoundary(vector=vector, accuracy=acc, n_train=len(train),
                                      n_val=len(val), **base))
        splits[name] = (train, y_train, val, y_val)
    by_name = {r.name: r for r in results}
    for j, (primal, conds) in enumerate(conditions.items()):
        if stopping(should_stop):
            raise Cancelled("fitting stopped; run again to continue (annotations are kept)")
        conds = tuple(conds)
        name = f"{primal}_cond_{'_'.join(conds)}"
        report(progress, (len(specs) + j) / max(total, 1), f"conditioning {name}")
        missing = [c for c in (primal, *conds) if c not in by_name]
        if missing:
            raise StrataError(f"conditional boundary {name}: {', '.join(missing)} not fitted")
        ref = by_name[primal]
        base = dict(name=name, semantic=primal, declared_level=ref.declared_level, kind=ref.kind,
                    k=k, conditions=conds)
        unfit = [c for c in (primal, *conds) if not by_name[c].ok]
        if unfit:
            results.append(FittedBoundary(vector=None, note=f"{', '.join(unfit)} has no boundary", **base))
            continue
        vector = condition_boundary(ref.vector, [by_name[c].vector for c in conds])
        train, y_train, val, y_val = splits[primal]
        acc = _threshold_accuracy(w[train] @ vector, y_train, w[val] @ vector, y_val) if n_val else None
        results.append(FittedBoundary(vector=vector.astype(np.float32), accuracy=acc,
                                      n_train=len(train), n_val=len(val), **base))
    report(progress, 1.0, f"fitted {sum(r.ok for r in results)} of {len(results)} boundaries")
    return results
