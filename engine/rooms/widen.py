"""Widen a training run: more channels at some resolutions, the same images out.

A run that has plateaued for lack of capacity (thin layers at the highest
resolutions cannot draw small, sharp objects) need not start again from
nothing. Each new channel is added so that the networks compute exactly what
they computed before (a function-preserving widening, in the spirit of
Net2Net): old weights are copied, the weights *from* a new channel *into* an
old one are zero, and old weights are rescaled where the equalized learning
rate's runtime scale (1/sqrt(fan-in)) shrinks with the wider fan-in. The new
channels start learning from the first step: their outgoing weights get
gradients because their activations are not zero.

Both the generator (and its average) and the discriminator are widened; the
optimizers start afresh, since Adam's moments of a rescaled weight would be
stale. The widened run is a new run folder; the old one is left as it was.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import torch

from strata.engine.core.atomic import atomic_write_bytes
from strata.engine.core.errors import StrataError
from strata.engine.rooms.train import TrainConfig, _save_checkpoint, build_state, read_checkpoint

__all__ = ["widen_run", "widen_state_dict"]

# (pattern, out_dim, in_dim) for tensors whose channel dims change; anything else of
# another shape is rejected. Style-modulation tensors hold [scale | shift] halves.
_G_ROLES = (
    (r"synthesis\.layer\d+\.conv\.weight$", 0, 1),        # [out, in, 3, 3]
    (r"synthesis\.layer\d+\.weight$", 3, 2),              # fused up-sampling: [3, 3, in, out]
    (r"synthesis\.output\d+\.conv\.weight$", None, 1),    # to-RGB [3, in, 1, 1]
    (r"synthesis\.layer0\.const$", 1, None),              # [1, C, 4, 4]
    (r"\.epilogue\.(bias|apply_noise\.weight)$", 0, None),
    (r"\.blur\.kernel$", 0, None),                        # a fixed filter, per channel
    (r"\.style_mod\.dense\.(fc\.weight|wscale\.bias)$", "halves", None),
)
_D_ROLES = (
    (r"(from_rgb|conv0|conv1|skip)\.weight$", 0, 1),      # [out, in, k, k]
    (r"(from_rgb|conv0|conv1)\.bias$", 0, None),
)


def _role(key: str, roles) -> tuple:
    for pattern, out_dim, in_dim in roles:
        if re.search(pattern, key):
            return out_dim, in_dim
    return None, None


def widen_state_dict(old: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], roles) -> dict:
    """``fresh`` (a newly built wider network's state) with ``old``'s weights carried over so
    that the wider network computes the same function. ``roles`` says which dims of which
    tensors are output and input channels."""
    out = {}
    for key, new in fresh.items():
        if key not in old:
            raise StrataError(f"widening: the old network has no {key}")
        src = old[key]
        if src.shape == new.shape:
            out[key] = src.clone()
            continue
        out_dim, in_dim = _role(key, roles)
        if out_dim is None and in_dim is None:
            raise StrataError(f"widening: {key} changes shape {tuple(src.shape)} -> {tuple(new.shape)}, "
                              "which only channel widths may do")
        t = new.clone()
        if out_dim == "halves":  # [2C, ...]: rows [0:C] scale, [C:2C] shift
            c_old, c_new = src.shape[0] // 2, new.shape[0] // 2
            t[:c_old] = src[:c_old]
            t[c_new:c_new + c_old] = src[c_old:]
            out[key] = t
            continue
        for d in (out_dim, in_dim):
            if d is not None and new.shape[d] < src.shape[d]:
                raise StrataError(f"widening: {key} would lose channels ({src.shape[d]} -> {new.shape[d]})")
        index = tuple(slice(0, n) for n in src.shape)
        value = src
        if in_dim is not None and new.shape[in_dim] != src.shape[in_dim]:
            # The runtime scale is 1/sqrt(fan-in): keep scale * weight for the old inputs,
            # and let new inputs reach old outputs with weight 0.
            value = src * math.sqrt(new.shape[in_dim] / src.shape[in_dim])
            old_out = tuple(slice(0, src.shape[d]) if d == out_dim else slice(None) for d in range(new.dim()))
            block = list(old_out)
            block[in_dim] = slice(src.shape[in_dim], None)
            t[tuple(block)] = 0
        t[index] = value
        out[key] = t
    return out


def widen_run(src_run: str | Path, dst_run: str | Path, *, channels: tuple[int, ...],
              d_channels: tuple[int, ...] | None = None) -> TrainConfig:
    """Start ``dst_run`` from ``src_run``'s latest checkpoint with wider layers.

    ``channels`` (generator) and ``d_channels`` (discriminator, default the same) list the
    widths per resolution from 4 px; each must be at least the old width, and the width at
    4 px must stay (the discriminator's last layers depend on it). Images seen, steps and
    training time carry over. Returns the new run's configuration.
    """
    src_ckpt = Path(src_run) / "checkpoint.pt"
    dst_run = Path(dst_run)
    if (dst_run / "checkpoint.pt").exists():
        raise StrataError(f"{dst_run}: already holds a run; widen into a new folder")
    ck = read_checkpoint(src_ckpt)
    try:
        cfg = TrainConfig.from_dict(ck["config"])
    except (ValueError, TypeError, AttributeError) as exc:
        raise StrataError(f"{src_ckpt}: its configuration is not readable ({exc})") from exc
    if cfg.architecture != "stylegan":  # the roles below name StyleGAN (v1) parameters
        raise StrataError(f"widening {src_run}: only StyleGAN (v1) runs can be widened, this one is {cfg.architecture}")
    d_channels = tuple(d_channels or channels)
    for name, new, old in (("channels", tuple(channels), cfg.channels), ("d_channels", d_channels, cfg.d_channels)):
        if len(new) != len(old):
            raise StrataError(f"widening {src_run}: {name} needs {len(old)} widths (4 px to {cfg.resolution} px), "
                              f"got {len(new)}")
        if any(n < o for n, o in zip(new, old)):
            raise StrataError(f"widening {src_run}: {name} {list(new)} is narrower than the run's {list(old)}")
        if new[0] != old[0]:
            raise StrataError(f"widening {src_run}: the width at 4 px must stay {old[0]}")
    new_cfg = replace(cfg, channels=tuple(channels), d_channels=d_channels)
    st = build_state(new_cfg, torch.device("cpu"))
    for net, key, roles in ((st.G, "G", _G_ROLES), (st.G_ema, "G_ema", _G_ROLES), (st.D, "D", _D_ROLES)):
        net.load_state_dict(widen_state_dict(ck[key], net.state_dict(), roles))
    st.step, st.nimg, st.seconds = ck["step"], ck["nimg"], ck["seconds"]
    st.log = list(ck["log"])
    dst_run.mkdir(parents=True, exist_ok=True)
    # `strata train DST` resumes with the architecture in config.json; written first, so that
    # a widening cut short leaves no checkpoint and can simply be run again.
    atomic_write_bytes(dst_run / "config.json", json.dumps(new_cfg.to_dict(), indent=1).encode())
    _save_checkpoint(st, new_cfg, dst_run / "checkpoint.pt")
    return new_cfg
