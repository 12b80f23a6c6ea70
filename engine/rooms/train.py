"""Adversarial training of a StyleGAN generator on an image source.

A plain function with ``progress`` and ``should_stop`` callbacks; ``strata
train`` wraps it with tqdm. What lets a layer-wise hierarchy form and keeps
training stable, as in the StyleGAN papers:

- style mixing regularization: two codes, switched at a random layer, for
  most batches, so that layers learn to act independently;
- the non-saturating logistic loss, with lazy R1 on real images;
- an exponential moving average of the generator's weights (the EMA is what
  is saved and edited);
- ``w_avg`` tracked as a running mean of mapped codes, for truncation.

The generator is StyleGAN (v1, HiGAN's layout: AdaIN, one to-RGB at the top)
by default, or StyleGAN2 (``architecture="stylegan2"``, the rosinality
layout: weight demodulation instead of instance norm, and a skip generator
whose to-RGB outputs at every resolution are summed), the two classes the
editor opens. Both train against the same residual discriminator.

Checkpoints (everything needed to resume) are written atomically to the run
folder; sample grids of a fixed set of codes are written beside them.
"""

from __future__ import annotations

import copy
import io
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.errors import StrataError
from strata.engine.core.jobs import Progress, ShouldStop
from strata.engine.core.models import save_generator
from strata.engine.core.render import to_uint8
from strata.engine.core.stylegan import StyleGANConfig, StyleGANGenerator
from strata.engine.core.stylegan2 import StyleGAN2Config, StyleGAN2Generator
from strata.engine.discovery.predictors import PredictorError, resolve_predictor
from strata.engine.rooms.data_parallel import Group, free_port, join_group, leave_group
from strata.engine.rooms.discriminator import Discriminator
from strata.engine.rooms.feature_d import FeatureDiscriminator
from strata.engine.rooms.frequency_match import FrequencyMatch
from strata.engine.rooms.predictor import RoomsPredictor

__all__ = ["TrainConfig", "train", "train_step", "build_state", "make_generator", "rooms_source", "image_grid"]

ARCHITECTURES = ("stylegan", "stylegan2")
AnyGenerator = StyleGANGenerator | StyleGAN2Generator

ImageSource = Callable[[int, int], torch.Tensor]  # (n, seed) -> [n, 3, H, W] in [-1, 1]


@dataclass(frozen=True)
class TrainConfig:
    resolution: int = 64
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    architecture: str = "stylegan"  # or "stylegan2"
    channels: tuple[int, ...] = (128, 128, 128, 64, 32)  # 4, 8, 16, 32, 64 px
    d_channels: tuple[int, ...] = (128, 128, 128, 64, 32)
    batch_size: int = 32
    total_kimg: float = 300.0  # thousands of real images shown to D
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.2
    r1_every: int = 16  # lazy regularization
    mixing_prob: float = 0.9
    ema_kimg: float = 10.0  # half-life of the weight average, in thousands of images
    ema_rampup: float = 0.05  # half-life <= this fraction of images seen so far
    w_avg_beta: float = 0.995
    truncation_psi: float = 0.7
    truncation_layers: int = 6
    # Progressive growing as StyleGAN v1 was trained (0: off, the whole resolution from the start):
    # thousands of images at each resolution from `progressive_from` px, then as many fading in the next.
    progressive_kimg: float = 0.0
    progressive_from: int = 8
    # A second discriminator on a frozen predictor's features ("vision-aided" GAN; engine/feature_d.py):
    # the registered predictor's name, "" for none, and the weight of its loss beside the pixel D's.
    feature_d: str = ""
    feature_d_weight: float = 1.0
    # Frequency matching (engine/frequency_match.py): a registered predictor's name or a predictor
    # file whose binary semantics' rates on generated images are pulled toward the real images'
    # ("" for none), and the weight of that term in G's loss.
    match_frequencies: str = ""
    match_weight: float = 10.0
    seed: int = 0
    checkpoint_every: int = 200  # steps
    sample_every: int = 200

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        if self.architecture == "stylegan2":
            if self.z_dim != self.w_dim:  # the rosinality layout maps z to w at one width
                raise ValueError(f"StyleGAN2 needs z_dim == w_dim, got {self.z_dim} and {self.w_dim}")
            if self.progressive_kimg > 0:  # its skip generator replaces progressive growing
                raise ValueError("StyleGAN2 trains without progressive growing (progressive_kimg must be 0)")
        if not (math.isfinite(self.feature_d_weight) and self.feature_d_weight > 0):
            raise ValueError(f"feature_d_weight must be positive, got {self.feature_d_weight!r}")
        if not (math.isfinite(self.match_weight) and self.match_weight > 0):
            raise ValueError(f"match_weight must be positive, got {self.match_weight!r}")

    def generator_config(self) -> StyleGANConfig | StyleGAN2Config:
        if self.architecture == "stylegan2":
            return StyleGAN2Config(
                resolution=self.resolution, w_dim=self.w_dim, mapping_layers=self.mapping_layers,
                channels=tuple(self.channels), truncation_layers=self.truncation_layers,
                truncation_psi=self.truncation_psi)
        return StyleGANConfig(
            resolution=self.resolution, z_dim=self.z_dim, w_dim=self.w_dim,
            mapping_layers=self.mapping_layers, mapping_hidden=self.w_dim,
            channels=tuple(self.channels), fused=(False,) * (len(self.channels) - 1),
            truncation_layers=self.truncation_layers, truncation_psi=self.truncation_psi)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def make_generator(cfg: TrainConfig) -> AnyGenerator:
    """A freshly initialized generator of the run's architecture."""
    gcfg = cfg.generator_config()
    return StyleGAN2Generator(gcfg) if cfg.architecture == "stylegan2" else StyleGANGenerator(gcfg)


def lod_at(cfg: TrainConfig, nimg: int) -> float:
    """Level of detail after ``nimg`` images (StyleGAN v1's schedule): log2(resolution / shown
    resolution), fractional while the next resolution fades in; 0 without progressive growing."""
    if cfg.progressive_kimg <= 0:
        return 0.0
    start = math.log2(cfg.resolution) - math.log2(max(4, min(cfg.progressive_from, cfg.resolution)))
    phase_kimg = 2 * cfg.progressive_kimg
    kimg = nimg / 1000
    phase = math.floor(kimg / phase_kimg)
    into = kimg - phase * phase_kimg
    lod = start - phase - max(into - cfg.progressive_kimg, 0.0) / cfg.progressive_kimg
    return max(lod, 0.0)


def blur_to_lod(images: torch.Tensor, lod: float) -> torch.Tensor:
    """Real images as the generator draws them at ``lod``: averaged down to the shown
    resolution (faded with the next one down while ``lod`` is fractional), then blown up
    again (nearest) to full size, so that D compares like with like."""
    if lod <= 0:
        return images
    whole = math.floor(lod)
    t = lod - whole
    x = F.avg_pool2d(images, 2 ** whole) if whole else images
    if t > 0:
        x = torch.lerp(x, F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), t)
    return F.interpolate(x, scale_factor=2 ** whole, mode="nearest") if whole else x


def rooms_source(resolution: int) -> ImageSource:
    from strata.engine.rooms.render import sample_rooms

    def source(n: int, seed: int) -> torch.Tensor:
        return sample_rooms(n, seed, resolution=resolution)[0]

    return source


def image_grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """[N, 3, H, W] in [-1, 1] -> uint8 grid [rows*H, nrow*W, 3] with 2 px gaps."""
    x = torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2)
    n, _, h, w = x.shape
    rows = math.ceil(n / nrow)
    grid = torch.full((3, rows * (h + 2) + 2, nrow * (w + 2) + 2), 255, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        grid[:, 2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = x[i]
    return grid.permute(1, 2, 0).contiguous().numpy()


@dataclass
class _State:
    G: AnyGenerator
    G_ema: AnyGenerator
    D: Discriminator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    F_D: FeatureDiscriminator | None = None  # with cfg.feature_d
    opt_F: torch.optim.Optimizer | None = None
    step: int = 0
    nimg: int = 0
    seconds: float = 0.0
    log: list = field(default_factory=list)
    loss_F: float = float("nan")  # the feature discriminator's latest loss, for the log
    match: FrequencyMatch | None = None  # with cfg.match_frequencies; set up by _train_rank


def rooms_predictor(spec: str, use: str = "frequency matching") -> RoomsPredictor:
    """The :class:`RoomsPredictor` a training feature reads through (its trunk and heads): a
    registered name, or a predictor file (``.pth``) such as one trained with another seed
    (:func:`~strata.engine.discovery.predictors.resolve_predictor`); :class:`StrataError`,
    naming ``use``, if neither or not a rooms predictor."""
    try:
        pred = resolve_predictor(spec)
    except PredictorError as exc:
        raise StrataError(f"{use}: {exc}") from None
    if not isinstance(pred, RoomsPredictor):
        raise StrataError(f"{use}: predictor {spec!r} is not a RoomsPredictor")
    return pred


def _feature_discriminator(cfg: TrainConfig, device: torch.device) -> FeatureDiscriminator:
    return FeatureDiscriminator(rooms_predictor(cfg.feature_d, "feature discriminator")).to(device)


# Seed of the real images whose rates are the target (apart from every training batch's seed).
MATCH_TARGET_SEED = 987_654_321
MATCH_TARGET_IMAGES = 2048


def _frequency_match(cfg: TrainConfig, source: ImageSource, device: torch.device) -> FrequencyMatch:
    pred = rooms_predictor(cfg.match_frequencies).to(device)
    # The target is read by the same predictor from real images, so its own biases cancel.
    real = source(MATCH_TARGET_IMAGES, MATCH_TARGET_SEED).to(device)
    return FrequencyMatch.from_images(pred, real)


def build_state(cfg: TrainConfig, device: torch.device) -> _State:
    torch.manual_seed(cfg.seed)
    G = make_generator(cfg).to(device)
    G.set_noise_mode(True)
    d_channels = {cfg.resolution // 2**i: c for i, c in enumerate(reversed(cfg.d_channels))}
    D = Discriminator(cfg.resolution, d_channels).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    st = _State(G, G_ema, D, torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters()))
    if cfg.feature_d:
        torch.manual_seed(cfg.seed + 7)  # the head's start does not shift G's and D's
        st.F_D = _feature_discriminator(cfg, device)
        st.opt_F = torch.optim.Adam(st.F_D.parameters())
    _set_hyperparameters(st, cfg)
    return st


def _set_hyperparameters(st: _State, cfg: TrainConfig) -> None:
    """Adam's learning rates and betas from ``cfg``; also after a resume, whose optimizer
    state would otherwise bring back the old ones (``strata train RUN --lr`` must take effect)."""
    # Lazy R1: D's Adam sees a regularization step every r1_every steps; rescale as StyleGAN2 does.
    c = cfg.r1_every / (cfg.r1_every + 1)
    settings = [(st.opt_G, cfg.lr, tuple(cfg.betas)),
                (st.opt_D, cfg.lr * c, (cfg.betas[0] ** c, cfg.betas[1] ** c))]
    if st.opt_F is not None:  # no R1 on the feature head: its input is the frozen trunk's, already smooth
        settings.append((st.opt_F, cfg.lr, tuple(cfg.betas)))
    for opt, lr, betas in settings:
        for group in opt.param_groups:
            group["lr"], group["betas"] = lr, betas


def _mixed_wp(G: AnyGenerator, n: int, mixing_prob: float, w_avg_beta: float | None) -> torch.Tensor:
    dev = G.w_avg.device
    w = G.mapping(torch.randn(n, G.z_dim, device=dev))
    if w_avg_beta is not None:
        with torch.no_grad():
            G.w_avg.lerp_(w.detach().mean(0), 1 - w_avg_beta)
    wp = w.unsqueeze(1).repeat(1, G.num_layers, 1)
    if mixing_prob > 0:
        w2 = G.mapping(torch.randn(n, G.z_dim, device=dev))
        cut = torch.randint(1, G.num_layers, (n, 1, 1), device=dev)
        mix = (torch.rand(n, 1, 1, device=dev) < mixing_prob) & (torch.arange(G.num_layers, device=dev).view(1, -1, 1) >= cut)
        wp = torch.where(mix, w2.unsqueeze(1).expand_as(wp), wp)
    return wp


def _save_checkpoint(st: _State, cfg: TrainConfig, path: Path) -> None:
    buf = io.BytesIO()
    torch.save({
        "config": cfg.to_dict(), "step": st.step, "nimg": st.nimg, "seconds": st.seconds, "log": st.log,
        "G": st.G.state_dict(), "G_ema": st.G_ema.state_dict(), "D": st.D.state_dict(),
        "opt_G": st.opt_G.state_dict(), "opt_D": st.opt_D.state_dict(),
        "rng": torch.get_rng_state(),
        **({"F_D": st.F_D.state_dict(), "opt_F": st.opt_F.state_dict()} if st.F_D is not None else {}),
        **({"match_running": st.match.running}
           if st.match is not None and st.match.running is not None else {}),
    }, buf)
    atomic_write_bytes(path, buf.getvalue())


_CHECKPOINT_KEYS = ("config", "step", "nimg", "seconds", "log", "G", "G_ema", "D", "opt_G", "opt_D", "rng")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def read_checkpoint(path: str | Path) -> dict:
    """A run's ``checkpoint.pt`` (tensors only), or a :class:`StrataError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise StrataError(f"{path}: no checkpoint there (a run folder of `strata train` holds checkpoint.pt)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupt, or not a torch file
        raise StrataError(f"{path}: not a readable training checkpoint ({_first_line(exc)})") from exc
    missing = [k for k in _CHECKPOINT_KEYS if k not in ck] if isinstance(ck, dict) else list(_CHECKPOINT_KEYS)
    if missing:
        raise StrataError(f"{path}: not a checkpoint of `strata train` (missing {', '.join(missing)})")
    return ck


def load_config(path: str | Path) -> TrainConfig:
    """A run's ``config.json``, or a :class:`StrataError` naming the file and what is wrong."""
    import json
    path = Path(path)
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise StrataError(f"{path}: not a training configuration ({_first_line(exc)})") from exc


def _load_checkpoint(st: _State, path: Path) -> None:
    ck = read_checkpoint(path)
    try:
        st.G.load_state_dict(ck["G"])
        st.G_ema.load_state_dict(ck["G_ema"])
        st.D.load_state_dict(ck["D"])
        st.opt_G.load_state_dict(ck["opt_G"])
        st.opt_D.load_state_dict(ck["opt_D"])
        # A run that turns the feature discriminator on starts its head fresh; one that turns it off drops it.
        if st.F_D is not None and "F_D" in ck:
            st.F_D.load_state_dict(ck["F_D"])
            st.opt_F.load_state_dict(ck["opt_F"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise StrataError(f"{path}: its networks do not fit the run's configuration ({_first_line(exc)})") from exc
    st.step, st.nimg, st.seconds, st.log = ck["step"], ck["nimg"], ck["seconds"], list(ck["log"])
    torch.set_rng_state(ck["rng"])
    if st.match is not None and isinstance(ck.get("match_running"), torch.Tensor) \
            and ck["match_running"].shape == st.match.target.shape:
        st.match.running = ck["match_running"].to(st.match.target.device)


def export_checkpoint(run_dir: str | Path, out_model: str | Path, *, meta: dict | None = None,
                      psi: float | None = None) -> dict:
    """Write the averaged generator of a run's latest checkpoint in Strata's format.

    ``psi`` replaces the run's default truncation in the exported model: how far
    truncation can pull codes toward ``w_avg`` before samples lose objects differs
    from one trained model to the next, and the editor opens a model at its own.
    """
    if psi is not None and not (math.isfinite(psi) and 0 < psi <= 1):
        raise StrataError(f"the exported model's truncation psi must be in (0, 1], got {psi!r}")
    path = Path(run_dir) / "checkpoint.pt"
    ck = read_checkpoint(path)
    try:
        cfg = TrainConfig.from_dict(ck["config"])
        if psi is not None:
            cfg = replace(cfg, truncation_psi=float(psi))
        G = make_generator(cfg)
        G.load_state_dict(ck["G_ema"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise StrataError(f"{path}: its averaged generator does not fit its configuration ({_first_line(exc)})") from exc
    G.set_noise_mode(False)
    info = {"training_kimg": ck["nimg"] / 1000, "training_seconds": round(ck["seconds"]),
            "training_steps": ck["step"], "train_config": cfg.to_dict()}
    save_generator(G, out_model, meta={**info, **(meta or {})})
    return info


def train_step(st: _State, cfg: TrainConfig, real: torch.Tensor, group: Group = Group()
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One D step (with lazy R1), one G step and the weight average, on a batch of real images.

    With a ``group`` of N processes, ``real`` is this process's share of the
    batch and gradients are averaged after every backward pass. Returns the
    detached local losses (D, G, R1). Split from the loop so that
    benchmarks/bench_train.py times exactly what training runs.
    """
    B = real.shape[0]
    G, D = st.G, st.D
    if not torch.isfinite(real).all():  # one bad image must not poison D's weights
        real = torch.nan_to_num(real, nan=0.0, posinf=1.0, neginf=-1.0)

    # --- D step
    G.requires_grad_(False); D.requires_grad_(True)
    with torch.no_grad():
        fake = G.synthesize(_mixed_wp(G, B, cfg.mixing_prob, None))
    loss_D = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
    st.opt_D.zero_grad(set_to_none=True)
    if st.F_D is not None:
        st.F_D.requires_grad_(True)
        loss_F = F.softplus(st.F_D(fake)).mean() + F.softplus(-st.F_D(real)).mean()
        st.opt_F.zero_grad(set_to_none=True)
        (loss_D + cfg.feature_d_weight * loss_F).backward()
        group.average_grads(st.F_D.parameters())
        st.opt_F.step()
        st.loss_F = float(loss_F.detach())
    else:
        loss_D.backward()
    group.average_grads(D.parameters())
    st.opt_D.step()
    r1 = torch.zeros(())
    if st.step % cfg.r1_every == 0:
        real_r = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(D(real_r).sum(), real_r, create_graph=True)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        st.opt_D.zero_grad(set_to_none=True)
        (r1 * (cfg.r1_gamma / 2) * cfg.r1_every).backward()
        group.average_grads(D.parameters())
        st.opt_D.step()

    # --- G step
    G.requires_grad_(True); D.requires_grad_(False)
    fake = G.synthesize(_mixed_wp(G, B, cfg.mixing_prob, cfg.w_avg_beta))
    loss_G = F.softplus(-D(fake)).mean()
    if st.F_D is not None:
        st.F_D.requires_grad_(False)
        loss_G = loss_G + cfg.feature_d_weight * F.softplus(-st.F_D(fake)).mean()
    total_G = loss_G
    if st.match is not None:
        total_G = total_G + cfg.match_weight * st.match.loss(fake)
    st.opt_G.zero_grad(set_to_none=True)
    total_G.backward()
    group.average_grads(G.parameters())
    st.opt_G.step()
    group.average_(G.w_avg)  # each process tracked its own share of codes
    if st.match is not None:
        group.average_(st.match.running)  # and its own running rates

    # --- EMA of the weights (buffers, w_avg among them, are copied)
    st.nimg += B * group.world
    st.step += 1
    half_life = cfg.ema_kimg * 1000
    if cfg.ema_rampup:
        half_life = min(half_life, st.nimg * cfg.ema_rampup)
    beta = 0.5 ** (B * group.world / max(half_life, 1e-8))
    with torch.no_grad():
        for p_ema, p in zip(st.G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1 - beta)
        for b_ema, b in zip(st.G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)
    return loss_D.detach(), loss_G.detach(), r1.detach()


def train(run_dir: str | Path, cfg: TrainConfig = TrainConfig(), *,
          source: ImageSource | None = None, device: str | torch.device = "cpu",
          out_model: str | Path | None = None, meta: dict | None = None,
          progress: Progress | None = None, should_stop: ShouldStop | None = None,
          workers: int = 1, threads_per_worker: int = 1) -> dict:
    """Train (or resume) until ``cfg.total_kimg`` thousand real images were shown.

    Resumes from ``run_dir/checkpoint.pt`` when it exists. Returns a summary
    dict (steps, images seen, seconds). When finished and ``out_model`` is
    given, writes the averaged generator there in Strata's format.

    ``workers`` > 1 trains data-parallel on the CPU: this process is rank 0
    (it reports progress, decides when to stop, writes checkpoints and
    samples) and ``workers - 1`` spawned processes each take an equal share
    of every batch, with ``threads_per_worker`` torch threads each. A run can
    be resumed with a different number of workers. ``source`` must then be
    picklable (the rooms world when None).
    """
    if workers < 1 or cfg.batch_size % workers:
        raise ValueError(f"batch size {cfg.batch_size} does not split over {workers} workers")
    if workers == 1:
        return _train_rank(Group(), run_dir, cfg, source, device, out_model, meta, progress, should_stop)
    if torch.device(device).type != "cpu":
        raise ValueError("several training workers are for CPUs; on a GPU use one")
    ckpt = Path(run_dir) / "checkpoint.pt"
    if ckpt.exists():  # a bad checkpoint: one message from here, not a traceback from every worker
        _load_checkpoint(build_state(cfg, torch.device("cpu")), ckpt)
    import multiprocessing as mp
    port = free_port()
    ctx = mp.get_context("spawn")  # fork would copy this process's OpenMP and Qt state
    peers = [ctx.Process(target=_peer_main, args=(rank, workers, port, str(run_dir), cfg.to_dict(), source,
                                                   threads_per_worker), daemon=True)
             for rank in range(1, workers)]
    for p in peers:
        p.start()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads_per_worker)
    try:
        group = join_group(0, workers, port, peers_alive=lambda: all(p.is_alive() for p in peers))
        try:
            return _train_rank(group, run_dir, cfg, source, device, out_model, meta, progress, should_stop)
        finally:
            leave_group(group)
    finally:
        torch.set_num_threads(threads_before)  # the caller's setting (a test run, the GUI) comes back
        for p in peers:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()


def _peer_main(rank: int, world: int, port: int, run_dir: str, cfg: dict, source, threads: int) -> None:
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group; rank 0 decides
    torch.set_num_threads(threads)
    group = join_group(rank, world, port)
    try:
        _train_rank(group, run_dir, TrainConfig.from_dict(cfg), source, "cpu", None, None, None, None)
    finally:
        leave_group(group)


def _train_rank(group: Group, run_dir, cfg: TrainConfig, source: ImageSource | None, device,
                out_model, meta, progress: Progress | None, should_stop: ShouldStop | None) -> dict:
    lead = group.rank == 0
    run_dir = Path(run_dir)
    if lead:
        run_dir.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    source = source or rooms_source(cfg.resolution)
    st = build_state(cfg, device)  # the same seed: every process starts from the same weights
    if cfg.match_frequencies:
        st.match = _frequency_match(cfg, source, device)
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists():
        _load_checkpoint(st, ckpt)
        _set_hyperparameters(st, cfg)
    if group.rank:  # own noise and codes, not a copy of rank 0's
        torch.manual_seed(cfg.seed * 1_000_003 + st.step * 1009 + group.rank)
    if lead:
        atomic_write_bytes(run_dir / "config.json", __import__("json").dumps(cfg.to_dict(), indent=1).encode())
    fixed_z = torch.randn(16, cfg.z_dim, generator=torch.Generator().manual_seed(1234)).to(device)
    total = int(cfg.total_kimg * 1000)
    B = cfg.batch_size // group.world
    t_last = time.perf_counter()
    last_r1 = float("nan")  # none yet in this session of the run

    def sample_grid() -> None:
        from PIL import Image
        with torch.no_grad():
            st.G_ema.set_noise_mode(False)
            img = st.G_ema.synthesize(st.G_ema.truncate(st.G_ema.mapping(fixed_z), 1.0))
        buf = io.BytesIO()
        Image.fromarray(image_grid(img, 4)).save(buf, format="PNG")
        atomic_write_bytes(run_dir / f"samples_{st.nimg // 1000:06d}k.png", buf.getvalue())

    while st.nimg < total:
        if group.agree(lead and should_stop is not None and should_stop()):
            break
        # Real batches are seeded by the count of images seen (and the rank), so a resumed
        # run sees new rooms, whatever the number of workers before and now.
        real = source(B, cfg.seed * 1_000_003 + st.nimg + group.rank).to(device)
        if cfg.progressive_kimg > 0:
            lod = lod_at(cfg, st.nimg)
            st.G.synthesis.lod.fill_(lod)  # G_ema's copy follows with the other buffers
            real = blur_to_lod(real, lod)
        loss_D, loss_G, r1 = train_step(st, cfg, real, group)
        if r1 > 0:  # R1 runs every r1_every steps; the log keeps its latest value between them
            last_r1 = float(r1)

        now = time.perf_counter()
        st.seconds += now - t_last
        t_last = now
        if st.step % cfg.checkpoint_every == 0:
            group.check_same(st.G.parameters())
        if not lead:
            continue
        if st.step % 10 == 0:
            st.log.append({"step": st.step, "kimg": st.nimg / 1000, "loss_D": float(loss_D),
                           "loss_G": float(loss_G), "r1": last_r1, "seconds": round(st.seconds, 1),
                           **({"loss_F": st.loss_F} if st.F_D is not None else {}),
                           **({"freq_gap": st.match.gap()} if st.match is not None else {})})
        if progress is not None:
            progress(st.nimg / total, f"kimg {st.nimg / 1000:.1f}  D {float(loss_D):.3f}  G {float(loss_G):.3f}")
        if st.step % cfg.sample_every == 0:
            sample_grid()
        if st.step % cfg.checkpoint_every == 0:
            _save_checkpoint(st, cfg, ckpt)

    finished = st.nimg >= total
    if lead:
        _save_checkpoint(st, cfg, ckpt)
        sample_grid()
        if finished and out_model is not None:
            st.G_ema.set_noise_mode(False)
            info = {"training_kimg": st.nimg / 1000, "training_seconds": round(st.seconds),
                    "training_steps": st.step, "train_config": cfg.to_dict()}
            save_generator(st.G_ema, out_model, meta={**info, **(meta or {})})
    return {"finished": finished, "steps": st.step, "nimg": st.nimg, "seconds": st.seconds}
