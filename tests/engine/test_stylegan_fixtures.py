"""HiGAN's StyleGAN checkpoints load by path alone and reproduce their authors' outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from strata.engine.core.render import to_uint8
from tests._reference import close, higan_pixels

NAMES = ["stylegan_tiny32", "stylegan_tiny32_fused"]


@pytest.fixture(params=NAMES)
def fixture(request, reference):
    return reference(f"genforce_stylegan/{request.param}", ".pth")


def test_configuration_is_inferred_from_keys_and_shapes(fixture):
    g, _, meta = fixture
    assert g.resolution == meta["resolution"]
    assert g.z_dim == meta["z_space_dim"] and g.w_dim == meta["w_space_dim"]
    assert g.num_layers == meta["num_layers"]
    assert g.config.mapping_layers == meta["num_mapping_layers"]
    res = [4 * 2**i for i in range(len(g.config.channels))]
    assert list(g.config.channels) == [min(meta["fmaps_base"] // r, meta["fmaps_max"]) for r in res]
    assert all(g.config.fused) == (meta["fused_scale"] is True)
    assert g.layer_resolutions == (4, 4, 8, 8, 16, 16, 32, 32)
    # Every key of the file is used, with its shape (strict load).
    own = {k: list(v.shape) for k, v in g.state_dict().items()}
    assert own == meta["keys"]


def test_mapping_and_truncation(fixture):
    g, e, meta = fixture
    with torch.inference_mode():
        w = g.mapping(torch.from_numpy(e["z"]))
        assert close(w, e["w"])
        assert close(g.truncate(w, meta["truncation_psi"], meta["truncation_layers"]), e["wp"])
        assert close(g.truncate(w, 1.0), e["wp_untruncated"])


@pytest.mark.parametrize("which", ["", "_untruncated", "_layerwise"])
def test_synthesis_from_wp(fixture, which):
    g, e, _ = fixture
    with torch.inference_mode():
        img = g.synthesize(torch.from_numpy(e["wp" + which]))
    assert close(img, e["image" + which])
    # And pixels as HiGAN converts them: identical uint8 but for rounding at .5 boundaries.
    ours = to_uint8(img)
    theirs = higan_pixels(e["image" + which])
    assert np.abs(ours.astype(int) - theirs).max() <= 1
    assert (ours == theirs).mean() > 0.99


def test_full_forward_z_to_image(fixture):
    g, e, meta = fixture
    with torch.inference_mode():
        img = g.synthesize(g.truncate(g.mapping(torch.from_numpy(e["z"])), meta["truncation_psi"]))
    assert close(img, e["image"])


def test_wrong_shapes_are_refused_with_the_expected_shape(fixture):
    g, _, _ = fixture
    with pytest.raises(ValueError, match=r"\[N, 8, 64\]"):
        g.synthesize(torch.zeros(1, 7, 64))
    with pytest.raises(ValueError, match=r"\[N, 64\]"):
        g.mapping(torch.zeros(2, 32))
