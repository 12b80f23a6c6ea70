"""StyleGAN (v1) generator in the parameter layout of HiGAN's PyTorch release.

The module names below (``mapping.dense{i}.fc``, ``synthesis.layer{i}.epilogue
.style_mod.dense``, ``synthesis.output{k}`` ...) are the keys of
``stylegan_bedroom256_generator.pth`` and its siblings, so those files load
with ``strict=True``. :func:`infer_config` reads the whole configuration from
the keys and shapes of a state dict, so a user only ever passes a path.

Layer ``i`` of W+ drives synthesis layer ``i``: two per resolution, starting
at 4x4, so a 256 px model has 14 layers.
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

__all__ = ["StyleGANConfig", "StyleGANGenerator", "infer_config"]

_INIT_RES = 4


@dataclass(frozen=True)
class StyleGANConfig:
    """Everything needed to build a generator; inferred from a state dict."""

    resolution: int = 64
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_hidden: int = 512  # width of the hidden mapping layers
    mapping_lr_mul: float = 0.01
    channels: tuple[int, ...] = ()  # per resolution 4, 8, ..., resolution
    fused: tuple[bool, ...] = ()  # per up-sampling resolution 8, ..., resolution
    image_channels: int = 3
    truncation_layers: int = 8  # HiGAN's default: psi applies to layers 0..7
    truncation_psi: float = 0.7  # the release's default psi

    def __post_init__(self) -> None:
        n_res = pyramid_levels(self.resolution, self.channels, smallest=_INIT_RES)
        if len(self.fused) != n_res - 1:
            raise ValueError(f"need {n_res - 1} fused flags for {self.resolution} px, got {self.fused}")

    @property
    def num_layers(self) -> int:
        return 2 * len(self.channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        d["fused"] = list(self.fused)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> StyleGANConfig:
        d = dict(d)
        d["channels"] = tuple(int(c) for c in d["channels"])
        d["fused"] = tuple(bool(f) for f in d["fused"])
        return cls(**d)

    @classmethod
    def simple(cls, resolution: int, *, z_dim: int = 512, w_dim: int = 512,
               fmaps_base: int = 16 << 10, fmaps_max: int = 512, fused_scale="auto",
               mapping_layers: int = 8, **kw) -> StyleGANConfig:
        """The release's rule: ``min(fmaps_base // res, fmaps_max)`` channels,
        fused up-sampling from 128 px up when ``fused_scale='auto'``."""
        n_res = int(math.log2(resolution)) - 1
        res = [2 ** (2 + i) for i in range(n_res)]
        channels = tuple(min(fmaps_base // r, fmaps_max) for r in res)
        fused = tuple((r >= 128) if fused_scale == "auto" else bool(fused_scale) for r in res[1:])
        return cls(resolution=resolution, z_dim=z_dim, w_dim=w_dim, mapping_layers=mapping_layers,
                   mapping_hidden=w_dim, channels=channels, fused=fused, **kw)


# --------------------------------------------------------------------------- blocks


class _WScale(nn.Module):
    """Equalized learning rate: weights are stored unscaled and multiplied by
    ``gain / sqrt(fan_in) * lr_mul`` at run time; the bias by ``lr_mul``."""

    def __init__(self, fan_in: int, out_channels: int, gain: float, lr_mul: float = 1.0):
        super().__init__()
        self.scale = gain / math.sqrt(fan_in) * lr_mul
        self.lr_mul = lr_mul
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.scale + self.bias.view(shape) * self.lr_mul

    def extra_repr(self) -> str:
        return f"scale={self.scale:.4g}, lr_mul={self.lr_mul}"


class _Dense(nn.Module):
    """``fc`` (no bias) + ``wscale`` (scale and bias), optional leaky ReLU."""

    def __init__(self, in_dim: int, out_dim: int, *, gain: float = math.sqrt(2.0),
                 lr_mul: float = 1.0, activate: bool = True):
        super().__init__()
        self.fc = nn.Linear(in_dim, out_dim, bias=False)
        self.wscale = _WScale(in_dim, out_dim, gain, lr_mul)
        self.activate = activate
        # Trained weights are drawn as N(0, 1/lr_mul) so that the scaled weight is N(0, 1/fan_in)*gain.
        nn.init.normal_(self.fc.weight, 0.0, 1.0 / lr_mul)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.wscale(self.fc(x))
        return F.leaky_relu(x, 0.2) if self.activate else x


class _Mapping(nn.Module):
    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.num_layers = cfg.mapping_layers
        self.z_dim = cfg.z_dim
        for i in range(cfg.mapping_layers):
            in_dim = cfg.z_dim if i == 0 else cfg.mapping_hidden
            out_dim = cfg.w_dim if i == cfg.mapping_layers - 1 else cfg.mapping_hidden
            self.add_module(f"dense{i}", _Dense(in_dim, out_dim, lr_mul=cfg.mapping_lr_mul))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        w = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # pixel norm
        for i in range(self.num_layers):
            w = getattr(self, f"dense{i}")(w)
        return w


class _Truncation(nn.Module):
    """Holds ``w_avg``, the running mean of w tracked during training."""

    def __init__(self, w_dim: int):
        super().__init__()
        self.register_buffer("w_avg", torch.zeros(w_dim))


class _NoiseApply(nn.Module):
    def __init__(self, channels: int, res: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise", torch.randn(1, 1, res, res))
        self.randomize = False  # training draws fresh noise; editing keeps it fixed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.randomize:
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise
        return x + noise * self.weight.view(1, -1, 1, 1)


class _StyleMod(nn.Module):
    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.channels = channels
        self.dense = _Dense(w_dim, 2 * channels, gain=1.0, activate=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = self.dense(w).view(-1, 2, self.channels, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class _Epilogue(nn.Module):
    """noise -> bias -> lrelu -> instance norm -> AdaIN style modulation."""

    def __init__(self, channels: int, res: int, w_dim: int):
        super().__init__()
        self.apply_noise = _NoiseApply(channels, res)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.style_mod = _StyleMod(w_dim, channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.apply_noise(x)
        x = F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        x = x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + 1e-8)
        return self.style_mod(x, w)


class _FirstLayer(nn.Module):
    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.const = nn.Parameter(torch.ones(1, channels, _INIT_RES, _INIT_RES))
        self.epilogue = _Epilogue(channels, _INIT_RES, w_dim)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return self.epilogue(self.const.expand(w.shape[0], -1, -1, -1), w)


def _blur_kernel(channels: int) -> torch.Tensor:
    k = torch.tensor([1.0, 2.0, 1.0])
    k = torch.outer(k, k)
    return (k / k.sum()).expand(channels, 1, 3, 3).clone()


def _upsample_nearest2(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour up-sampling by 2: the values of ``F.interpolate(x, scale_factor=2)``,
    written as one strided copy (interpolate's CPU kernel is several times slower on
    many channels at few pixels, e.g. 23 ms against 3 ms for [1, 512, 32, 32])."""
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


class _UpLayer(nn.Module):
    """Doubles the resolution: nearest x2 + 3x3 conv, or (fused) one transposed
    conv whose 4x4 kernel is the 3x3 kernel summed over four shifts; then blur."""

    def __init__(self, in_ch: int, out_ch: int, res: int, w_dim: int, fused: bool):
        super().__init__()
        self.fused = fused
        self.scale = math.sqrt(2.0) / math.sqrt(in_ch * 9)
        if fused:
            # HiGAN stores the fused kernel as [3, 3, Cin, Cout].
            self.weight = nn.Parameter(torch.randn(3, 3, in_ch, out_ch))
        else:
            self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)
            nn.init.normal_(self.conv.weight)
        self.blur = nn.Module()
        self.blur.register_buffer("kernel", _blur_kernel(out_ch))
        self.epilogue = _Epilogue(out_ch, res, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.fused:
            k = F.pad(self.weight * self.scale, (0, 0, 0, 0, 1, 1, 1, 1))
            k = k[1:, 1:] + k[:-1, 1:] + k[1:, :-1] + k[:-1, :-1]
            x = F.conv_transpose2d(x, k.permute(2, 3, 0, 1), stride=2, padding=1)
        else:
            x = self.conv(_upsample_nearest2(x)) * self.scale
        x = F.conv2d(x, self.blur.kernel, padding=1, groups=x.shape[1])
        return self.epilogue(x, w)


class _ConvLayer(nn.Module):
    def __init__(self, channels: int, res: int, w_dim: int):
        super().__init__()
        self.scale = math.sqrt(2.0) / math.sqrt(channels * 9)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        nn.init.normal_(self.conv.weight)
        self.epilogue = _Epilogue(channels, res, w_dim)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.epilogue(self.conv(x) * self.scale, w)


class _ToRGB(nn.Module):
    def __init__(self, channels: int, image_channels: int):
        super().__init__()
        self.scale = 1.0 / math.sqrt(channels)
        self.conv = nn.Conv2d(channels, image_channels, 1, bias=False)
        nn.init.normal_(self.conv.weight)
        self.bias = nn.Parameter(torch.zeros(image_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale + self.bias.view(1, -1, 1, 1)


class _Synthesis(nn.Module):
    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.num_blocks = len(cfg.channels)
        # Progressive-growing level of detail; released files hold 0 (full resolution).
        self.register_buffer("lod", torch.zeros(()))
        for b, ch in enumerate(cfg.channels):
            res = _INIT_RES * 2**b
            if b == 0:
                self.add_module("layer0", _FirstLayer(ch, cfg.w_dim))
            else:
                self.add_module(f"layer{2 * b}",
                                _UpLayer(cfg.channels[b - 1], ch, res, cfg.w_dim, cfg.fused[b - 1]))
            self.add_module(f"layer{2 * b + 1}", _ConvLayer(ch, res, cfg.w_dim))
            self.add_module(f"output{b}", _ToRGB(ch, cfg.image_channels))

    def forward(self, wp: torch.Tensor) -> torch.Tensor:
        lod = float(self.lod)
        if lod > 0:
            return self._forward_lod(wp, lod)
        x = self.layer0(wp[:, 0])
        x = self.layer1(x, wp[:, 1])
        for b in range(1, self.num_blocks):
            x = getattr(self, f"layer{2 * b}")(x, wp[:, 2 * b])
            x = getattr(self, f"layer{2 * b + 1}")(x, wp[:, 2 * b + 1])
        # With lod 0 only the last to-RGB contributes; earlier ones are kept for the keys.
        return getattr(self, f"output{self.num_blocks - 1}")(x)

    def _forward_lod(self, wp: torch.Tensor, lod: float) -> torch.Tensor:
        """Progressive growing (StyleGAN v1's "linear" structure): at level of detail ``lod``
        the image is the to-RGB of block ``n-1-lod``, faded with the 2x upscaled image of the
        block below when ``lod`` is fractional, then upscaled (nearest) to full size. Blocks
        above the current resolution are not computed."""
        n = self.num_blocks
        x = self.layer1(self.layer0(wp[:, 0]), wp[:, 1])
        img = self.output0(x)
        for b in range(1, n):
            t = lod - (n - 1 - b)  # 1 or more: block b has not faded in yet
            if t >= 1:
                break
            x = getattr(self, f"layer{2 * b}")(x, wp[:, 2 * b])
            x = getattr(self, f"layer{2 * b + 1}")(x, wp[:, 2 * b + 1])
            y = getattr(self, f"output{b}")(x)
            up = F.interpolate(img, scale_factor=2, mode="nearest")
            img = y if t <= 0 else torch.lerp(y, up, t)
        factor = (_INIT_RES * 2 ** (n - 1)) // img.shape[-1]
        return F.interpolate(img, scale_factor=factor, mode="nearest") if factor > 1 else img


# --------------------------------------------------------------------------- generator


class StyleGANGenerator(WPlusMixin, nn.Module):
    """StyleGAN (v1) generator: ``mapping``, ``truncation`` (w_avg) and ``synthesis``.

    Parameters
    ----------
    config : StyleGANConfig
        The architecture; see :func:`infer_config` to read it from a file.
    """

    architecture = "stylegan"

    def __init__(self, config: StyleGANConfig):
        super().__init__()
        self.config = config
        self.mapping = _Mapping(config)
        self.truncation = _Truncation(config.w_dim)
        self.synthesis = _Synthesis(config)

    # The small protocol shared with other architectures (see strata.engine.core.protocol).
    @property
    def layer_resolutions(self) -> tuple[int, ...]:
        return tuple(_INIT_RES * 2 ** (i // 2) for i in range(self.num_layers))

    @property
    def w_avg(self) -> torch.Tensor:
        return self.truncation.w_avg

    def extra_repr(self) -> str:
        c = self.config
        return (f"resolution={c.resolution}, z_dim={c.z_dim}, w_dim={c.w_dim}, "
                f"num_layers={self.num_layers}, channels={list(c.channels)}")

    def set_noise_mode(self, randomize: bool) -> None:
        for m in self.modules():
            if isinstance(m, _NoiseApply):
                m.randomize = randomize

    def synthesis_token(self) -> tuple | None:
        if any(m.randomize for m in self.modules() if isinstance(m, _NoiseApply)):
            return None  # fresh noise every call: nothing to keep
        return (float(self.synthesis.lod),)

    def synthesis_plan(self) -> tuple[list[Step], Callable]:
        """The synthesis as steps (one per W+ entry) for :meth:`synthesize`: layer ``i`` reads
        entry ``i``; the state is the feature map (and, while growing, the image so far)."""
        syn = self.synthesis
        n = syn.num_blocks
        lod = float(syn.lod)

        def layer(i: int) -> Step:
            mod = getattr(syn, f"layer{i}")
            if i == 0:
                return Step(0, lambda state, wp: mod(wp[:, 0]))
            return Step(i, lambda state, wp: mod(state, wp[:, i]))

        if lod <= 0:
            last = getattr(syn, f"output{n - 1}")
            # With lod 0 only the last to-RGB contributes; earlier ones are kept for the keys.
            return [layer(i) for i in range(2 * n)], last

        # Progressive growing (StyleGAN v1's "linear" structure), as _Synthesis._forward_lod:
        # the state is (features, image so far); blocks above the current resolution are skipped.
        def first_rgb(state, wp):
            x = syn.layer1(state, wp[:, 1])
            return x, syn.output0(x)

        steps = [layer(0), Step(1, first_rgb)]
        for b in range(1, n):
            t = lod - (n - 1 - b)  # 1 or more: block b has not faded in yet
            if t >= 1:
                break

            def up(state, wp, b=b):
                return getattr(syn, f"layer{2 * b}")(state[0], wp[:, 2 * b]), state[1]

            def conv_rgb(state, wp, b=b, t=t):
                x = getattr(syn, f"layer{2 * b + 1}")(state[0], wp[:, 2 * b + 1])
                y = getattr(syn, f"output{b}")(x)
                img = F.interpolate(state[1], scale_factor=2, mode="nearest")
                return x, (y if t <= 0 else torch.lerp(y, img, t))

            steps += [Step(2 * b, up), Step(2 * b + 1, conv_rgb)]

        def finish(state):
            img = state[1]
            factor = (_INIT_RES * 2 ** (n - 1)) // img.shape[-1]
            return F.interpolate(img, scale_factor=factor, mode="nearest") if factor > 1 else img

        return steps, finish


    def reduced_precision(self, dtype: torch.dtype) -> _ReducedSynthesis | None:
        """This generator's synthesis with its weights prepared once in ``dtype`` (bfloat16 or
        float16), for frames that need not be exact; None where it has no such form (noise drawn
        afresh, a level of detail above 0). A copy: build it again after the weights change."""
        if self.synthesis_token() is None or float(self.synthesis.lod) > 0:
            return None
        return _ReducedSynthesis(self, dtype)


class _ReducedSynthesis(WPlusMixin, nn.Module):
    """StyleGAN v1 synthesis run end to end in a reduced precision (the renderer's fast frames).

    The same function as :class:`_Synthesis` at level of detail 0, rearranged for speed where
    float32 exactness is not asked for; every constant is prepared once, not per frame:

    - each convolution's weight is multiplied by its run-time scale and cast to ``dtype``;
    - a nearest-x2 up-sampling followed by a 3x3 convolution is one stride-2 transposed
      convolution with a 4x4 kernel (the 3x3 kernel summed over four shifts, as the fused
      layers store it): 4 instead of 9 multiplications per output, used from 64 px up, where
      it is faster here;
    - the fixed noise times its weight plus the bias is one per-layer tensor (one addition);
    - instance normalization and the style modulation are one ``group_norm`` with the styles
      as its scale and shift (one group per channel and image), which computes the statistics
      in float32.

    Activations stay in ``dtype``; the styles (a matrix product per layer) are float32, and the
    image is returned as float32. Weights, noise and level of detail are read when it is built.
    """

    _TRANSPOSED_FROM = 64  # output resolution from which an up-sampling layer runs as a transposed conv

    def __init__(self, g: StyleGANGenerator, dtype: torch.dtype):
        super().__init__()
        self.config = g.config
        self.dtype = dtype
        self._token = g.synthesis_token()
        syn = g.synthesis
        self.kinds: list[str] = []
        self.channels: list[int] = []
        # Built outside inference mode, whatever the caller's: the synthesis cache keys on version counters.
        with torch.inference_mode(False), torch.no_grad():
            self.register_buffer("w_avg", g.w_avg.detach().clone())
            for i in range(2 * syn.num_blocks):
                m = getattr(syn, f"layer{i}")
                if i == 0:
                    kind, weight = "const", m.const
                elif isinstance(m, _UpLayer):
                    res = _INIT_RES * 2 ** (i // 2)
                    if m.fused or res >= self._TRANSPOSED_FROM:
                        # [3, 3, Cin, Cout]; a conv2d kernel [Cout, Cin, 3, 3] flipped, as a transposed conv reads it
                        w3 = m.weight if m.fused else m.conv.weight.flip(2, 3).permute(2, 3, 1, 0)
                        k = F.pad(w3 * m.scale, (0, 0, 0, 0, 1, 1, 1, 1))
                        k = k[1:, 1:] + k[:-1, 1:] + k[1:, :-1] + k[:-1, :-1]
                        kind, weight = "transposed", k.permute(2, 3, 0, 1)
                    else:
                        kind, weight = "up", m.conv.weight * m.scale
                    self.register_buffer(f"blur{i}", m.blur.kernel.to(dtype))
                else:
                    kind, weight = "conv", m.conv.weight * m.scale
                self.register_buffer(f"weight{i}", weight.detach().to(dtype).contiguous())
                ep = m.epilogue
                noise = ep.apply_noise.noise * ep.apply_noise.weight.view(1, -1, 1, 1)
                self.register_buffer(f"noise_bias{i}", (noise + ep.bias.view(1, -1, 1, 1)).to(dtype))
                dense = ep.style_mod.dense
                self.register_buffer(f"style_weight{i}", (dense.fc.weight * dense.wscale.scale).t().contiguous())
                self.register_buffer(f"style_bias{i}", dense.wscale.bias * dense.wscale.lr_mul)
                self.kinds.append(kind)
                self.channels.append(ep.style_mod.channels)
            rgb = getattr(syn, f"output{syn.num_blocks - 1}")
            self.register_buffer("rgb_weight", (rgb.conv.weight * rgb.scale).to(dtype))
            self.register_buffer("rgb_bias", rgb.bias.detach().view(1, -1, 1, 1).clone())

    def synthesis_token(self) -> tuple | None:
        return self._token

    def _layer(self, i: int, x: torch.Tensor | None, w: torch.Tensor) -> torch.Tensor:
        kind, weight = self.kinds[i], getattr(self, f"weight{i}")
        if kind == "const":
            x = weight.expand(w.shape[0], -1, -1, -1) + getattr(self, f"noise_bias{i}")
        else:
            if kind == "transposed":
                x = F.conv_transpose2d(x, weight, stride=2, padding=1)
            elif kind == "up":
                x = F.conv2d(_upsample_nearest2(x), weight, padding=1)
            else:
                x = F.conv2d(x, weight, padding=1)
            if kind != "conv":
                x = F.conv2d(x, getattr(self, f"blur{i}"), padding=1, groups=x.shape[1])
            x.add_(getattr(self, f"noise_bias{i}"))  # x is this layer's own tensor
        x = F.leaky_relu_(x, 0.2)
        sw = getattr(self, f"style_weight{i}")
        style = torch.addmm(getattr(self, f"style_bias{i}"), w.to(sw.dtype), sw).to(x.dtype)
        n, c, h, wd = x.shape
        scale, shift = (style[:, :c] + 1).reshape(-1), style[:, c:].reshape(-1)
        return F.group_norm(x.reshape(1, n * c, h, wd), n * c, scale, shift, 1e-8).view(n, c, h, wd)

    def synthesis_plan(self) -> tuple[list[Step], Callable]:
        steps = [Step(i, lambda state, wp, i=i: self._layer(i, state, wp[:, i])) for i in range(len(self.kinds))]

        def finish(x):
            return F.conv2d(x, self.rgb_weight).float() + self.rgb_bias

        return steps, finish



# --------------------------------------------------------------------------- inference


def infer_config(state: dict[str, torch.Tensor]) -> StyleGANConfig:
    """Read a StyleGAN configuration from the keys and shapes of a state dict
    in HiGAN's layout. Raises ``KeyError``/``ValueError`` on anything else."""
    n_map = 0
    while f"mapping.dense{n_map}.fc.weight" in state:
        n_map += 1
    if n_map == 0:
        raise KeyError("mapping.dense0.fc.weight")
    z_dim = state["mapping.dense0.fc.weight"].shape[1]
    hidden = state["mapping.dense0.fc.weight"].shape[0] if n_map > 1 else None
    w_dim = state[f"mapping.dense{n_map - 1}.fc.weight"].shape[0]
    channels = [state["synthesis.layer0.const"].shape[1]]
    fused = []
    b = 1
    while f"synthesis.output{b}.conv.weight" in state:
        if f"synthesis.layer{2 * b}.weight" in state:
            fused.append(True)
            channels.append(state[f"synthesis.layer{2 * b}.weight"].shape[3])
        else:
            fused.append(False)
            channels.append(state[f"synthesis.layer{2 * b}.conv.weight"].shape[0])
        b += 1
    image_channels = state["synthesis.output0.conv.weight"].shape[0]
    return StyleGANConfig(
        resolution=_INIT_RES * 2 ** (len(channels) - 1),
        z_dim=int(z_dim), w_dim=int(w_dim), mapping_layers=n_map,
        mapping_hidden=int(hidden if hidden is not None else w_dim),
        channels=tuple(int(c) for c in channels), fused=tuple(fused),
        image_channels=int(image_channels),
    )
