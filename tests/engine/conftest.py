"""Fixtures the engine tests share."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module: small renders only spin a second thread
    when another process is busy on the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def reference(fixtures_dir):
    """Open a reference model: ``reference("genforce_stylegan/stylegan_tiny32", ".pth")``
    gives (generator, expected arrays, the fixture's JSON description)."""
    from strata.engine.core.models import load_generator

    def open_reference(stem: str, suffix: str):
        base = fixtures_dir / stem
        model = load_generator(base.with_suffix(suffix), device="cpu")
        return model.generator, np.load(f"{base}_expected.npz"), json.loads(base.with_suffix(".json").read_text())

    return open_reference
