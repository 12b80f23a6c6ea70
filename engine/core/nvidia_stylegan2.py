"""StyleGAN2 generator as NVIDIA's PyTorch code builds it (StyleGAN2-ADA, ``networks_stylegan2.py``).

Written from the published description and the key names of the pickles,
not from that code. It differs from the rosinality port
(:mod:`strata.engine.core.stylegan2`) in ways that change pixels:

- mapping: z is normalized to unit second moment; with classes (``c_dim > 0``)
  a one-hot label goes through ``embed`` (a plain dense layer), is normalized
  the same way and concatenated to z; ``w_avg`` lives in the mapping;
- dense layers scale their weights by ``lr / sqrt(fan_in)`` and their biases
  by ``lr`` (0.01 in the mapping, 1 in the affines), leaky ReLU times sqrt(2);
- every conv and to-RGB output is clamped to +-``conv_clamp`` (256);
- up-sampling convs: transposed conv with stride 2, then the stored 4x4 FIR
  ``resample_filter`` (gain 4); the skip image is up-sampled by the same
  filter after zero insertion;
- noise: the stored ``noise_const`` image times the learned ``noise_strength``
  (NVIDIA's ``noise_mode='const'``);
- blocks that NVIDIA runs in fp16 on a GPU are computed here in fp32, which is
  what NVIDIA's code does on a CPU or with ``force_fp32``.

W+ has ``num_ws = 2 * log2(resolution) - 2`` entries. Block ``b4`` reads entries
0 (conv1) and 1 (to-RGB); block ``b{r}`` at ``r = 2^k`` reads ``2k-5`` (conv0),
``2k-4`` (conv1) and ``2k-3`` (to-RGB), so each to-RGB shares its entry with the
next block's conv0; the last entry drives only the last to-RGB.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from strata.engine.core._config_checks import checked_class, pyramid_levels
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.incremental import Step
from strata.engine.core.wplus import WPlusMixin

__all__ = ["NvidiaStyleGAN2Config", "NvidiaStyleGAN2Generator", "config_from_record", "from_nvidia_record"]

_SQRT2 = math.sqrt(2.0)
_FILTER_TAPS = 4  # [1, 3, 3, 1] as a 4x4 outer product, normalized to sum 1


@dataclass(frozen=True)
class NvidiaStyleGAN2Config:
    resolution: int = 1024
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0  # number of classes; 0 = unconditional
    mapping_layers: int = 8
    layer_features: int = 512  # width of the hidden mapping layers
    embed_features: int = 0  # label embedding width (w_dim when c_dim > 0)
    lr_multiplier: float = 0.01  # the mapping's learning-rate multiplier, also its weight scale
    channels: tuple[int, ...] = ()  # per resolution 4, 8, ..., resolution
    image_channels: int = 3
    conv_clamp: float | None = 256.0
    truncation_psi: float = 0.7
    truncation_layers: int | None = None  # None: every W+ entry (NVIDIA's default cutoff)

    def __post_init__(self) -> None:
        pyramid_levels(self.resolution, self.channels, smallest=8)

    @property
    def num_layers(self) -> int:
        return 2 * len(self.channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NvidiaStyleGAN2Config:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", ()))
        return cls(**d)


# --------------------------------------------------------------------------- operations


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def _bias_act(x: torch.Tensor, b: torch.Tensor, *, lrelu: bool, clamp: float | None) -> torch.Tensor:
    x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if lrelu:
        x = F.leaky_relu(x, 0.2) * _SQRT2
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _fir(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int, int, int], *, up: int = 1,
         gain: float = 1.0) -> torch.Tensor:
    """Zero insertion by ``up``, padding (x0, x1, y0, y1; negative crops), then the
    2D filter ``f`` applied as a convolution (flipped), per channel."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = pad
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    k = (f * gain).flip([0, 1]).to(x.dtype)
    return F.conv2d(x, k[None, None].expand(c, 1, -1, -1), groups=c)


def _upsample_pad(f: torch.Tensor, up: int = 2) -> tuple[int, int]:
    taps = f.shape[-1]
    return (taps + up - 1) // 2, (taps - up) // 2


def _modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool,
                    padding: int = 0, up_filter: torch.Tensor | None = None) -> torch.Tensor:
    """One grouped conv per sample with the weight scaled by ``styles`` (and
    demodulated); with ``up_filter``, a stride-2 transposed conv then the FIR."""
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    if up_filter is None:
        x = F.conv2d(x, w.reshape(-1, in_ch, kh, kw), padding=padding, groups=n)
        return x.reshape(n, -1, *x.shape[2:])
    p0, p1 = _upsample_pad(up_filter)
    px0, px1 = padding + p0 - (kw - 1), padding + p1 - (kw - 2)
    py0, py1 = padding + p0 - (kh - 1), padding + p1 - (kh - 2)
    pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
    wt = w.transpose(1, 2).reshape(n * in_ch, out_ch, kh, kw)
    x = F.conv_transpose2d(x, wt, stride=2, padding=[pyt, pxt], groups=n)
    x = _fir(x, up_filter, (px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt), gain=4.0)
    return x.reshape(n, -1, *x.shape[2:])


# --------------------------------------------------------------------------- layers


class _Dense(nn.Module):
    """``fc{i}``, ``embed`` and ``affine``: weight times ``lr / sqrt(fan_in)``, bias times ``lr``."""

    def __init__(self, in_dim: int, out_dim: int, *, lr: float = 1.0, lrelu: bool = False, bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.weight_gain = lr / math.sqrt(in_dim)
        self.bias_gain = lr
        self.lrelu = lrelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.matmul((self.weight * self.weight_gain).t())
        return _bias_act(x, self.bias * self.bias_gain, lrelu=self.lrelu, clamp=None)

    def extra_repr(self) -> str:
        return f"in={self.weight.shape[1]}, out={self.weight.shape[0]}, lrelu={self.lrelu}"


class _Mapping(nn.Module):
    def __init__(self, c: NvidiaStyleGAN2Config):
        super().__init__()
        self.c_dim = c.c_dim
        if c.c_dim:
            self.embed = _Dense(c.c_dim, c.embed_features)
        feats = [c.z_dim + c.embed_features] + [c.layer_features] * (c.mapping_layers - 1) + [c.w_dim]
        for i in range(c.mapping_layers):
            setattr(self, f"fc{i}", _Dense(feats[i], feats[i + 1], lr=c.lr_multiplier, lrelu=True))
        self.num_layers = c.mapping_layers
        self.register_buffer("w_avg", torch.zeros(c.w_dim))

    def forward(self, z: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        x = _normalize(z.float())
        if self.c_dim:
            x = torch.cat([x, _normalize(self.embed(label.float()))], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class _SynthesisLayer(nn.Module):
    """``conv0`` (up-sampling) or ``conv1``: modulated 3x3 conv, const noise, bias, lrelu, clamp."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, resolution: int, *, up: bool, clamp: float | None):
        super().__init__()
        self.affine = _Dense(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", torch.zeros(_FILTER_TAPS, _FILTER_TAPS))
        self.up = up
        self.clamp = clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = _modulated_conv(x, self.weight, self.affine(w), demodulate=True, padding=1,
                            up_filter=self.resample_filter if self.up else None)
        x = x + self.noise_const * self.noise_strength
        return _bias_act(x, self.bias, lrelu=True, clamp=self.clamp)


class _ToRGB(nn.Module):
    def __init__(self, in_ch: int, image_channels: int, w_dim: int, *, clamp: float | None):
        super().__init__()
        self.affine = _Dense(w_dim, in_ch, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(image_channels, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(image_channels))
        self.weight_gain = 1.0 / math.sqrt(in_ch)
        self.clamp = clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = _modulated_conv(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return _bias_act(x, self.bias, lrelu=False, clamp=self.clamp)


class _Block(nn.Module):
    """``b{res}``: (const | conv0) then conv1 and a to-RGB added onto the up-sampled image ('skip')."""

    def __init__(self, in_ch: int, out_ch: int, res: int, c: NvidiaStyleGAN2Config):
        super().__init__()
        self.register_buffer("resample_filter", torch.zeros(_FILTER_TAPS, _FILTER_TAPS))
        if in_ch == 0:
            self.const = nn.Parameter(torch.randn(out_ch, res, res))
        else:
            self.conv0 = _SynthesisLayer(in_ch, out_ch, c.w_dim, res, up=True, clamp=c.conv_clamp)
        self.conv1 = _SynthesisLayer(out_ch, out_ch, c.w_dim, res, up=False, clamp=c.conv_clamp)
        self.torgb = _ToRGB(out_ch, c.image_channels, c.w_dim, clamp=c.conv_clamp)
        self.first = in_ch == 0

    def forward(self, x, img, ws: torch.Tensor):
        if self.first:
            x = self.conv1(self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1), ws[:, 0])
            y = self.torgb(x, ws[:, 1])
            return x, y
        x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        p0, p1 = _upsample_pad(self.resample_filter)
        img = _fir(img, self.resample_filter, (p0, p1, p0, p1), up=2, gain=4.0)
        return x, img + self.torgb(x, ws[:, 2])


class _Synthesis(nn.Module):
    def __init__(self, c: NvidiaStyleGAN2Config):
        super().__init__()
        self.resolutions = [4 * 2 ** i for i in range(len(c.channels))]
        for i, res in enumerate(self.resolutions):
            setattr(self, f"b{res}", _Block(c.channels[i - 1] if i else 0, c.channels[i], res, c))

    def forward(self, wp: torch.Tensor) -> torch.Tensor:
        x = img = None
        for i, res in enumerate(self.resolutions):
            first = 2 * i - 1 if i else 0
            x, img = getattr(self, f"b{res}")(x, img, wp[:, first: 2 * i + 2])
        return img


# --------------------------------------------------------------------------- generator


class NvidiaStyleGAN2Generator(WPlusMixin, nn.Module):
    """StyleGAN2 as NVIDIA's PyTorch code builds it; fills :class:`strata.engine.core.protocol.Generator`.

    A class-conditional model draws the class :attr:`class_index` (a one-hot
    label, as NVIDIA's scripts make it); it takes part in :meth:`mapping` only.
    """

    architecture = "stylegan2"

    def __init__(self, config: NvidiaStyleGAN2Config):
        super().__init__()
        self.config = config
        # Registered as 'mapping' so that parameters keep NVIDIA's names ('mapping.fc0.weight');
        # the attribute name 'mapping' itself is the protocol's method, hence mapping_network.
        self._modules["mapping"] = _Mapping(config)  # add_module refuses a name the class uses
        self.synthesis = _Synthesis(config)
        self._class_index = 0

    @property
    def mapping_network(self) -> _Mapping:
        return self._modules["mapping"]

    @property
    def class_index(self) -> int:
        return self._class_index

    @class_index.setter
    def class_index(self, value: int) -> None:
        self._class_index = checked_class(value, self.config.c_dim)

    @property
    def num_classes(self) -> int:
        return self.config.c_dim

    @property
    def layer_resolutions(self) -> tuple[int, ...]:
        # Entry j >= 1 is named by the conv it drives; the last by its to-RGB.
        res = [4] + [8 * 2 ** ((j - 1) // 2) for j in range(1, self.num_layers)]
        res[-1] = self.resolution
        return tuple(res)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping_network.w_avg

    def extra_repr(self) -> str:
        c = self.config
        return (f"resolution={c.resolution}, z_dim={c.z_dim}, w_dim={c.w_dim}, c_dim={c.c_dim}, "
                f"num_layers={self.num_layers}, channels={list(c.channels)}")

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """w [N, w_dim] from z [N, z_dim] (and the current class, if any)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        label = None
        if self.config.c_dim:
            label = torch.zeros(z.shape[0], self.config.c_dim, device=z.device)
            label[:, self._class_index] = 1.0
        return self.mapping_network(z, label)

    def synthesize(self, wp: torch.Tensor, *, cache=None, update: bool = True) -> torch.Tensor:
        """Image NCHW, raw values (about [-1, 1]) from ``wp`` [N, num_ws, w_dim]; see
        :meth:`WPlusMixin.synthesize` for ``cache``."""
        return super().synthesize(wp.float(), cache=cache, update=update)

    def synthesis_plan(self) -> tuple[list[Step], Callable]:
        """The synthesis as steps for :meth:`synthesize`; the state is (features, image).
        Block ``b{r}``'s to-RGB shares its entry with the next block's conv0."""
        syn = self.synthesis
        b4 = getattr(syn, "b4")
        steps = [Step(0, lambda s, wp: (b4.conv1(b4.const.unsqueeze(0).expand(wp.shape[0], -1, -1, -1),
                                                 wp[:, 0]), None)),
                 Step(1, lambda s, wp: (s[0], b4.torgb(s[0], wp[:, 1])))]
        for i, res in enumerate(syn.resolutions[1:], start=1):
            blk = getattr(syn, f"b{res}")

            def rgb(s, wp, blk=blk, j=2 * i + 1):
                p0, p1 = _upsample_pad(blk.resample_filter)
                img = _fir(s[1], blk.resample_filter, (p0, p1, p0, p1), up=2, gain=4.0)
                return s[0], img + blk.torgb(s[0], wp[:, j])

            steps += [Step(2 * i - 1, lambda s, wp, blk=blk, j=2 * i - 1: (blk.conv0(s[0], wp[:, j]), s[1])),
                      Step(2 * i, lambda s, wp, blk=blk, j=2 * i: (blk.conv1(s[0], wp[:, j]), s[1])),
                      Step(2 * i + 1, rgb)]
        return steps, lambda s: s[1]


# --------------------------------------------------------------------------- from a pickle record


def config_from_record(rec) -> NvidiaStyleGAN2Config:
    """The configuration of a ``Generator`` record from ``networks_stylegan2``: sizes
    from its attributes, channels and mapping widths from tensor shapes, gains and
    clamps from the layers' recorded attributes. Raises KeyError/ValueError/TypeError."""
    from strata.engine.core.nvidia_pkl import state_dict_of

    st = rec.state
    synth, mapping = rec.child("synthesis"), rec.child("mapping")
    if synth is None or mapping is None:
        raise KeyError("synthesis or mapping")
    sd = state_dict_of(rec)
    res = int(st["img_resolution"])
    resolutions = [4 * 2 ** i for i in range(int(math.log2(res)) - 1)]
    for r in resolutions:
        block = synth.child(f"b{r}")
        if block is None:
            raise KeyError(f"synthesis.b{r}")
        if block.state.get("architecture", "skip") != "skip":
            raise ValueError(f"architecture {block.state.get('architecture')!r} (only 'skip' is supported)")
    n_map = int(mapping.state["num_layers"])
    fc0 = mapping.child("fc0")
    c_dim = int(st.get("c_dim") or 0)
    clamp = synth.child("b4").child("conv1").state.get("conv_clamp")
    cfg = NvidiaStyleGAN2Config(
        resolution=res, z_dim=int(st["z_dim"]), w_dim=int(st["w_dim"]), c_dim=c_dim,
        mapping_layers=n_map,
        layer_features=int(sd["mapping.fc0.weight"].shape[0]) if n_map > 1 else int(st["w_dim"]),
        embed_features=int(sd["mapping.embed.weight"].shape[0]) if c_dim else 0,
        lr_multiplier=float(fc0.state.get("bias_gain", 0.01)),
        channels=tuple(int(sd[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in resolutions),
        image_channels=int(st.get("img_channels", 3)),
        conv_clamp=None if clamp is None else float(clamp))
    if int(st.get("num_ws", cfg.num_layers)) != cfg.num_layers:
        raise ValueError(f"num_ws {st.get('num_ws')} is not {cfg.num_layers}")
    return cfg


def from_nvidia_record(rec, path: Path) -> NvidiaStyleGAN2Generator:
    """A generator holding the record's weights, every key checked with its shape."""
    from strata.engine.core.nvidia_pkl import state_dict_of

    try:
        cfg = config_from_record(rec)
        state = state_dict_of(rec)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"{path}: not a StyleGAN2 generator as NVIDIA pickles it "
                             f"({type(exc).__name__}: {exc})") from None
    gen = NvidiaStyleGAN2Generator(cfg)
    own = gen.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        detail = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {unexpected[:3]}" if unexpected else "")
        raise ModelLoadError(f"{path}: keys do not match a StyleGAN2 generator: {detail.strip()}")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelLoadError(f"{path}: {k} has shape {list(state[k].shape)}, expected {list(v.shape)}")
        if state[k].is_floating_point() and not torch.isfinite(state[k]).all():
            raise ModelLoadError(f"{path}: {k} holds NaN or infinite values")
    gen.load_state_dict({k: v.float() for k, v in state.items()})
    return gen
