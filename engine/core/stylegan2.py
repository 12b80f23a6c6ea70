"""StyleGAN2 generator in the parameter layout of the widely used PyTorch port
(rosinality/stylegan2-pytorch), so its converted checkpoints load by path.

Written from the published description of the format (key names, shapes and
the operations they feed), not from that code:

- mapping ``style.{1..n}``: pixel norm, then equalized-lr dense layers with
  lr_mul 0.01 and a biased leaky ReLU scaled by sqrt(2);
- synthesis: a learned constant ``input.input``, ``conv1`` and ``to_rgb1`` at
  4 px, then per resolution an up-sampling modulated conv (transposed conv,
  then a 4x4 FIR blur), a plain modulated conv and a to-RGB whose skip image
  is up-sampled with the same FIR filter;
- modulated convolution with weight demodulation (not in to-RGB); noise is a
  single learned scale per layer times a stored per-layer image.

W+ has ``2 * log2(resolution) - 2`` entries. Entry 0 drives ``conv1``; entry
``j >= 1`` drives ``convs[j - 1]`` and, being shared, the to-RGB that follows
the previous pair (``to_rgb1`` for entry 1, ``to_rgbs[k]`` for entry
``2k + 3``). The last entry drives only the last to-RGB.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from strata.engine.core._config_checks import pyramid_levels
from strata.engine.core.incremental import Step
from strata.engine.core.wplus import WPlusMixin

__all__ = ["StyleGAN2Config", "StyleGAN2Generator", "infer_config2"]

_INIT_RES = 4
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class StyleGAN2Config:
    resolution: int = 256
    w_dim: int = 512  # z and w share this size in this layout
    mapping_layers: int = 8
    channels: tuple[int, ...] = ()  # per resolution 4, 8, ..., resolution
    image_channels: int = 3
    truncation_psi: float = 0.7
    truncation_layers: int | None = None  # None: every W+ entry (this port's convention)

    def __post_init__(self) -> None:
        pyramid_levels(self.resolution, self.channels, smallest=8)

    @property
    def z_dim(self) -> int:
        return self.w_dim

    @property
    def num_layers(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StyleGAN2Config:
        d = dict(d)
        d["channels"] = tuple(int(c) for c in d["channels"])
        return cls(**d)


# --------------------------------------------------------------------------- blocks


def _fir_kernel(taps=(1.0, 3.0, 3.0, 1.0), gain: float = 1.0) -> torch.Tensor:
    k = torch.tensor(taps)
    k = torch.outer(k, k)
    return k / k.sum() * gain


def _fir(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Pad (before, after) on both axes, then filter each channel with ``kernel``
    as a true convolution (flipped; the binomial kernels here are symmetric)."""
    n, c, h, w = x.shape
    k = torch.flip(kernel, (0, 1)).to(x.dtype).expand(c, 1, *kernel.shape)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, k, groups=c)


def _upsample2(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
    """Zero-insertion up-sampling by 2, then the FIR filter (``upfirdn2d`` with up=2)."""
    n, c, h, w = x.shape
    y = x.new_zeros(n, c, h * 2, w * 2)
    y[:, :, ::2, ::2] = x
    # The zero-inserted image ends with a zero row/column after the last sample.
    return _fir(y, kernel, pad)


class _EqualLinear(nn.Module):
    """Equalized-lr dense layer; ``activate`` adds the bias inside a leaky ReLU scaled by sqrt(2)."""

    def __init__(self, in_dim: int, out_dim: int, *, lr_mul: float = 1.0, bias_init: float = 0.0,
                 activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return F.leaky_relu(F.linear(x, self.weight * self.scale) + self.bias * self.lr_mul, 0.2) * _SQRT2
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class _Mapping(nn.Module):
    """Keys ``style.1`` .. ``style.n`` (index 0 is the parameterless pixel norm)."""

    def __init__(self, w_dim: int, n: int):
        super().__init__()
        self.n = n
        for i in range(1, n + 1):
            self.add_module(str(i), _EqualLinear(w_dim, w_dim, lr_mul=0.01, activate=True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for i in range(1, self.n + 1):
            w = getattr(self, str(i))(w)
        return w


class _Blur(nn.Module):
    def __init__(self, pad: tuple[int, int], gain: float):
        super().__init__()
        self.pad = pad
        self.register_buffer("kernel", _fir_kernel(gain=gain))


class _ModulatedConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, k: int, w_dim: int, *, demodulate: bool = True,
                 upsample: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, k, k))
        self.modulation = _EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * k * k)
        self.demodulate = demodulate
        self.upsample = upsample
        self.k = k
        if upsample:
            # Transposed conv (3x3, stride 2) then the 4x4 filter with gain 4: pads (1, 1).
            self.blur = _Blur((1, 1), gain=4.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        n, c, h, wd = x.shape
        style = self.modulation(w).view(n, 1, c, 1, 1)
        weight = self.scale * self.weight * style  # [n, out, in, k, k]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        out_ch = weight.shape[1]
        x = x.reshape(1, n * c, h, wd)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(n * c, out_ch, self.k, self.k)
            x = F.conv_transpose2d(x, weight, stride=2, padding=0, groups=n)
            x = x.view(n, out_ch, x.shape[2], x.shape[3])
            return _fir(x, self.blur.kernel, self.blur.pad)
        x = F.conv2d(x, weight.reshape(n * out_ch, c, self.k, self.k), padding=self.k // 2, groups=n)
        return x.view(n, out_ch, h, wd)


class _Noise(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class _BiasLReLU(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * _SQRT2


class _StyledConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = _ModulatedConv(in_ch, out_ch, 3, w_dim, upsample=upsample)
        self.noise = _Noise()
        self.activate = _BiasLReLU(out_ch)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        x = self.conv(x, w)
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        x = x + self.noise.weight * noise
        return self.activate(x)


class _ToRGB(nn.Module):
    def __init__(self, in_ch: int, w_dim: int, image_channels: int, upsample: bool):
        super().__init__()
        if upsample:
            # Up-sampling by 2 with the 4x4 filter, gain 4: pads (2, 1).
            self.upsample = _Blur((2, 1), gain=4.0)
        self.conv = _ModulatedConv(in_ch, image_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, image_channels, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if skip is not None:
            out = out + _upsample2(skip, self.upsample.kernel, self.upsample.pad)
        return out


class _ConstInput(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, _INIT_RES, _INIT_RES))


# --------------------------------------------------------------------------- generator


class StyleGAN2Generator(WPlusMixin, nn.Module):
    """StyleGAN2 generator in the rosinality layout; fills :class:`strata.engine.core.protocol.Generator`."""

    architecture = "stylegan2"

    def __init__(self, config: StyleGAN2Config):
        super().__init__()
        self.config = config
        c, wd = config.channels, config.w_dim
        self.style = _Mapping(wd, config.mapping_layers)
        self.input = _ConstInput(c[0])
        self.conv1 = _StyledConv(c[0], c[0], wd)
        self.to_rgb1 = _ToRGB(c[0], wd, config.image_channels, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        for b in range(1, len(c)):
            self.convs.append(_StyledConv(c[b - 1], c[b], wd, upsample=True))
            self.convs.append(_StyledConv(c[b], c[b], wd))
            self.to_rgbs.append(_ToRGB(c[b], wd, config.image_channels, upsample=True))
        self.noises = nn.Module()
        for j in range(2 * len(c) - 1):
            res = _INIT_RES * 2 ** ((j + 1) // 2)
            self.noises.register_buffer(f"noise_{j}", torch.randn(1, 1, res, res))
        # Not in the file's g_ema: the loader fills it from 'latent_avg' or estimates it.
        self.register_buffer("latent_avg", torch.zeros(wd))
        self.randomize_noise = False  # editing keeps the stored noise

    # The small protocol shared with other architectures (see strata.engine.core.protocol).
    @property
    def layer_resolutions(self) -> tuple[int, ...]:
        # Entry j >= 1 is named by the conv it drives; the last by its to-RGB.
        res = [_INIT_RES] + [2 * _INIT_RES * 2 ** ((j - 1) // 2) for j in range(1, self.num_layers)]
        res[-1] = self.resolution
        return tuple(res)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.latent_avg

    def extra_repr(self) -> str:
        c = self.config
        return (f"resolution={c.resolution}, w_dim={c.w_dim}, num_layers={self.num_layers}, "
                f"channels={list(c.channels)}")

    def set_noise_mode(self, randomize: bool) -> None:
        self.randomize_noise = randomize

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        return self.style(z)

    @torch.no_grad()
    def estimate_w_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Mean of mapped random codes, for files that do not carry ``latent_avg``."""
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.z_dim, generator=g).to(self.device)
        return self.mapping(z).mean(0)

    def synthesis_token(self) -> tuple | None:
        return None if self.randomize_noise else ()  # fresh noise every call: nothing to keep

    def synthesis_plan(self) -> tuple[list[Step], Callable]:
        """The synthesis as steps for :meth:`synthesize`; the state is (features, skip image).
        Entry ``j >= 1`` is read by the to-RGB before ``convs[j - 1]`` and by that conv."""
        def noise(j):
            return None if self.randomize_noise else getattr(self.noises, f"noise_{j}")

        def conv(mod, j, first=False):
            if first:
                return Step(j, lambda state, wp: (mod(self.input.input.expand(wp.shape[0], -1, -1, -1),
                                                      wp[:, j], noise(j)), None))
            return Step(j, lambda state, wp: (mod(state[0], wp[:, j], noise(j)), state[1]))

        def rgb(mod, j):
            return Step(j, lambda state, wp: (state[0], mod(state[0], wp[:, j], state[1])))

        steps = [conv(self.conv1, 0, first=True), rgb(self.to_rgb1, 1)]
        for k, to_rgb in enumerate(self.to_rgbs):
            steps += [conv(self.convs[2 * k], 2 * k + 1), conv(self.convs[2 * k + 1], 2 * k + 2),
                      rgb(to_rgb, 2 * k + 3)]
        return steps, lambda state: state[1]



# --------------------------------------------------------------------------- inference


def infer_config2(state: dict[str, torch.Tensor]) -> StyleGAN2Config:
    """Read the configuration from the keys and shapes of a ``g_ema`` state dict.
    Raises ``KeyError``/``ValueError`` on anything else."""
    n_map = 0
    while f"style.{n_map + 1}.weight" in state:
        n_map += 1
    if n_map == 0:
        raise KeyError("style.1.weight")
    w_dim = int(state["style.1.weight"].shape[1])
    channels = [int(state["input.input"].shape[1])]
    k = 0
    while f"convs.{2 * k}.conv.weight" in state:
        channels.append(int(state[f"convs.{2 * k}.conv.weight"].shape[1]))
        k += 1
    image_channels = int(state["to_rgb1.conv.weight"].shape[1])
    return StyleGAN2Config(resolution=_INIT_RES * 2 ** (len(channels) - 1), w_dim=w_dim,
                           mapping_layers=n_map, channels=tuple(channels), image_channels=image_channels)
