"""On a CUDA machine, every format renders on the GPU as its authors' code does (run where CUDA is present)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strata.engine.core.models import load_generator
from tests._reference import close

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

# (fixture stem, file suffix, the code array, the image array)
CASES = [
    ("genforce_stylegan/stylegan_tiny32", ".pth", "wp_layerwise", "image_layerwise"),
    ("genforce_stylegan2/stylegan2_tiny32", ".pth", "wp_layerwise", "image_layerwise"),
    ("rosinality_stylegan2/stylegan2_rosinality_tiny32", ".pt", "wp_layerwise", "image_layerwise"),
    ("nvidia_pkl/stylegan2_ada_tiny32", ".pkl", "ws_layerwise", "image_layerwise"),
    ("nvidia_pkl/stylegan3t_tiny32", ".pkl", "ws_layerwise", "image_layerwise"),
]


@pytest.mark.parametrize("stem, suffix, code, image", CASES)
def test_a_model_opens_on_cuda_by_default_and_reproduces_its_fixture(fixtures_dir, stem, suffix, code, image):
    e = np.load(fixtures_dir / f"{stem}_expected.npz")
    g = load_generator(fixtures_dir / f"{stem}{suffix}").generator  # no device: CUDA when present
    assert next(g.parameters()).is_cuda
    # Full float32 (no TF32), so that the fixture's tolerance applies.
    conv, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.inference_mode():
            got = g.synthesize(torch.from_numpy(e[code]).cuda()).cpu().numpy()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = conv, matmul
    assert close(got, e[image])
