"""Turn a :class:`~strata.engine.core.scene.Scene` into pixels.

:class:`Renderer` is synchronous and keeps three caches: the loaded model
(one copy per file in the process, :mod:`strata.engine.core.model_cache`),
the mapping output of the current code, and the synthesis activations of
the last frame (:class:`~strata.engine.core.incremental.SynthesisCache`), so
that a slider move re-runs truncation, the edits and only the layers from
the first W+ entry the move changed. :class:`RenderWorker`
(``strata.engine.core.worker``) runs it on a thread; the command line and
tests call it directly.

Precision: ``"exact"`` (float32, the default, what saving, ``strata
render`` and recipes use) or ``"fast"`` (bfloat16 on a CPU with native
bfloat16, bfloat16 or float16 on CUDA; exact elsewhere), for frames shown
while a slider moves. A generator that offers ``reduced_precision(dtype)``
(StyleGAN v1) draws fast frames with a copy of its synthesis prepared once
in that type (weights cast and folded, activations in that type), kept by
the renderer until the weights change; the others run under autocast.
:attr:`RenderResult.precision` says which precision drew a frame.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from strata.engine.core.device import describe, keep_freed_memory, resolve_device
from strata.engine.core.edits import apply_edits
from strata.engine.core.errors import StrataError
from strata.engine.core.incremental import SynthesisCache, synthesis_context
from strata.engine.core.model_cache import load_shared, private_view
from strata.engine.core.models import LoadedModel
from strata.engine.core.scene import Scene, code_mismatch

__all__ = ["PRECISIONS", "ModelInfo", "RenderRequest", "RenderResult", "Renderer", "fast_dtype", "to_uint8"]

PRECISIONS = ("exact", "fast")


def fast_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast type of the fast precision on ``device``; None where it would not be faster.

    CPU: bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX);
    emulated bfloat16 is slower than float32. CUDA: bfloat16 where supported
    (its range is float32's, so no activation overflows), else float16.
    """
    device = torch.device(device)
    if device.type == "cpu":
        native = any(getattr(torch.cpu, f, lambda: False)() for f in
                     ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
        return torch.bfloat16 if native else None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def _precision_name(precision: str, device: torch.device) -> str:
    if precision not in PRECISIONS:
        raise StrataError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    dtype = fast_dtype(device) if precision == "fast" else None
    return "exact" if dtype is None else str(dtype).removeprefix("torch.")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """NCHW raw output -> NHWC uint8 as HiGAN converts: ``clip((x + 1) * 127.5 + 0.5)``."""
    x = (images.detach().float() + 1.0) * 127.5 + 0.5
    return x.clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


@dataclass(frozen=True)
class ModelInfo:
    """What the window needs to know of a model (plain values, crosses threads)."""

    path: str
    name: str
    description: str
    fingerprint: str
    resolution: int
    z_dim: int
    w_dim: int
    num_layers: int
    layer_resolutions: tuple[int, ...]
    truncation_layers: int
    default_psi: float
    device: str
    num_classes: int = 0  # a class-conditional model's classes (0: unconditional)
    input_transform: bool = False  # the model's input can be moved and turned (StyleGAN3)

    @classmethod
    def of(cls, model: LoadedModel) -> ModelInfo:
        g = model.generator
        return cls(str(model.path), model.name, model.description, model.fingerprint,
                   g.resolution, g.z_dim, g.w_dim, g.num_layers, tuple(g.layer_resolutions),
                   g.truncation_layers, float(g.default_psi), describe(g.device),
                   int(getattr(g, "num_classes", 0) or 0), hasattr(g, "with_input_transform"))


@dataclass(frozen=True, eq=False)
class RenderRequest:
    """Render ``scene`` with the model at ``model_path``; ``stamp`` orders requests."""

    stamp: int
    model_path: str
    scene: Scene
    precision: str = "exact"  # or "fast": a reduced-precision frame, e.g. while a slider moves


@dataclass(frozen=True, eq=False)
class RenderResult:
    """The answer to one request. ``error`` is set instead of raising."""

    request: RenderRequest
    image: np.ndarray | None = None  # uint8 HxWx3
    wp: np.ndarray | None = None  # the edited code, float32 [1, L, w_dim]
    seconds: float = 0.0
    model: ModelInfo | None = None
    error: str = ""
    precision: str = "exact"  # what drew the image: "exact" (float32), "bfloat16" or "float16"
    first_layer: int | None = None  # the first W+ entry synthesis re-ran from (num_layers: none)

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def exact(self) -> bool:
        """True when the image is the float32 frame that saving writes."""
        return self.precision == "exact"


class Renderer:
    """Synchronous renderer with a model cache, a mapping cache and a synthesis cache.

    Parameters
    ----------
    device : str, torch.device or None
        ``None``/``"auto"``: CUDA, then Apple MPS, then CPU.
    cache_bytes : int
        Bound on the synthesis activations kept per precision.
    """

    def __init__(self, device: str | torch.device | None = None, *, cache_bytes: int | None = None):
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            keep_freed_memory()
        self._shared: LoadedModel | None = None  # the process-wide model (keeps it alive)
        self._model: LoadedModel | None = None  # this renderer's view of it
        self._model_key: tuple | None = None
        self._info: ModelInfo | None = None
        self._w_key: tuple | None = None
        self._w: torch.Tensor | None = None
        self._cache_bytes = cache_bytes
        self._caches: dict[str, SynthesisCache] = {}
        self._reduced: tuple | None = None  # (generator context, precision, its reduced-precision view)
        self.mapping_runs = 0  # counted for tests: slider moves must not re-map
        self.last_precision = "exact"
        self.last_first_layer: int | None = None

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    def cache(self, precision: str = "exact") -> SynthesisCache:
        """The synthesis cache of one precision (each keeps its own last frame)."""
        if precision not in self._caches:
            self._caches[precision] = (SynthesisCache() if self._cache_bytes is None
                                       else SynthesisCache(self._cache_bytes))
        return self._caches[precision]

    def clear_caches(self) -> None:
        """Drop the mapped code and every kept activation (the model stays loaded)."""
        self._w_key = self._w = None
        self._reduced = None
        for c in self._caches.values():
            c.clear()

    def load(self, path: str | Path) -> LoadedModel:
        path = Path(path).resolve()
        try:
            st = path.stat()
            key = (str(path), st.st_mtime_ns, st.st_size)  # a file rewritten in place is reloaded
        except OSError:
            key = (str(path), None, None)
        if self._model is None or self._model_key != key:
            shared = load_shared(path, self.device)
            # Own buffers and attributes (input transform, class), shared weights.
            model = private_view(shared)
            self._shared, self._model, self._info, self._model_key = shared, model, ModelInfo.of(model), key
            self.clear_caches()
        return self._model

    def _class_of(self, scene: Scene) -> int | None:
        """The class the scene draws: its own, else 0 on a class-conditional model; None without classes."""
        classes = int(getattr(self._model.generator, "num_classes", 0) or 0)
        if not classes:
            if scene.class_index is not None:
                raise StrataError(f"class {scene.class_index}: this model is not class-conditional")
            return None
        label = 0 if scene.class_index is None else scene.class_index
        if label >= classes:
            raise StrataError(f"class {label}: this model has classes 0-{classes - 1}")
        return label

    def _set_input_transform(self, scene: Scene) -> None:
        """Every frame sets the transform (identity where the scene has none): the generator is shared."""
        g = self._model.generator
        if not hasattr(g, "with_input_transform"):
            if scene.input_transform is not None:
                raise StrataError("this model's input cannot be moved or turned (StyleGAN3 only)")
            return
        x, y, degrees = scene.input_transform or (0.0, 0.0, 0.0)
        g.with_input_transform(translate=(x, y), rotate=degrees)

    def base_wp(self, scene: Scene) -> torch.Tensor:
        g = self._model.generator
        code = scene.code
        problem = code_mismatch(code, z_dim=g.z_dim, w_dim=g.w_dim, num_layers=g.num_layers)
        if problem:
            raise StrataError(problem)
        label = self._class_of(scene)
        if code.space == "wp":
            # A wp code is used as given: it was truncated (or not) when it was made.
            return torch.from_numpy(code.array.copy()).to(self.device)
        if self._w_key != (code.key(), label):
            if code.space == "z":
                if label is not None:
                    g.class_index = label  # the mapping embeds it with z
                w = g.mapping(torch.from_numpy(np.array(code.z(g.z_dim))).to(self.device))
                self.mapping_runs += 1
            else:
                w = torch.from_numpy(code.array.copy()).to(self.device)
            self._w_key, self._w = (code.key(), label), w
        return g.truncate(self._w, scene.psi)

    def edited_wp(self, scene: Scene) -> torch.Tensor:
        """The scene's code with truncation and every edit applied ([1, L, w_dim]); call under
        ``torch.inference_mode()`` with the model loaded."""
        g = self._model.generator
        self._set_input_transform(scene)
        wp = self.base_wp(scene)
        # All edits, not only the active ones: apply_edits checks each against the model
        # (once per frame) and skips those at strength 0.
        return apply_edits(wp, scene.edits, truncation_psi=scene.psi, truncation_layers=g.truncation_layers)

    def synthesize(self, wp: torch.Tensor, precision: str = "exact", *, update: bool = True) -> torch.Tensor:
        """Raw images of ``wp`` through this renderer's cache of that precision (see
        :class:`~strata.engine.core.incremental.SynthesisCache`); ``update=False`` only reads it."""
        g = self._model.generator
        name = _precision_name(precision, self.device)
        cache = self.cache(name) if hasattr(g, "synthesis_plan") else None
        reduced = None if name == "exact" else self._reduced_view(g, name, wp)
        if name == "exact":
            out = g.synthesize(wp, cache=cache, update=update) if cache is not None else g.synthesize(wp)
        elif reduced is not None:
            out = reduced.synthesize(wp, cache=cache, update=update)
        else:
            with torch.autocast(self.device.type, dtype=getattr(torch, name)):
                out = g.synthesize(wp, cache=cache, update=update) if cache is not None else g.synthesize(wp)
        self.last_precision = name
        self.last_first_layer = cache.last_start if cache is not None else 0
        return out

    def _reduced_view(self, g, name: str, wp: torch.Tensor):
        """The generator's synthesis prepared once in the fast precision ``name`` (weights cast
        and folded ahead, activations in that type; ``reduced_precision``), or None where the
        generator has none: then autocast. Built again, and that precision's activations
        dropped, whenever anything the generator's synthesis depends on changed."""
        if not hasattr(g, "reduced_precision"):
            return None
        key = synthesis_context(g, wp)
        if key is None:  # nothing cacheable (fresh noise): no prepared copy either
            self._reduced = None
            return None
        if self._reduced is None or self._reduced[0] != key or self._reduced[1] != name:
            self.cache(name).clear()
            self._reduced = (key, name, g.reduced_precision(getattr(torch, name)))
        return self._reduced[2]

    def render_scene(self, scene: Scene, model_path: str | Path | None = None, *,
                     precision: str = "exact") -> tuple[np.ndarray, np.ndarray]:
        """Pixels (uint8 HxWx3) and the edited wp of a scene; raises StrataError.

        ``precision="fast"`` draws with the reduced precision of :func:`fast_dtype`
        where there is one (see :attr:`last_precision`); the default is float32.
        """
        if model_path is not None:
            self.load(model_path)
        if self._model is None:
            raise StrataError("no model is open")
        with torch.inference_mode():
            wp = self.edited_wp(scene)
            image = to_uint8(self.synthesize(wp, precision))[0]
        return image, wp.float().cpu().numpy()

    def __call__(self, request: RenderRequest) -> RenderResult:
        """Render one request; never raises (errors come back in the result)."""
        t0 = time.perf_counter()
        try:
            image, wp = self.render_scene(request.scene, request.model_path,
                                          precision=getattr(request, "precision", "exact"))
            return RenderResult(request, image, wp, time.perf_counter() - t0, self._info,
                                precision=self.last_precision, first_layer=self.last_first_layer)
        except StrataError as exc:
            return RenderResult(request, None, None, time.perf_counter() - t0, self._info, str(exc))
        except Exception as exc:  # a bug, not a user's mistake: keep the detail
            tb = traceback.format_exc(limit=3)
            return RenderResult(request, None, None, time.perf_counter() - t0, self._info,
                                f"internal error: {type(exc).__name__}: {exc}\n{tb}")
