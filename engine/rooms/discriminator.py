"""A residual discriminator for training Strata's StyleGAN generators.

Only training needs it; the editor never loads one. Equalized learning rate as
in the generator, a minibatch standard-deviation feature at 4x4 so that the
generator is pushed toward diversity, and a single logit out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Discriminator"]


class _EqConv(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, *, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class _EqLinear(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale = 1.0 / math.sqrt(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def _act(x: torch.Tensor) -> torch.Tensor:
    # sqrt(2) keeps the activations' scale with leaky ReLU, as in StyleGAN.
    return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


class _Block(nn.Module):
    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv0 = _EqConv(in_ch, in_ch, 3)
        self.conv1 = _EqConv(in_ch, out_ch, 3)
        self.skip = _EqConv(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _act(self.conv0(x))
        y = F.avg_pool2d(_act(self.conv1(y)), 2)
        s = self.skip(F.avg_pool2d(x, 2))
        return (y + s) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """Parameters
    ----------
    resolution : int
        Input size, a power of two.
    channels : dict[int, int]
        Channels at each resolution, e.g. ``{64: 32, 32: 64, 16: 128, 8: 128, 4: 128}``.
    mbstd_group : int
        Group size of the minibatch standard-deviation feature.
    """

    def __init__(self, resolution: int, channels: dict[int, int], *, mbstd_group: int = 4):
        super().__init__()
        self.resolution = resolution
        self.mbstd_group = mbstd_group
        self.from_rgb = _EqConv(3, channels[resolution], 1)
        blocks = []
        res = resolution
        while res > 4:
            blocks.append(_Block(channels[res], channels[res // 2]))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels[4]
        self.conv = _EqConv(c4 + 1, c4, 3)
        self.fc = _EqLinear(c4 * 16, c4)
        self.out = _EqLinear(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if img.shape[1:] != (3, self.resolution, self.resolution):
            raise ValueError(f"expected images [N, 3, {self.resolution}, {self.resolution}], got {list(img.shape)}")
        x = self.blocks(_act(self.from_rgb(img)))
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        while n % g:
            g -= 1
        std = x.view(g, -1, c, h, w).var(dim=0, unbiased=False).add(1e-8).sqrt()
        std = std.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, h, w)
        x = _act(self.conv(torch.cat([x, std], dim=1)))
        return self.out(_act(self.fc(x.flatten(1))))
