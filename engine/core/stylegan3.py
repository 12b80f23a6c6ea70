"""StyleGAN3 generator (configs T and R), loaded from NVIDIA's network pickles.

Written from the paper (Karras et al. 2021, "Alias-Free Generative Adversarial
Networks"), the constructor arguments NVIDIA's pickles record and the
published behaviour of NVIDIA's code (formulas, names, defaults), none of its
text; parameter and layer names follow the pickled state so that its tensors
load one to one (:func:`from_nvidia_record`):

- mapping ``mapping.fc{i}``: normalise ``z`` (joined by a normalised label
  embedding ``mapping.embed`` in a class-conditional model), then
  equalized-lr dense layers (lr multiplier 0.01) with a leaky ReLU times
  sqrt(2); ``mapping.w_avg``.
- ``synthesis.input``: Fourier features of a fixed random set of frequencies
  inside a disc (``freqs``, ``phases``), rotated and translated by a
  transform predicted from ``ws[0]`` (``affine``), then by the user
  ``transform`` buffer, sampled on a grid with a margin, mixed by ``weight``.
- ``synthesis.L{i}_{size}_{channels}``: modulated conv (3x3, or 1x1 for R)
  scaled by the input's running magnitude (``magnitude_ema``), then a
  filtered leaky ReLU at twice the higher sampling rate (four times when
  the rate doubles), with Kaiser low-pass ``up_filter`` / ``down_filter``
  (radial down-filters for R). The last layer is the to-RGB (1x1, no
  demodulation, linear); the output is multiplied by ``output_scale``.

Layer cutoffs, stopbands, sampling rates and sizes follow the paper's
geometric progression (Appendix F). W+ has ``num_layers + 2`` entries:
entry 0 drives the input, entry ``i + 1`` drives layer ``i``; truncation
pulls every entry toward ``w_avg`` (psi 0.7 by default), as NVIDIA's scripts do.
Everything runs in float32 (the pickles' fp16 layers are a training speed-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from strata.engine.core._config_checks import checked_class
from strata.engine.core._filtered_lrelu import design_lowpass_filter, filtered_lrelu
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.incremental import Step
from strata.engine.core.wplus import WPlusMixin

__all__ = ["StyleGAN3Config", "StyleGAN3Generator", "from_nvidia_record", "input_transform_matrix"]

_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True)
class StyleGAN3Config:
    resolution: int = 1024
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0  # classes of a class-conditional model (0: none)
    image_channels: int = 3
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 32768  # channels ~ channel_base / 2 / cutoff
    channel_max: int = 512
    synthesis_layers: int = 14  # layers between the Fourier input and the to-RGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2.0
    first_stopband: float = 2 ** 2.1
    last_stopband_rel: float = 2 ** 0.3  # last stopband relative to its cutoff
    margin_size: int = 10  # extra pixels on each side of the intermediate images
    output_scale: float = 0.25
    conv_kernel: int = 3  # 1 for StyleGAN3-R
    filter_size: int = 6  # low-pass taps per lower-rate sample
    lrelu_upsampling: int = 2  # the non-linearity's rate relative to the layer's
    use_radial_filters: bool = False  # True for StyleGAN3-R
    conv_clamp: float | None = 256
    truncation_psi: float = 0.7  # NVIDIA's default cutoff: every W+ entry

    def __post_init__(self) -> None:
        if self.synthesis_layers <= self.num_critical:
            raise ValueError(f"need more synthesis layers ({self.synthesis_layers}) "
                             f"than critically sampled ones ({self.num_critical})")
        if self.resolution < 4:
            raise ValueError(f"resolution must be at least 4, got {self.resolution}")

    @property
    def num_layers(self) -> int:
        """W+ entries: the input, every synthesis layer and the to-RGB."""
        return self.synthesis_layers + 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StyleGAN3Config:
        return cls(**d)

    def layer_specs(self) -> list[dict]:
        """Per synthesis layer (the to-RGB last): rates, cutoffs, sizes, channels;
        entry -1 of the ``*_all`` arrays describes the input."""
        n = self.synthesis_layers
        last_cutoff = self.resolution / 2
        last_stopband = last_cutoff * self.last_stopband_rel
        exponents = np.minimum(np.arange(n + 1) / (n - self.num_critical), 1)
        cutoffs = self.first_cutoff * (last_cutoff / self.first_cutoff) ** exponents
        stopbands = self.first_stopband * (last_stopband / self.first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, self.resolution))))
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + self.margin_size * 2
        sizes[-2:] = self.resolution
        channels = np.rint(np.minimum((self.channel_base / 2) / cutoffs, self.channel_max))
        channels[-1] = self.image_channels
        specs = []
        for i in range(n + 1):
            p = max(i - 1, 0)
            specs.append(dict(
                is_torgb=i == n, is_critically_sampled=i >= n - self.num_critical,
                in_channels=int(channels[p]), out_channels=int(channels[i]),
                in_size=int(sizes[p]), out_size=int(sizes[i]),
                in_rate=int(rates[p]), out_rate=int(rates[i]),
                in_cutoff=float(cutoffs[p]), out_cutoff=float(cutoffs[i]),
                in_half_width=float(half_widths[p]), out_half_width=float(half_widths[i])))
        specs.append(dict(channels=int(channels[0]), size=int(sizes[0]), rate=float(rates[0]),
                          bandwidth=float(cutoffs[0])))
        return specs


# --------------------------------------------------------------------------- blocks


class _Dense(nn.Module):
    """Equalized-lr dense layer; ``lrelu`` adds the bias inside a leaky ReLU scaled by sqrt(2)."""

    def __init__(self, in_features: int, out_features: int, *,
                 lrelu: bool = False,  # activation (else linear)
                 lr_multiplier: float = 1.0,  # learning-rate multiplier folded into the weights
                 bias_init: float | list[float] = 0.0,  # initial bias value(s)
                 weight_init: float = 1.0):  # initial weight standard deviation
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * (weight_init / lr_multiplier))
        bias = torch.as_tensor(np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features]).copy())
        self.bias = nn.Parameter(bias / lr_multiplier)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.lrelu = lrelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias_gain != 1 else self.bias
        if not self.lrelu:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return F.leaky_relu(x.matmul(w.t()) + b, 0.2) * _SQRT2

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}, lrelu={self.lrelu}"


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()


class _Mapping(nn.Module):
    """``z`` [N, z_dim] to ``w`` [N, w_dim]; keeps ``w_avg``, the truncation centre.

    A class-conditional model joins the embedding of a one-hot label for class
    ``class_index`` to ``z`` (each normalised) before the dense layers.
    """

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, lr_multiplier: float, c_dim: int = 0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_layers, self.c_dim = z_dim, w_dim, num_layers, c_dim
        self.class_index = 0
        if c_dim:
            self.embed = _Dense(c_dim, w_dim)
        for i in range(num_layers):
            in_features = (z_dim + (w_dim if c_dim else 0)) if i == 0 else w_dim
            self.add_module(f"fc{i}", _Dense(in_features, w_dim, lrelu=True, lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        x = _normalize(z.float())
        if self.c_dim:
            label = torch.zeros(z.shape[0], self.c_dim, device=z.device)
            label[:, self.class_index] = 1.0
            x = torch.cat([x, _normalize(self.embed(label))], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_layers={self.num_layers}"


class _FourierInput(nn.Module):
    """Fourier features, rotated/translated by ``ws[0]`` and the user ``transform``."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        # Frequencies drawn inside a disc of radius `bandwidth` (the file overwrites them).
        freqs = torch.randn(channels, 2)
        radii = freqs.norm(dim=1, keepdim=True)
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = _Dense(w_dim, 4, weight_init=0.0, bias_init=[1, 0, 0, 0])
        # The inverse of a user transform of the image (NVIDIA's visualizer sets it).
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        n = w.shape[0]
        t = self.affine(w)  # (cos, sin, tx, ty) up to scale
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).repeat(n, 1, 1)
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = m_r @ m_t @ self.transform.unsqueeze(0)  # rotate, translate, then the user's transform

        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)
        freqs = freqs @ m[:, :2, :2]
        # A user transform can push frequencies past the band: fade them out before Nyquist.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        theta = torch.zeros(1, 2, 3, device=w.device)
        theta[0, 0, 0] = theta[0, 1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta, [1, 1, self.size, self.size], align_corners=False)  # [1, H, W, 2]
        x = (grid.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = torch.sin((x + phases.unsqueeze(1).unsqueeze(2)) * (2 * math.pi))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, size={self.size}, sampling_rate={self.sampling_rate:g}, "
                f"bandwidth={self.bandwidth:g}")


def _modulated_conv(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool,
                    padding: int, input_gain: torch.Tensor) -> torch.Tensor:
    n, c = styles.shape
    out_ch, _, kh, kw = weight.shape
    if demodulate:
        # Normalising first keeps fp16 in range; demodulation cancels the scale. NVIDIA's
        # code takes the styles' mean over the whole batch; per sample, one image does not
        # depend on the others in its batch (the two agree to float rounding).
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(1, keepdim=True).rsqrt()
    w = weight.unsqueeze(0) * styles.view(n, 1, c, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    w = w * input_gain
    x = F.conv2d(x.reshape(1, n * c, *x.shape[2:]), w.reshape(n * out_ch, c, kh, kw),
                 padding=padding, groups=n)
    return x.reshape(n, out_ch, *x.shape[2:])


class _SynthesisLayer(nn.Module):
    """Modulated conv, then the filtered leaky ReLU that resamples to the output rate."""

    def __init__(self, w_dim: int, spec: dict, cfg: StyleGAN3Config):
        super().__init__()
        self.spec = spec
        self.is_torgb = spec["is_torgb"]
        self.in_channels, self.out_channels = spec["in_channels"], spec["out_channels"]
        self.in_size, self.out_size = spec["in_size"], spec["out_size"]
        self.conv_kernel = 1 if self.is_torgb else cfg.conv_kernel
        self.conv_clamp = cfg.conv_clamp
        tmp_rate = max(spec["in_rate"], spec["out_rate"]) * (1 if self.is_torgb else cfg.lrelu_upsampling)
        self.up_factor = int(round(tmp_rate / spec["in_rate"]))
        self.down_factor = int(round(tmp_rate / spec["out_rate"]))
        up_taps = cfg.filter_size * self.up_factor if self.up_factor > 1 and not self.is_torgb else 1
        down_taps = cfg.filter_size * self.down_factor if self.down_factor > 1 and not self.is_torgb else 1
        radial = cfg.use_radial_filters and not spec["is_critically_sampled"]

        self.affine = _Dense(w_dim, self.in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(self.out_channels, self.in_channels,
                                               self.conv_kernel, self.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", design_lowpass_filter(
            up_taps, spec["in_cutoff"], spec["in_half_width"] * 2, tmp_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            down_taps, spec["out_cutoff"], spec["out_half_width"] * 2, tmp_rate, radial=radial))

        # Pad so that output samples sit where the symmetric interpretation puts them (paper, App. C.3).
        total = (self.out_size - 1) * self.down_factor + 1
        total -= (self.in_size + self.conv_kernel - 1) * self.up_factor
        total += up_taps + down_taps - 2
        lo = (total + self.up_factor) // 2
        self.padding = (lo, total - lo, lo, total - lo)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != (self.in_channels, self.in_size, self.in_size):
            raise ValueError(f"x must be [N, {self.in_channels}, {self.in_size}, {self.in_size}], "
                             f"got {list(x.shape)}")
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.in_channels * self.conv_kernel ** 2)
        x = _modulated_conv(x, self.weight, styles, demodulate=not self.is_torgb,
                            padding=self.conv_kernel - 1, input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, up=self.up_factor,
                              down=self.down_factor, padding=self.padding,
                              gain=1.0 if self.is_torgb else _SQRT2,
                              slope=1.0 if self.is_torgb else 0.2, clamp=self.conv_clamp)

    def extra_repr(self) -> str:
        s = self.spec
        return (f"torgb={self.is_torgb}, critical={s['is_critically_sampled']}, "
                f"rate={s['in_rate']}->{s['out_rate']}, cutoff={s['in_cutoff']:g}->{s['out_cutoff']:g}, "
                f"size={self.in_size}->{self.out_size}, channels={self.in_channels}->{self.out_channels}, "
                f"up={self.up_factor}, down={self.down_factor}")


class _Synthesis(nn.Module):
    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        *layers, inp = cfg.layer_specs()
        self.output_scale = cfg.output_scale
        self.input = _FourierInput(cfg.w_dim, inp["channels"], inp["size"], inp["rate"], inp["bandwidth"])
        self.layer_names: list[str] = []
        self.layer_rates: list[int] = [int(inp["rate"])]
        for i, spec in enumerate(layers):
            name = f"L{i}_{spec['out_size']}_{spec['out_channels']}"
            self.add_module(name, _SynthesisLayer(cfg.w_dim, spec, cfg))
            self.layer_names.append(name)
            self.layer_rates.append(spec["out_rate"])

    def forward(self, wp: torch.Tensor) -> torch.Tensor:
        ws = wp.float().unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w)
        return x * self.output_scale if self.output_scale != 1 else x


# --------------------------------------------------------------------------- generator


def input_transform_matrix(translate: tuple[float, float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """The ``synthesis.input.transform`` that moves the image by ``translate`` (in image
    widths, x to the right, y down) and turns it by ``rotate`` degrees about its centre:
    the inverse of that transform, as NVIDIA's visualizer writes it."""
    a = math.radians(rotate)
    m = np.eye(3)
    m[0, 0], m[0, 1], m[0, 2] = math.cos(a), math.sin(a), translate[0]
    m[1, 0], m[1, 1], m[1, 2] = -math.sin(a), math.cos(a), translate[1]
    return torch.as_tensor(np.linalg.inv(m), dtype=torch.float32)


class StyleGAN3Generator(WPlusMixin, nn.Module):
    """StyleGAN3 (T or R) in the layout of NVIDIA's pickles; fills
    :class:`strata.engine.core.protocol.Generator`.

    ``mapping`` is the mapping network itself: ``mapping(z)`` gives ``w`` and its
    parameters keep the pickle's names (``mapping.fc0.weight``, ``mapping.w_avg``).
    """

    architecture = "stylegan3"

    def __init__(self, config: StyleGAN3Config):
        super().__init__()
        self.config = config
        self.synthesis = _Synthesis(config)
        self.mapping = _Mapping(config.z_dim, config.w_dim, config.mapping_layers, config.mapping_lr_multiplier,
                                config.c_dim)

    @property
    def num_classes(self) -> int:
        return self.config.c_dim

    @property
    def class_index(self) -> int:
        """The class a class-conditional model draws (a one-hot label, as NVIDIA's scripts make it)."""
        return self.mapping.class_index

    @class_index.setter
    def class_index(self, value: int) -> None:
        self.mapping.class_index = checked_class(value, self.config.c_dim)

    @property
    def layer_resolutions(self) -> tuple[int, ...]:
        """Each W+ entry's sampling rate: the input's, then each layer's output rate."""
        return tuple(self.synthesis.layer_rates)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def extra_repr(self) -> str:
        c = self.config
        kind = "R" if c.use_radial_filters else "T"
        return (f"config={kind}, resolution={c.resolution}, z_dim={c.z_dim}, w_dim={c.w_dim}, c_dim={c.c_dim}, "
                f"num_layers={self.num_layers}, output_scale={c.output_scale:g}")

    def synthesize(self, wp: torch.Tensor, *, cache=None, update: bool = True) -> torch.Tensor:
        """Image NCHW, raw values (about [-1, 1]) from ``wp`` [N, L, w_dim]; see
        :meth:`WPlusMixin.synthesize` for ``cache``."""
        return super().synthesize(wp.float(), cache=cache, update=update)

    def synthesis_plan(self) -> tuple[list[Step], Callable]:
        """The synthesis as steps for :meth:`synthesize`: entry 0 drives the Fourier input,
        entry ``i + 1`` layer ``i``; the state is the feature map."""
        syn = self.synthesis
        steps = [Step(0, lambda x, wp: syn.input(wp[:, 0]))]
        steps += [Step(i + 1, lambda x, wp, mod=getattr(syn, name), i=i: mod(x, wp[:, i + 1]))
                  for i, name in enumerate(syn.layer_names)]
        scale = syn.output_scale
        return steps, (lambda x: x * scale) if scale != 1 else (lambda x: x)

    @torch.no_grad()
    def with_input_transform(self, translate: tuple[float, float] = (0.0, 0.0),
                             rotate: float = 0.0) -> torch.Tensor:
        """Move the image by ``translate`` (in image widths: ``(0.25, 0)`` moves the content
        a quarter of the image to the right) and turn it by ``rotate`` degrees about its
        centre, as NVIDIA's visualizer does; the defaults restore the identity.

        The input's coordinates span one unit across the output image, so a
        translation moves every Fourier feature's phase; StyleGAN3-T follows it
        with the whole image (sub-pixel amounts included), StyleGAN3-R also turns.
        Writes ``synthesis.input.transform`` and returns the 3x3 matrix written.
        """
        m = input_transform_matrix(translate, rotate).to(self.synthesis.input.transform)
        if not torch.equal(self.synthesis.input.transform, m):  # an unchanged buffer keeps cached frames valid
            self.synthesis.input.transform.copy_(m)
        return m.clone()


# --------------------------------------------------------------------------- loading


_GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")
# Constructor arguments that only matter while training (or for speed) and not for the image.
_TRAINING_ONLY = {"num_fp16_res", "magnitude_ema_beta"}
_MAPPING_TRAINING_ONLY = {"w_avg_beta", "freeze_layers", "freeze_embed"}
_SYNTHESIS_ARGS = {
    "channel_base": "channel_base", "channel_max": "channel_max", "num_layers": "synthesis_layers",
    "num_critical": "num_critical", "first_cutoff": "first_cutoff", "first_stopband": "first_stopband",
    "last_stopband_rel": "last_stopband_rel", "margin_size": "margin_size", "output_scale": "output_scale",
    "conv_kernel": "conv_kernel", "filter_size": "filter_size", "lrelu_upsampling": "lrelu_upsampling",
    "use_radial_filters": "use_radial_filters", "conv_clamp": "conv_clamp",
}


def config_from_nvidia_kwargs(init_args: tuple | list, init_kwargs: dict, *, where: str = "StyleGAN3 generator"
                              ) -> StyleGAN3Config:
    """A :class:`StyleGAN3Config` from the arguments NVIDIA's ``Generator`` was built with."""
    kw = dict(zip(_GENERATOR_ARGS, init_args or ()))
    kw.update(init_kwargs or {})
    out: dict = {}
    try:
        out.update(resolution=int(kw.pop("img_resolution")), z_dim=int(kw.pop("z_dim")),
                   w_dim=int(kw.pop("w_dim")), image_channels=int(kw.pop("img_channels", 3)))
    except KeyError as exc:
        raise ModelLoadError(f"{where}: the recorded constructor arguments lack {exc}") from None
    out["c_dim"] = int(kw.pop("c_dim", 0) or 0)
    mapping = dict(kw.pop("mapping_kwargs", None) or {})
    if "num_layers" in mapping:
        out["mapping_layers"] = int(mapping.pop("num_layers"))
    if "lr_multiplier" in mapping:
        out["mapping_lr_multiplier"] = float(mapping.pop("lr_multiplier"))
    unknown = [f"mapping_kwargs.{k}" for k in mapping if k not in _MAPPING_TRAINING_ONLY]
    for k, v in kw.items():
        if k in _SYNTHESIS_ARGS:
            out[_SYNTHESIS_ARGS[k]] = v
        elif k not in _TRAINING_ONLY:
            unknown.append(k)
    if unknown:
        raise ModelLoadError(f"{where}: unknown StyleGAN3 constructor argument(s) {', '.join(unknown)}")
    try:
        return StyleGAN3Config(**out)
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{where}: bad StyleGAN3 configuration: {exc}") from None


def from_nvidia_record(record, path: object = None, *,
                       state: Mapping[str, torch.Tensor] | None = None) -> StyleGAN3Generator:
    """Build a generator from a pickled ``networks_stylegan3.Generator`` record
    (its ``init_args`` / ``init_kwargs``), loading its tensors strictly.

    ``state`` is the record's flat state dict (``synthesis.input.weight``,
    ``mapping.w_avg`` ...); by default it is read from the record with
    :func:`strata.engine.core.nvidia_pkl.state_dict_of`. ``path`` names the file in
    errors; a mapping passed in its place is taken as ``state``.

    Raises
    ------
    ModelLoadError
        Naming the file and the first key that is missing, left over, of the
        wrong shape, or not finite, or the constructor argument not understood.
    """
    if isinstance(path, Mapping):
        path, state = None, path
    where = str(path) if path is not None else "StyleGAN3 generator"
    if getattr(record, "class_name", "Generator") != "Generator":
        raise ModelLoadError(f"{where}: a {record.class_name}, not a StyleGAN3 Generator")
    cfg = config_from_nvidia_kwargs(getattr(record, "init_args", ()), getattr(record, "init_kwargs", {}),
                                    where=where)
    if state is None:
        from strata.engine.core.nvidia_pkl import state_dict_of

        try:
            state = state_dict_of(record)
        except ValueError as exc:
            raise ModelLoadError(f"{where}: {exc}") from None
    gen = StyleGAN3Generator(cfg)
    own = gen.state_dict()
    for k, v in own.items():
        if k not in state:
            raise ModelLoadError(f"{where}: missing {k} (expected shape {list(v.shape)}) for a StyleGAN3 generator")
        got = state[k]
        if not isinstance(got, torch.Tensor):
            raise ModelLoadError(f"{where}: {k} is a {type(got).__name__}, not a tensor")
        if tuple(got.shape) != tuple(v.shape):
            raise ModelLoadError(f"{where}: {k} has shape {list(got.shape)}, expected {list(v.shape)}")
        if got.is_floating_point() and not torch.isfinite(got).all():
            raise ModelLoadError(f"{where}: {k} holds NaN or infinite values")
    extra = sorted(k for k in state if k not in own)
    if extra:
        more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
        raise ModelLoadError(f"{where}: unexpected {extra[0]}{more} for a StyleGAN3 generator")
    gen.load_state_dict({k: state[k].float() for k in own}, strict=True)
    return gen
