"""Alias-free resampling for StyleGAN3, in plain torch: FIR up/down-sampling
(``upfirdn2d``), the filtered leaky ReLU, and the Kaiser low-pass design.

Written from the StyleGAN3 paper (Karras et al. 2021, "Alias-Free Generative
Adversarial Networks", Appendices C-F) and the documented behaviour of
NVIDIA's reference operators:

- ``upfirdn2d``: insert ``up - 1`` zeros after every sample, pad (a negative
  pad crops), convolve with the FIR filter (a true convolution, so the
  filter is flipped) scaled by ``gain`` spread evenly over its axes, keep
  every ``down``-th sample. A 1-D filter is separable (rows, then columns).
- filtered leaky ReLU: bias, up-sample by ``up`` (gain ``up**2`` keeps the
  signal's magnitude), leaky ReLU times ``gain``, clamp, down-sample by ``down``.
- the low-pass filters: a windowed-sinc (or, radially symmetric, windowed
  jinc) with a Kaiser window whose beta follows Kaiser's empirical formulas
  for the transition band, normalised to unit DC gain.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["design_lowpass_filter", "filtered_lrelu", "upfirdn2d"]


def _fir_pass(x: torch.Tensor, f: torch.Tensor, down: tuple[int, int]) -> torch.Tensor:
    """Depthwise convolution with a 2-D kernel ``f`` [kh, kw] (already flipped and scaled);
    the stride keeps every ``down``-th output, the same samples as filtering then dropping."""
    c = x.shape[1]
    return F.conv2d(x, f.to(x.dtype).expand(c, 1, *f.shape).contiguous(), stride=down, groups=c)


def _upsample_pad(x: torch.Tensor, up: int, padding: tuple[int, int, int, int],
                  channels_last: bool) -> torch.Tensor:
    """Zero insertion (``up - 1`` zeros after each sample) and zero padding in one
    buffer; negative padding crops afterwards."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    ax0, ax1, ay0, ay1 = (max(p, 0) for p in padding)
    size = (h * up + ay0 + ay1, w * up + ax0 + ax1)
    if channels_last:
        y = x.new_zeros(n, *size, c).permute(0, 3, 1, 2)
    else:
        y = x.new_zeros(n, c, *size)
    y[:, :, ay0:ay0 + h * up:up, ax0:ax0 + w * up:up] = x
    return y[:, :, max(-py0, 0):size[0] - max(-py1, 0), max(-px0, 0):size[1] - max(-px1, 0)]


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, *, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Up-sample by zero insertion, pad or crop ``(x0, x1, y0, y1)``, FIR-filter, down-sample.

    ``f`` is ``[taps]`` (separable), ``[kh, kw]``, or ``None`` (identity times ``gain``).
    """
    # Depthwise convolutions run several times faster channels-last on CPUs, and
    # several times slower so on CUDA (cuDNN, measured on an H200).
    channels_last = x.device.type == "cpu"
    if up > 1 or any(padding):
        x = _upsample_pad(x, up, padding, channels_last)
    if f is None:
        x = x * gain if gain != 1 else x
        return x[:, :, ::down, ::down] if down > 1 else x
    x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    f = (f * gain ** (f.ndim / 2)).flip(list(range(f.ndim)))
    if f.ndim == 1:
        x = _fir_pass(x, f.view(1, -1), (1, down))
        return _fir_pass(x, f.view(-1, 1), (down, 1))
    return _fir_pass(x, f, (down, down))


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor, *,
                   up: int = 1, down: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0),
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Bias, up-sample with ``fu``, leaky ReLU times ``gain``, clamp, down-sample with ``fd``.

    The non-linearity runs at the higher, temporary sampling rate so that the
    harmonics it creates can be removed before the signal is down-sampled again.
    """
    x = x + b.view(1, -1, 1, 1).to(x.dtype)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2)
    # x is a fresh buffer here: the rest may work in place.
    if slope != 1:
        x = F.leaky_relu(x, slope, inplace=True)
    if gain != 1:
        x = x.mul_(gain)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def _kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's beta for a filter of ``numtaps`` taps whose transition band is
    ``width`` wide (in the units of ``fs``)."""
    atten = 2.285 * (numtaps - 1) * math.pi * (width / (fs / 2)) + 7.95  # dB
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass filter; ``None`` for a single tap (the identity).

    Separable: ``[numtaps]`` windowed sinc with its cutoff at ``cutoff``.
    Radial: ``[numtaps, numtaps]`` windowed jinc, rotation-invariant (StyleGAN3-R).
    Both are normalised to a DC gain of one and returned as float32.
    """
    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    window = np.kaiser(numtaps, _kaiser_beta(numtaps, width, fs))
    t = np.arange(numtaps) - (numtaps - 1) / 2
    if not radial:
        c = cutoff / (fs / 2)  # relative to Nyquist
        f = c * np.sinc(c * t) * window
        return torch.as_tensor(f / f.sum(), dtype=torch.float32)
    r = np.hypot(*np.meshgrid(t / fs, t / fs))
    rt = torch.as_tensor(2 * math.pi * cutoff * r, dtype=torch.float64)
    j1 = torch.special.bessel_j1(rt).numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(r > 0, j1 / (math.pi * np.where(r > 0, r, 1)), cutoff)  # jinc's limit at r = 0
    f = f * np.outer(window, window)
    return torch.as_tensor(f / f.sum(), dtype=torch.float32)
