"""Incremental synthesis: an edit re-runs only the layers from its first W+ entry, and the
pixels are those of a full synthesis, on every architecture Strata opens."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strata import assets
from strata.engine.core.incremental import SynthesisCache
from strata.engine.core.models import load_generator
from tests._models import tiny_generator

FIXTURE_MODELS = [
    "genforce_stylegan/stylegan_tiny32.pth",
    "genforce_stylegan/stylegan_tiny32_fused.pth",
    "genforce_stylegan2/stylegan2_tiny32.pth",
    "rosinality_stylegan2/stylegan2_rosinality_tiny32.pt",
    "nvidia_pkl/stylegan2_ada_tiny32.pkl",
    "nvidia_pkl/stylegan2_ada_cond_tiny32.pkl",
    "nvidia_pkl/stylegan3t_tiny32.pkl",
]


@pytest.fixture(params=FIXTURE_MODELS + ["bundled"], scope="module")
def generator(request):
    from tests._reference import SHARED_FIXTURES

    path = assets.default_model_path() if request.param == "bundled" else SHARED_FIXTURES / request.param
    return load_generator(path, device="cpu").generator


def _random_edits(g, rng, count):
    """(wp, first entry changed) pairs: each a random move of the previous code on a random range."""
    L, D = g.num_layers, g.w_dim
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.from_numpy(rng.standard_normal((1, g.z_dim)).astype(np.float32))), 0.7)
    out = []
    for _ in range(count):
        first = int(rng.integers(0, L))
        last = int(rng.integers(first, L))
        step = torch.zeros_like(wp)
        step[:, first:last + 1] = torch.from_numpy(rng.standard_normal(D).astype(np.float32)) * float(rng.uniform(-3, 3))
        wp = wp + step
        out.append((wp, first))
    return out


def test_incremental_synthesis_equals_full_synthesis(generator, one_thread):
    g = generator
    rng = np.random.default_rng(18)
    cache = SynthesisCache()
    with torch.inference_mode():
        codes = _random_edits(g, rng, 12)
        g.synthesize(codes[0][0], cache=cache)
        assert cache.last_start == 0  # an empty cache: the whole synthesis
        for wp, first in codes[1:]:
            got = g.synthesize(wp, cache=cache)
            assert cache.last_start == first  # only the layers from the edit's first entry ran again
            expected = g.synthesize(wp)
            assert (got - expected).abs().max().item() <= 1e-5
        # The same code again: nothing to re-run, the same pixels.
        again = g.synthesize(codes[-1][0], cache=cache)
        assert cache.last_start == g.num_layers
        assert torch.equal(again, got)


def test_a_batch_of_variants_reads_a_cached_code(generator, one_thread):
    """The preview strip and the layer-wise rescoring: variants of one cached code, as one batch."""
    g = generator
    rng = np.random.default_rng(7)
    cache = SynthesisCache()
    with torch.inference_mode():
        (base, _), = _random_edits(g, rng, 1)
        g.synthesize(base, cache=cache)
        k = g.num_layers // 2
        direction = torch.from_numpy(rng.standard_normal(g.w_dim).astype(np.float32))
        batch = base.repeat(5, 1, 1)
        batch[:, k:] += torch.linspace(-2, 2, 5).view(5, 1, 1) * direction
        got = g.synthesize(batch, cache=cache, update=False)
        assert cache.last_start == k
        full = g.synthesize(batch)
        # Layers before k ran at batch 1, the full synthesis at batch 5: CPU kernels round a
        # batch differently, so the bound is float32 rounding at the image's scale (fixtures' rule).
        assert (got - full).abs().max().item() <= 1e-5 * max(1.0, full.abs().max().item())
        # Drawn two at a time (as a CPU draws a large model's strip): the same images.
        g.cpu_chunk = lambda: 2
        try:
            split = g.synthesize(batch, cache=cache, update=False)
        finally:
            del g.cpu_chunk
        assert cache.last_start == k
        assert (split - full).abs().max().item() <= 1e-5 * max(1.0, full.abs().max().item())
        # Reading did not replace the cached code.
        g.synthesize(base, cache=cache)
        assert cache.last_start == g.num_layers


def test_progressive_levels_of_detail_are_incremental_too(one_thread):
    g = tiny_generator()
    rng = np.random.default_rng(3)
    for lod in (1.0, 0.5):
        g.synthesis.lod.fill_(lod)
        cache = SynthesisCache()
        with torch.inference_mode():
            codes = _random_edits(g, rng, 6)
            for wp, _ in codes:
                assert (g.synthesize(wp, cache=cache) - g.synthesize(wp)).abs().max().item() <= 1e-5
    g.synthesis.lod.zero_()


def test_what_invalidates_the_cache(one_thread):
    """Noise, weights, precision and the level of detail each invalidate; the pixels stay right."""
    g = tiny_generator()
    cache = SynthesisCache()
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(1, g.z_dim)), 0.7)
        g.synthesize(wp, cache=cache)
        g.synthesis.layer3.epilogue.apply_noise.noise.normal_()  # new noise
        assert torch.equal(g.synthesize(wp, cache=cache), g.synthesize(wp))
        assert cache.last_start == 0
        g.synthesis.output2.bias.add_(0.5)  # a weight written in place
        assert torch.equal(g.synthesize(wp, cache=cache), g.synthesize(wp))
        assert cache.last_start == 0
        with torch.autocast("cpu", dtype=torch.bfloat16):
            g.synthesize(wp, cache=cache)
            assert cache.last_start == 0  # another precision
        g.synthesize(wp, cache=cache)
        assert cache.last_start == 0  # and back
        g.set_noise_mode(True)  # fresh noise each call: never cached
        g.synthesize(wp, cache=cache)
        g.synthesize(wp, cache=cache)
        assert cache.last_start == 0
        g.set_noise_mode(False)
        other = load_generator(assets.default_model_path(), "cpu").generator  # another model
        owp = other.truncate(other.mapping(torch.randn(1, other.z_dim)), 0.7)
        other.synthesize(owp, cache=cache)
        assert cache.last_start == 0


def test_the_stylegan3_input_transform_invalidates(fixtures_dir, one_thread):
    g = load_generator(fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl", "cpu").generator
    cache = SynthesisCache()
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(1, g.z_dim)), 0.7)
        g.synthesize(wp, cache=cache)
        g.with_input_transform(rotate=0.0)  # unchanged: still cached
        g.synthesize(wp, cache=cache)
        assert cache.last_start == g.num_layers
        g.with_input_transform(translate=(0.1, 0.0), rotate=10.0)
        moved = g.synthesize(wp, cache=cache)
        assert cache.last_start == 0
        assert torch.equal(moved, g.synthesize(wp))
        g.with_input_transform()


def test_the_cache_stays_within_its_bound(one_thread):
    g = load_generator(assets.default_model_path(), "cpu").generator
    with torch.inference_mode():
        wp = g.truncate(g.mapping(torch.randn(1, g.z_dim)), 0.7)
        unbounded = SynthesisCache()
        g.synthesize(wp, cache=unbounded)
        small = SynthesisCache(max_bytes=unbounded.nbytes // 3)
        g.synthesize(wp, cache=small)
        assert 0 < small.nbytes <= unbounded.nbytes // 3
        edited = wp.clone()
        edited[:, -2:] += 1.0
        assert (g.synthesize(edited, cache=small) - g.synthesize(edited)).abs().max().item() <= 1e-5
