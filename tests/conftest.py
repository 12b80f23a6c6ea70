"""Shared test set-up: where the reference fixtures live, and tiny models."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "fixtures"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    assert SHARED.is_dir(), f"reference fixtures missing at {SHARED} (../shared/fixtures beside the checkout)"
    return SHARED


@pytest.fixture(autouse=True)
def _no_leaked_render_threads():
    """Fail any test that leaves an engine thread running."""
    yield
    leaked = [t for t in threading.enumerate() if t.name.startswith("strata-") and t.is_alive()]
    for t in leaked:
        t.join(5)
    leaked = [t.name for t in leaked if t.is_alive()]
    assert not leaked, f"engine threads left running: {leaked}"


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """A tiny random StyleGAN saved in HiGAN's plain state-dict layout."""
    import torch

    from engine.stylegan import StyleGANConfig, StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(StyleGANConfig.simple(16, z_dim=16, w_dim=16, fmaps_base=128, fmaps_max=16,
                                                mapping_layers=2))
    with torch.no_grad():
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        g.truncation.w_avg.normal_()
    path = tmp_path / "tiny16_generator.pth"
    torch.save(g.state_dict(), path)
    return path
