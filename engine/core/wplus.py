"""W+ helpers shared by every style-based generator: broadcast, truncation, shape checks, synthesis."""

from __future__ import annotations

import torch

from strata.engine.core.incremental import SynthesisCache, run_synthesis


class WPlusMixin:
    """The protocol's sizes read from ``self.config``, ``truncate``, ``device`` and the
    ``wp`` shape check, for a generator that adds ``w_avg`` and ``layer_resolutions``
    (see strata.engine.core.protocol)."""

    @property
    def num_layers(self) -> int:
        return self.config.num_layers

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def resolution(self) -> int:
        return self.config.resolution

    @property
    def default_psi(self) -> float:
        return self.config.truncation_psi

    @property
    def truncation_layers(self) -> int:
        """How many W+ entries truncation pulls by default: the config's count, or every entry."""
        t = getattr(self.config, "truncation_layers", None)
        return self.num_layers if t is None else min(t, self.num_layers)

    @property
    def device(self) -> torch.device:
        return self.w_avg.device

    def truncate(self, w: torch.Tensor, psi: float = 1.0, layers: int | None = None) -> torch.Tensor:
        """Broadcast ``w`` [N, w_dim] to ``wp`` [N, L, w_dim] (a ``wp`` passes
        through) and pull the first ``layers`` layers toward ``w_avg`` by ``psi``."""
        if w.ndim == 2:
            w = w.unsqueeze(1).expand(-1, self.num_layers, -1)
        if w.ndim != 3 or w.shape[1:] != (self.num_layers, self.w_dim):
            raise ValueError(f"w must be [N, {self.w_dim}] or [N, {self.num_layers}, {self.w_dim}], "
                             f"got {list(w.shape)}")
        layers = self.truncation_layers if layers is None else layers
        coefs = torch.ones(1, self.num_layers, 1, device=w.device, dtype=w.dtype)
        coefs[:, :layers] = psi
        w_avg = self.w_avg.view(1, 1, -1).to(w.dtype)
        return w_avg + (w - w_avg) * coefs

    def check_wp(self, wp: torch.Tensor) -> None:
        if wp.ndim != 3 or wp.shape[1:] != (self.num_layers, self.w_dim):
            raise ValueError(f"wp must be [N, {self.num_layers}, {self.w_dim}], got {list(wp.shape)}")

    def synthesis_token(self) -> tuple | None:
        """What else the image depends on besides ``wp`` and the weights (None: never cache,
        e.g. while noise is drawn afresh). Generators add their own switches."""
        return ()

    def synthesize(self, wp: torch.Tensor, *, cache: SynthesisCache | None = None,
                   update: bool = True) -> torch.Tensor:
        """Image NCHW, raw values (about [-1, 1]) from ``wp`` [N, L, w_dim].

        With ``cache`` (:class:`~strata.engine.core.incremental.SynthesisCache`),
        only the layers from the first W+ entry that differs from the cached
        code are run again; the pixels are those of a full synthesis. Without
        ``update`` the cache is only read (variants of a cached code).
        """
        self.check_wp(wp)
        steps, finish = self.synthesis_plan()
        n = wp.shape[0]
        # A large batch on a CPU is drawn a few images at a time: its activations then stay in
        # the processor's caches (the elementwise layers are bound by memory bandwidth; 1.5x on
        # the bundled model at batch 100) and a strip of 256 px images does not hold seven
        # images' activations at once. Variants read from a cached single code split the same way.
        splittable = cache is None or (not update and cache.batch == 1)
        chunk = self.cpu_chunk() if splittable and wp.device.type == "cpu" and not torch.is_grad_enabled() else n
        if n <= chunk:
            return run_synthesis(self, wp, steps, finish, cache, update=update)
        parts, starts = [], []
        for i in range(0, n, chunk):
            parts.append(run_synthesis(self, wp[i:i + chunk], steps, finish, cache, update=False))
            starts.append(None if cache is None else cache.last_start)
        if cache is not None:  # where the whole batch started: the earliest of its parts
            cache.last_start = min(starts)
        return torch.cat(parts)

    def cpu_chunk(self) -> int:
        """How many images a CPU synthesis draws at once: activations of about 4 MB at full resolution."""
        per_image = self.resolution ** 2 * 16 * 4
        return max(1, (4 << 20) // per_image)

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.synthesize(self.truncate(self.mapping(z), psi))
