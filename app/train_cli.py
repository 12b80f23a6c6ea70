"""``strata train``: train a StyleGAN on the rooms world (tqdm around strata.engine.rooms.train)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path


def _widths(text: str) -> tuple[int, ...]:
    """``--channels 128,128,64,32,16`` (argparse reports a ValueError as an invalid value)."""
    widths = tuple(int(c) for c in text.split(","))
    if any(c < 1 for c in widths):
        raise ValueError(text)
    return widths


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:  # also NaN
        raise ValueError(text)
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(text)
    return value


def _already_widened(run_dir: Path, channels, d_channels) -> bool:
    """True when RUN_DIR is a run with these widths: the same command then resumes it."""
    from strata.engine.rooms.train import load_config
    if not (run_dir / "checkpoint.pt").exists() or not (run_dir / "config.json").exists():
        return False
    cfg = load_config(run_dir / "config.json")
    return cfg.channels == channels and cfg.d_channels == (d_channels or channels)


def main(argv: list[str]) -> int:
    import torch
    from tqdm import tqdm

    from strata.engine.core.device import resolve_device
    from strata.engine.rooms.train import ARCHITECTURES, TrainConfig, load_config, train

    p = argparse.ArgumentParser(prog="strata train", description=(
        "Train a StyleGAN generator adversarially on the procedural rooms world. "
        "Resumes from RUN_DIR/checkpoint.pt; Ctrl+C stops after the current step with a checkpoint."))
    p.add_argument("run_dir", help="folder for checkpoints and sample grids (kept out of git)")
    p.add_argument("--kimg", type=float, default=None, help="thousands of real images to show (default from config)")
    p.add_argument("--resolution", type=int, default=64, choices=(32, 64, 128))
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--channels", type=_widths, default=None, help="generator channels per resolution from 4 px, e.g. 64,64,64,32,16")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (per worker when --workers > 1; default 1 then)")
    p.add_argument("--workers", type=int, default=1, help=(
        "CPU training processes, each with an equal share of every batch (data-parallel); "
        "on a small CPU, one per core trains faster than one process with several threads"))
    p.add_argument("--out", default=None, help="write the averaged generator here when finished")
    p.add_argument("--name", default="Rooms (trained demo)")
    p.add_argument("--device", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=_positive, default=None)
    p.add_argument("--ema-kimg", type=_non_negative, default=None, metavar="KIMG", help=(
        "half-life of the generator's weight average in thousands of images (default 10; "
        "a longer one smooths the late, noisy phase of a run)"))
    p.add_argument("--r1-gamma", type=_non_negative, default=None, metavar="GAMMA", help=(
        "weight of the R1 penalty on the discriminator's gradient at real images (default 0.2; "
        "StyleGAN2-ADA's rule of thumb 0.0002 * resolution^2 / batch gives 0.05 at 64 px and 16)"))
    p.add_argument("--feature-d", metavar="PREDICTOR", default=None, help=(
        "also train against a discriminator head on this registered predictor's frozen features "
        "('rooms'; a 'vision-aided' GAN, see docs/training.md), also when resuming a run; 'none' turns it off"))
    p.add_argument("--feature-d-weight", type=_positive, default=None, metavar="W",
                   help="weight of the feature discriminator's loss beside the pixel discriminator's (default 1)")
    p.add_argument("--match-frequencies", metavar="PREDICTOR", default=None, help=(
        "pull the generator's rate of each binary semantic (a bed, daylight) toward the real images' rate, "
        "as this registered predictor or predictor file (.pth) reads them; best another predictor than "
        "the one `strata evaluate` judges by (see docs/training.md); 'none' turns it off"))
    p.add_argument("--match-weight", type=_positive, default=None, metavar="W",
                   help="weight of the frequency matching term in the generator's loss (default 10)")
    p.add_argument("--arch", choices=ARCHITECTURES, default=None, help=(
        "generator of a new run: StyleGAN v1 as in HiGAN (default), or StyleGAN2 (weight demodulation, "
        "skip to-RGB at every resolution); a resumed run keeps its own"))
    p.add_argument("--progressive", type=float, default=None, metavar="KIMG", help=(
        "progressive growing, as StyleGAN v1 was trained: KIMG thousand images at each resolution "
        "from 8 px, and as many while the next one fades in (a new run; 0 = the whole resolution from the start)"))
    p.add_argument("--widen-from", metavar="RUN", default=None, help=(
        "start RUN_DIR from RUN's latest checkpoint with the wider --channels (and --d-channels), "
        "keeping what the networks compute; RUN is left as it was"))
    p.add_argument("--d-channels", type=_widths, default=None, help="discriminator channels per resolution from 4 px "
                   "(default: as --channels)")
    p.add_argument("--export", metavar="PTH", default=None,
                   help="write the averaged generator of the latest checkpoint to PTH and exit")
    p.add_argument("--psi", type=_positive, default=None, help=(
        "with --export: the exported model's default truncation (default: the run's, 0.7)"))
    args = p.parse_args(argv)
    if args.psi is not None and not args.export:
        p.error("--psi sets the default truncation of an exported model: use it with --export")
    meta = {"name": args.name, "description": "StyleGAN trained by `strata train` on the procedural rooms world"}
    if args.export:
        from strata.engine.rooms.train import export_checkpoint
        info = export_checkpoint(args.run_dir, args.export, meta=meta, psi=args.psi)
        print(f"wrote {args.export}: {info['training_kimg']:.1f} kimg, {info['training_steps']} steps, "
              f"{info['training_seconds'] / 60:.1f} min of training")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.widen_from and not _already_widened(Path(args.run_dir), args.channels, args.d_channels):
        from strata.engine.rooms.widen import widen_run
        if not args.channels:
            p.error("--widen-from needs the new --channels")
        new = widen_run(args.widen_from, args.run_dir, channels=args.channels,
                        d_channels=args.d_channels)
        print(f"widened {args.widen_from} into {args.run_dir}: generator {list(new.channels)}, "
              f"discriminator {list(new.d_channels)}")
    cfg_path = Path(args.run_dir) / "config.json"
    if cfg_path.exists():  # a resumed run keeps its architecture
        cfg = load_config(cfg_path)
        if args.arch is not None and args.arch != cfg.architecture:
            p.error(f"--arch {args.arch}: {args.run_dir} is a {cfg.architecture} run; "
                    "start a new run folder for another architecture")
    else:
        cfg = TrainConfig(resolution=args.resolution, seed=args.seed)
        if args.arch is not None:
            if args.arch == "stylegan2" and args.progressive:
                p.error("--progressive: StyleGAN2 trains at full resolution from the start")
            cfg = TrainConfig(**{**cfg.__dict__, "architecture": args.arch})
        if args.channels:
            ch = args.channels
            d_ch = args.d_channels or ch
            cfg = TrainConfig(**{**cfg.__dict__, "channels": ch, "d_channels": d_ch})
        if args.progressive is not None:
            cfg = TrainConfig(**{**cfg.__dict__, "progressive_kimg": args.progressive})
    changes = {}
    if args.kimg is not None:
        changes["total_kimg"] = args.kimg
    if args.batch is not None:
        changes["batch_size"] = args.batch
    if args.lr is not None:
        changes["lr"] = args.lr
    if args.r1_gamma is not None:
        changes["r1_gamma"] = args.r1_gamma
    if args.ema_kimg is not None:
        changes["ema_kimg"] = args.ema_kimg
    if args.feature_d is not None:
        changes["feature_d"] = "" if args.feature_d == "none" else args.feature_d
    if args.feature_d_weight is not None:
        changes["feature_d_weight"] = args.feature_d_weight
    if args.match_frequencies is not None:
        spec = args.match_frequencies
        # A file is kept in the run's config by its absolute path, so that a resume finds it from anywhere.
        changes["match_frequencies"] = ("" if spec == "none" else
                                        str(Path(spec).resolve()) if spec.endswith(".pth") else spec)
    if args.match_weight is not None:
        changes["match_weight"] = args.match_weight
    if changes:
        try:
            cfg = TrainConfig(**{**cfg.__dict__, **changes})
        except ValueError as exc:
            p.error(str(exc))
    if cfg.feature_d:
        from strata.engine.discovery.predictors import available_predictors
        if cfg.feature_d not in available_predictors():
            p.error(f"--feature-d {cfg.feature_d}: no such predictor (registered: {', '.join(available_predictors())})")
    if cfg.match_frequencies:
        from strata.engine.core.errors import StrataError
        from strata.engine.rooms.train import rooms_predictor
        try:
            rooms_predictor(cfg.match_frequencies)
        except StrataError as exc:
            p.error(f"--match-frequencies: {exc}")
    if args.workers < 1 or cfg.batch_size % args.workers:
        p.error(f"--workers {args.workers}: the batch of {cfg.batch_size} must split evenly over the workers")
    stop = {"flag": False}
    signal.signal(signal.SIGINT, lambda *a: stop.update(flag=True))
    signal.signal(signal.SIGTERM, lambda *a: stop.update(flag=True))
    bar = tqdm(total=1000, unit="‰", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def progress(frac: float, msg: str) -> None:
        bar.n = int(frac * 1000)
        bar.set_postfix_str(msg, refresh=False)
        bar.refresh()

    summary = train(args.run_dir, cfg, device=resolve_device(args.device), out_model=args.out,
                    meta=meta, progress=progress, should_stop=lambda: stop["flag"],
                    workers=args.workers, threads_per_worker=args.threads or 1)
    bar.close()
    state = "finished" if summary["finished"] else "stopped (resume with the same command)"
    print(f"{state}: {summary['steps']} steps, {summary['nimg'] / 1000:.1f} kimg, {summary['seconds'] / 60:.1f} min")
    return 0
