"""The rooms predictor: a small CNN that scores the semantics of the procedural rooms.

Discovery and evaluation find it by name, ``"rooms"``, in the predictor
registry (:mod:`strata.engine.discovery.predictors`), which imports this
module through the ``strata.predictors`` entry point that names
:func:`load_rooms_predictor`. It is trained on the rooms of
:mod:`strata.engine.rooms.render` and shipped as ``assets/rooms_predictor.pth``.
Train it again with ``strata predictor train`` (:func:`train_rooms_predictor`)
and measure it with ``strata predictor eval`` (:func:`evaluate_predictor`).

Public API
----------
RoomsPredictor, load_rooms_predictor(path=None, device=None), default_predictor_path()
    The predictor and its file (the entry point's factory is :func:`load_rooms_predictor`).
train_rooms_predictor(out_path, *, steps, batch_size, seed, progress, should_stop)
    Train on freshly rendered rooms.
evaluate_predictor(predictor, n, seed), report_markdown(result)
    Accuracy (binary) and R^2 (continuous) on held-out rooms.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from strata.engine.core.jobs import Progress, ShouldStop
from strata.engine.discovery.predictors import PredictorError, SemanticSpec, prepare_images
from strata.engine.rooms.render import render_rooms
from strata.engine.rooms.semantics import REQUIRES, SEMANTICS, sample_params, score_range, scores_of

__all__ = [
    "EVAL_SEED",
    "RoomsPredictor",
    "load_rooms_predictor",
    "default_predictor_path",
    "train_rooms_predictor",
    "evaluate_predictor",
    "report_markdown",
]

FILE_FORMAT = "strata-predictor"
FILE_VERSION = 1

# Held-out rooms for evaluation come from this seed; training draws its
# rooms from the training seed's own generator.
EVAL_SEED = 1_000_003


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class RoomsPredictor(nn.Module):
    """A small CNN scoring the semantics of :mod:`strata.engine.rooms.semantics`.

    A shared convolutional trunk (64 -> 4 pixels) ends in a flattened 4x4
    map and a fully connected layer: the feature vector (:meth:`features`,
    used for KID). Each semantic has its own linear head; binary heads give
    probabilities (sigmoid), continuous heads regress the score.

    Parameters
    ----------
    semantics : sequence of SemanticSpec
        What to score (default: every semantic of :mod:`strata.engine.rooms.semantics`).
    channels : sequence of int
        Trunk widths at 64, 32, 16, 8 and 4 pixels.
    feature_dim : int
        Length of the feature vector.
    input_resolution : int
        Images of other sizes are resized (area average or bilinear) to this.
    """

    name = "rooms"

    def __init__(self, semantics: Sequence[SemanticSpec] = SEMANTICS, *,
                 channels: Sequence[int] = (24, 32, 64, 96, 128),   # at 64, 32, 16, 8, 4 px
                 feature_dim: int = 192,                            # length of features()
                 input_resolution: int = 64):                       # images are resized to this
        super().__init__()
        if input_resolution != 64:
            raise ValueError(f"RoomsPredictor's trunk expects 64x64 input, got input_resolution={input_resolution}")
        if len(channels) != 5:
            raise ValueError(f"channels must give 5 widths, got {tuple(channels)}")
        self.semantics = tuple(semantics)
        self.channels = tuple(int(c) for c in channels)
        self.feature_dim = int(feature_dim)
        self.input_resolution = int(input_resolution)
        c = self.channels
        self.trunk = nn.Sequential(
            _conv(3, c[0], 1), _conv(c[0], c[1], 2), _conv(c[1], c[2], 2), _conv(c[2], c[3], 2), _conv(c[3], c[4], 2),
            nn.Conv2d(c[4], 32, 1), nn.ReLU(inplace=True),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, self.feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({s.name: nn.Linear(self.feature_dim, 1) for s in self.semantics})
        # Continuous heads regress the score scaled to about [0, 1].
        self.register_buffer("offset", torch.tensor([_range(s)[0] for s in self.semantics]), persistent=False)
        self.register_buffer("scale", torch.tensor([_range(s)[1] - _range(s)[0] for s in self.semantics]),
                             persistent=False)

    def extra_repr(self) -> str:
        return (f"semantics={len(self.semantics)}, channels={self.channels}, feature_dim={self.feature_dim}, "
                f"input_resolution={self.input_resolution}")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _trunk(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(images))

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Raw head outputs ``[n, S]`` for 64x64 images (training uses these)."""
        feats = self._trunk(images)
        return torch.cat([self.heads[s.name](feats) for s in self.semantics], dim=1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.predict(images)

    def _run(self, images: torch.Tensor, fn) -> torch.Tensor:
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                x = prepare_images(images, self.input_resolution).to(self.device)
                return fn(x)
        finally:
            self.train(was_training)

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scores ``{name: float32 [n]}``: probabilities for binary semantics,
        the score itself (in its documented range, unclipped) for continuous ones."""
        out = self._run(images, self.logits).to(images.device)
        scores = {}
        for i, spec in enumerate(self.semantics):
            if spec.kind == "binary":
                scores[spec.name] = torch.sigmoid(out[:, i])
            else:
                scores[spec.name] = out[:, i] * self.scale[i].to(out.device) + self.offset[i].to(out.device)
        return scores

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The trunk's feature vector ``[n, feature_dim]`` (for KID)."""
        return self._run(images, self._trunk).to(images.device)

    # ---- files
    def metadata(self) -> dict:
        return {"name": self.name, "semantics": [s.to_dict() for s in self.semantics],
                "channels": list(self.channels), "feature_dim": self.feature_dim,
                "input_resolution": self.input_resolution}

    def save(self, path, *, extra: Mapping | None = None) -> None:
        """Write a plain state dict plus JSON-able metadata, atomically."""
        from strata.engine.core.atomic import atomic_write_bytes

        meta = self.metadata()
        if extra:
            meta["training"] = dict(extra)
        state = {k: v.detach().cpu().clone() for k, v in self.state_dict().items()}
        buffer = io.BytesIO()
        torch.save({"format": FILE_FORMAT, "version": FILE_VERSION, "metadata": meta, "state_dict": state}, buffer)
        atomic_write_bytes(path, buffer.getvalue())


def _range(spec: SemanticSpec) -> tuple[float, float]:
    try:
        return score_range(spec.name)
    except KeyError:  # not a rooms semantic
        return (0.0, 1.0)


def default_predictor_path() -> Path:
    """The bundled rooms predictor, ``rooms_predictor.pth`` in :mod:`strata.assets`."""
    from strata.assets import HERE  # a data package: no code of its own beyond paths

    return HERE / "rooms_predictor.pth"


def load_rooms_predictor(path=None, device=None) -> RoomsPredictor:
    """Load a :class:`RoomsPredictor` saved by :meth:`RoomsPredictor.save`.

    Only tensors and plain containers are read (``weights_only=True``).

    Raises
    ------
    PredictorError
        The file is missing, truncated, corrupt, or not a rooms predictor;
        the message names the file.
    """
    path = Path(path) if path is not None else default_predictor_path()
    if not path.is_file():
        raise PredictorError(f"{path}: predictor file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and EOF errors all mean: unreadable
        raise PredictorError(f"{path}: cannot read predictor file (truncated or corrupt?): "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(blob, dict) or blob.get("format") != FILE_FORMAT:
        raise PredictorError(f"{path}: not a Strata predictor file")
    if blob.get("version") != FILE_VERSION:
        raise PredictorError(f"{path}: predictor file version {blob.get('version')!r} is not supported "
                             f"(this Strata reads version {FILE_VERSION})")
    meta, state = blob.get("metadata"), blob.get("state_dict")
    try:
        semantics = tuple(SemanticSpec.from_dict(d) for d in meta["semantics"])
        model = RoomsPredictor(semantics, channels=meta["channels"], feature_dim=meta["feature_dim"],
                               input_resolution=meta["input_resolution"])
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise PredictorError(f"{path}: predictor metadata or weights do not match: "
                             f"{str(exc).splitlines()[0]}") from None
    training = meta.get("training") or {}
    if not isinstance(training, dict):
        raise PredictorError(f"{path}: metadata 'training' is a {type(training).__name__}, not a mapping")
    model.training_info = dict(training)
    model.eval()
    if device is not None:
        model.to(device)
    return model


# --------------------------------------------------------------------------- training

def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mild noise and blur, so that the predictor also reads a GAN's softer images."""
    n = images.shape[0]
    blur = torch.rand(n, generator=generator) < 0.3
    if blur.any():
        soft = F.interpolate(F.avg_pool2d(images[blur], 2), scale_factor=2, mode="bilinear", align_corners=False)
        images = images.clone()
        images[blur] = soft
    sigma = 0.04 * torch.rand(n, 1, 1, 1, generator=generator)
    return images + sigma * torch.randn(images.shape, generator=generator)


def train_rooms_predictor(out_path, *, steps: int = 3000, batch_size: int = 64, seed: int = 0,
                          lr: float = 3e-3, progress: Progress | None = None,
                          should_stop: ShouldStop | None = None, threads: int | None = 1,
                          eval_n: int = 1000) -> dict:
    """Train a :class:`RoomsPredictor` on freshly rendered rooms and save it.

    Every step renders a new batch (the data never repeats). Training uses
    one CPU thread by default (``threads``), leaving the other cores to other
    work; the previous thread count is restored afterwards.

    Parameters
    ----------
    out_path : path
        Where to save (atomically) the weights and metadata.
    steps, batch_size, seed, lr
        Optimisation: AdamW with a one-cycle learning-rate schedule.
    progress : callable(fraction, message), optional
    should_stop : callable() -> bool, optional
        Checked every step; when it returns true, training stops and the
        model trained so far is evaluated and saved.
    eval_n : int
        Held-out rooms (seed :data:`EVAL_SEED`) for the evaluation stored in
        the file's metadata.

    Returns
    -------
    dict
        ``steps`` done, ``seconds``, ``stopped``, final ``loss`` and the
        held-out ``evaluation`` (see :func:`evaluate_predictor`).
    """
    if steps < 1 or batch_size < 2:
        raise ValueError(f"need steps >= 1 and batch_size >= 2, got {steps} and {batch_size}")
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = RoomsPredictor()
        model.train()
        data = torch.Generator().manual_seed(seed)
        noise = torch.Generator().manual_seed(seed + 1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.15)
        binary = torch.tensor([s.kind == "binary" for s in model.semantics])
        names = [s.name for s in model.semantics]
        start = time.perf_counter()
        loss_avg, done, stopped = None, 0, False
        for step in range(steps):
            if should_stop is not None and should_stop():
                stopped = True
                break
            params = sample_params(batch_size, data)
            images = _augment(render_rooms(params, model.input_resolution), noise)
            scores = scores_of(params)
            target = torch.stack([scores[k] for k in names], dim=1)
            target = (target - model.offset) / model.scale
            out = model.logits(images)
            loss_bin = F.binary_cross_entropy_with_logits(out[:, binary], target[:, binary])
            loss_reg = F.mse_loss(out[:, ~binary], target[:, ~binary])
            loss = loss_bin + 10.0 * loss_reg   # 10: continuous errors of ~0.1 matter as much as a wrong coin
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            done = step + 1
            loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
            if progress is not None and (done % 10 == 0 or done == steps):
                rate = done * batch_size / (time.perf_counter() - start)
                progress(done / steps, f"step {done}/{steps}, loss {loss_avg:.4f}, {rate:.0f} images/s")
        model.eval()
        evaluation = evaluate_predictor(model, n=eval_n)
        seconds = time.perf_counter() - start
        info = {"steps": done, "batch_size": batch_size, "seed": seed, "lr": lr, "seconds": round(seconds, 1),
                "threads": torch.get_num_threads(), "stopped": stopped,
                "loss": None if loss_avg is None else round(loss_avg, 5), "evaluation": evaluation}
        model.save(out_path, extra=info)
        return info
    finally:
        torch.set_num_threads(previous_threads)


# --------------------------------------------------------------------------- evaluation

def evaluate_predictor(predictor, n: int = 2000, seed: int = EVAL_SEED, *, resolution: int = 64,
                       batch_size: int = 250) -> dict:
    """Score held-out rendered rooms and compare with the truth.

    Parameters
    ----------
    predictor
        Anything following :class:`Predictor` that scores semantics of
        :mod:`strata.engine.rooms.semantics` (others are ignored).
    n, seed
        How many rooms, drawn as ``sample_params(n, Generator().manual_seed(seed))``
        (training draws from its own seed's stream, never from :data:`EVAL_SEED`'s).
    resolution
        Size the rooms are rendered at (the predictor resizes them).

    Returns
    -------
    dict
        ``{"n", "seed", "resolution", "semantics": {name: {"level", "kind",
        "metric", "value"}}}``: metric ``"accuracy"`` (threshold 0.5) for
        binary semantics, ``"r2"`` for continuous ones. A semantic that shows
        only with another (``bedding_hue`` needs a ``bed``, see
        :data:`strata.engine.rooms.semantics.REQUIRES`) also gets ``"given"`` (that semantic),
        ``"value_given"`` (the metric over rooms that have it) and ``"n_given"``.
    """
    truth: dict[str, list] = {}
    pred: dict[str, list] = {}
    known = {s.name for s in SEMANTICS}
    specs = [s for s in predictor.semantics if s.name in known]
    rooms = sample_params(n, torch.Generator().manual_seed(seed))
    for start in range(0, n, batch_size):
        part = rooms.select(slice(start, start + batch_size))
        out = predictor.predict(render_rooms(part, resolution))
        true = scores_of(part)
        for s in specs:
            truth.setdefault(s.name, []).append(true[s.name].float().cpu())
            pred.setdefault(s.name, []).append(out[s.name].float().cpu())
    def metric(kind: str, y: torch.Tensor, p: torch.Tensor) -> float:
        if kind == "binary":
            return round(((p > 0.5).float() == y).float().mean().item(), 4)
        return round((1.0 - ((p - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()).item(), 4)

    result = {"n": n, "seed": seed, "resolution": resolution, "semantics": {}}
    everything = scores_of(rooms)
    for s in specs:
        y, p = torch.cat(truth[s.name]), torch.cat(pred[s.name])
        entry = {"level": s.level, "kind": s.kind, "metric": "accuracy" if s.kind == "binary" else "r2",
                 "value": metric(s.kind, y, p)}
        given = REQUIRES.get(s.name)
        if given is not None:
            shows = everything[given].cpu() > 0.5
            entry.update(given=given, n_given=int(shows.sum()), value_given=metric(s.kind, y[shows], p[shows]))
        result["semantics"][s.name] = entry
    return result


def report_markdown(result: Mapping) -> str:
    """A Markdown table of :func:`evaluate_predictor`'s result."""
    lines = [f"Held-out rooms: n = {result['n']}, seed {result['seed']}, rendered at "
             f"{result['resolution']}x{result['resolution']}.", "",
             "| level | semantic | kind | metric | value |", "|---|---|---|---|---:|"]
    notes = []
    for name, r in result["semantics"].items():
        value = f"{r['value']:.3f}"
        if "given" in r:
            value += f" ({r['value_given']:.3f} with a {r['given']})"
            notes.append(f"`{name}` shows only when there is a {r['given']}; the value in brackets is over "
                         f"the {r['n_given']} rooms that have one.")
        lines.append(f"| {r['level']} | `{name}` | {r['kind']} | {'accuracy' if r['metric'] == 'accuracy' else 'R²'} "
                     f"| {value} |")
    return "\n".join(lines + ([""] + notes if notes else []))
