"""HiGAN's StyleGAN2 release read onto :class:`~strata.engine.core.stylegan2.StyleGAN2Generator`.

``stylegan2_church256_generator.pth`` is the state dict of genforce's
``StyleGAN2GeneratorNet`` (skip architecture, fused modulation), saved without
the buffer ``truncation.truncation``:

- ``mapping.dense{i}.fc.weight`` / ``.bias``: pixel norm, then equalized-lr
  dense layers (lr multiplier 0.01, gain 1) with a leaky ReLU scaled by sqrt(2);
- ``truncation.w_avg``: the mean w;
- ``synthesis.early_layer.const``: the learned 4x4 input;
- ``synthesis.layer{i}``: modulated 3x3 convs (``weight`` ``[3, 3, in, out]``,
  ``style.fc.weight``, ``style.bias``, ``bias``, scalar ``noise_strength``,
  stored ``noise``); odd layers up-sample, with a 4x4 FIR ``filter.kernel``;
- ``synthesis.output{k}``: the to-RGB of each resolution (``weight``
  ``[1, 1, in, 3]``), its image added to the up-sampled previous one
  (``synthesis.upsample.kernel``).

W+ entry ``i`` drives ``layer{i}``; ``output{k}`` reads entry ``2k + 1``.

Why a translation and not a class of its own: the two layouts compute the same
function and differ only in how parameters are stored, each difference undone
once on reading:

- conv weights are ``[k, k, in, out]`` here, ``[1, out, in, k, k]`` in the port;
- genforce runs the up-sampling conv as a transposed conv of the spatially
  flipped kernel, the port of the kernel as stored: the kernel is flipped;
- genforce adds a constant 1 to the style dense layer's output, the port keeps
  that 1 in the layer's bias;
- genforce correlates with its FIR kernels, the port convolves (flipped);
- noise strength is a 0-d tensor here, ``[1]`` in the port.

The mapping's normalization, the lr and bias multipliers, noise, the const
input, demodulation and the skip up-sampling (pads, gain 4) are the same; the
reference fixture ``../shared/fixtures/genforce_stylegan2`` checks every output.
HiGAN truncates these models with psi 0.5 on every layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from strata.engine.core.errors import ModelLoadError
from strata.engine.core.stylegan2 import StyleGAN2Config

__all__ = ["is_genforce_stylegan2", "translate"]

_INIT_RES = 4
_PSI = 0.5  # HiGAN's StyleGAN2 setting, on every layer
_IGNORED = ("truncation.truncation",)  # rebuilt from psi; HiGAN's converter drops it


def is_genforce_stylegan2(state: Mapping[str, object]) -> bool:
    """Whether a state dict has the keys of genforce's StyleGAN2 generator."""
    return "mapping.dense0.fc.weight" in state and "synthesis.early_layer.const" in state


def _tensor(state: Mapping, key: str, path: Path) -> torch.Tensor:
    if key not in state:
        raise ModelLoadError(f"{path}: missing key {key} (HiGAN's StyleGAN2 layout has it)")
    return state[key]


def _infer(state: Mapping, path: Path) -> StyleGAN2Config:
    """Every size from keys and shapes; the shapes of the rest are checked by :func:`_expected`."""
    if any(".skip_layer" in k or k.startswith("synthesis.skip") for k in state):
        raise ModelLoadError(f"{path}: a StyleGAN2 'resnet' generator in HiGAN's layout; "
                             "Strata reads the 'skip' architecture HiGAN's models use")
    n_map = 0
    while f"mapping.dense{n_map}.fc.weight" in state:
        n_map += 1
    last = _tensor(state, f"mapping.dense{n_map - 1}.fc.weight", path)
    const = _tensor(state, "synthesis.early_layer.const", path)
    n_conv = 0
    while f"synthesis.layer{n_conv}.weight" in state:
        n_conv += 1
    n_out = 0
    while f"synthesis.output{n_out}.weight" in state:
        n_out += 1
    n_res = (n_conv + 1) // 2
    if n_conv < 3 or n_conv % 2 == 0:
        raise ModelLoadError(f"{path}: missing key synthesis.layer{n_conv}.weight "
                             f"(found {n_conv} conv layers; HiGAN's StyleGAN2 has 2 per resolution less one)")
    if n_out == 1 and n_res > 1:
        raise ModelLoadError(f"{path}: a StyleGAN2 'origin' generator in HiGAN's layout (one to-RGB); "
                             "Strata reads the 'skip' architecture HiGAN's models use")
    if n_out < n_res:
        raise ModelLoadError(f"{path}: missing key synthesis.output{n_out}.weight")
    if last.ndim != 2:
        raise ModelLoadError(f"{path}: mapping.dense{n_map - 1}.fc.weight has shape "
                             f"{list(last.shape)}, expected [w_dim, w_dim]")
    if const.ndim != 4:
        raise ModelLoadError(f"{path}: synthesis.early_layer.const has shape {list(const.shape)}, "
                             "expected [1, channels, 4, 4]")
    channels = [int(const.shape[1])]
    for b in range(1, n_res):
        weight = state[f"synthesis.layer{2 * b - 1}.weight"]
        if weight.ndim != 4:
            raise ModelLoadError(f"{path}: synthesis.layer{2 * b - 1}.weight has shape "
                                 f"{list(weight.shape)}, expected [3, 3, in, out]")
        channels.append(int(weight.shape[3]))
    rgb = _tensor(state, "synthesis.output0.weight", path)
    if rgb.ndim != 4:
        raise ModelLoadError(f"{path}: synthesis.output0.weight has shape {list(rgb.shape)}, "
                             "expected [1, 1, in, image channels]")
    try:
        return StyleGAN2Config(resolution=_INIT_RES * 2 ** (n_res - 1), w_dim=int(last.shape[0]),
                               mapping_layers=n_map, channels=tuple(channels),
                               image_channels=int(rgb.shape[3]), truncation_psi=_PSI)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: not a StyleGAN2 generator Strata can build: {exc}") from None


def _expected(cfg: StyleGAN2Config) -> dict[str, tuple[int, ...]]:
    """Every key of the layout with its shape, for ``cfg``."""
    w, c, img = cfg.w_dim, cfg.channels, cfg.image_channels
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(cfg.mapping_layers):
        # The port's mapping keeps every layer w_dim wide (z too).
        shapes[f"mapping.dense{i}.fc.weight"] = (w, w)
        shapes[f"mapping.dense{i}.bias"] = (w,)
    shapes["truncation.w_avg"] = (w,)
    shapes["synthesis.early_layer.const"] = (1, c[0], _INIT_RES, _INIT_RES)
    for i in range(2 * len(c) - 1):
        b = (i + 1) // 2  # the resolution index the layer draws at
        cin, cout, res = c[max(b - (i % 2), 0)], c[b], _INIT_RES * 2**b
        p = f"synthesis.layer{i}"
        shapes.update({f"{p}.weight": (3, 3, cin, cout), f"{p}.bias": (cout,),
                       f"{p}.noise_strength": (), f"{p}.noise": (1, 1, res, res),
                       f"{p}.style.fc.weight": (cin, w), f"{p}.style.bias": (cin,)})
        if i % 2:
            shapes[f"{p}.filter.kernel"] = (1, 1, 4, 4)
    for k in range(len(c)):
        p = f"synthesis.output{k}"
        shapes.update({f"{p}.weight": (1, 1, c[k], img), f"{p}.bias": (img,),
                       f"{p}.style.fc.weight": (c[k], w), f"{p}.style.bias": (c[k],)})
    shapes["synthesis.upsample.kernel"] = (1, 1, 4, 4)
    return shapes


def _check(state: Mapping, cfg: StyleGAN2Config, path: Path) -> None:
    expected = _expected(cfg)
    for key, shape in expected.items():
        t = _tensor(state, key, path)
        if tuple(t.shape) != shape:
            raise ModelLoadError(f"{path}: {key} has shape {list(t.shape)}, expected {list(shape)}")
        if not t.is_floating_point():
            raise ModelLoadError(f"{path}: {key} holds {t.dtype}, not floating-point weights")
        if not torch.isfinite(t).all():
            raise ModelLoadError(f"{path}: {key} holds NaN or infinite values")
    unexpected = [k for k in state if k not in expected and k not in _IGNORED]
    if unexpected:
        raise ModelLoadError(f"{path}: unexpected key {unexpected[0]} for HiGAN's StyleGAN2 layout "
                             f"({len(unexpected)} in all)")


def _modconv(src: dict, dst: str, *, flip: bool = False) -> dict[str, torch.Tensor]:
    weight = src["weight"].permute(3, 2, 0, 1)  # [k, k, in, out] -> [out, in, k, k]
    if flip:
        weight = weight.flip(2, 3)
    return {f"{dst}.weight": weight.unsqueeze(0).contiguous(),
            f"{dst}.modulation.weight": src["style.fc.weight"],
            f"{dst}.modulation.bias": src["style.bias"] + 1.0}


def _fir(kernel: torch.Tensor) -> torch.Tensor:
    return kernel[0, 0].flip(0, 1).contiguous()


def translate(state: Mapping[str, torch.Tensor], path: str | Path) -> tuple[StyleGAN2Config, dict[str, torch.Tensor]]:
    """The configuration, and the state dict in the port's layout (``latent_avg`` included).

    Raises
    ------
    ModelLoadError
        One line naming the file and the key: missing, of the wrong shape, or
        not finite; or an architecture other than 'skip'.
    """
    path = Path(path)
    cfg = _infer(state, path)
    _check(state, cfg, path)

    def layer(prefix: str) -> dict[str, torch.Tensor]:
        n = len(prefix) + 1
        return {k[n:]: v.float() for k, v in state.items() if k.startswith(prefix + ".")}

    out: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        out[f"style.{i + 1}.weight"] = state[f"mapping.dense{i}.fc.weight"].float()
        out[f"style.{i + 1}.bias"] = state[f"mapping.dense{i}.bias"].float()
    out["latent_avg"] = state["truncation.w_avg"].float()
    out["input.input"] = state["synthesis.early_layer.const"].float()

    def conv(i: int, dst: str) -> None:
        src = layer(f"synthesis.layer{i}")
        out.update(_modconv(src, f"{dst}.conv", flip=bool(i % 2)))
        out[f"{dst}.noise.weight"] = src["noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = src["bias"]
        out[f"noises.noise_{i}"] = src["noise"]
        if i % 2:
            out[f"{dst}.conv.blur.kernel"] = _fir(src["filter.kernel"])

    def to_rgb(k: int, dst: str) -> None:
        src = layer(f"synthesis.output{k}")
        out.update(_modconv(src, f"{dst}.conv"))
        out[f"{dst}.bias"] = src["bias"].view(1, -1, 1, 1)
        if k:
            out[f"{dst}.upsample.kernel"] = _fir(state["synthesis.upsample.kernel"].float())

    conv(0, "conv1")
    to_rgb(0, "to_rgb1")
    for k in range(len(cfg.channels) - 1):
        conv(2 * k + 1, f"convs.{2 * k}")
        conv(2 * k + 2, f"convs.{2 * k + 1}")
        to_rgb(k + 1, f"to_rgbs.{k}")
    return cfg, out
