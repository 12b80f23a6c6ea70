"""Layer-wise edits move the code where, and as far as, the user asked."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit, apply_edits, layerwise_strength
from strata.engine.core.errors import BoundaryError, RecipeError

L, D = 10, 32


def _unit(seed, *shape):
    v = np.random.default_rng(seed).standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@pytest.fixture
def wp():
    return torch.from_numpy(np.random.default_rng(0).standard_normal((3, L, D))).float()


@pytest.fixture
def wood():
    return Boundary("wood", _unit(1, D), level="attribute", layers=(6, 8))


def _truncate(w, w_avg, psi, layers):
    """StyleGAN truncation: w_avg + psi * (w - w_avg) on the first `layers` layers."""
    out = np.repeat(w[:, None, :], L, axis=1) if w.ndim == 2 else w.copy()
    out[:, :layers] = w_avg + psi * (out[:, :layers] - w_avg)
    return out


def test_only_chosen_layers_move(wp, wood):
    out = apply_edits(wp, [Edit(wood, 2.5, (3, 5))])
    moved = (out - wp).norm(dim=-1)  # [N, L]
    assert torch.all(moved[:, 3:6] > 0.1)
    assert torch.equal(out[:, :3], wp[:, :3]) and torch.equal(out[:, 6:], wp[:, 6:])


def test_step_on_untruncated_layer_has_norm_strength_along_boundary(wp, wood):
    out = apply_edits(wp, [Edit(wood, -1.75, (0, L - 1))])
    delta = (out - wp).double().numpy()
    np.testing.assert_allclose(np.linalg.norm(delta, axis=-1), 1.75, rtol=1e-5)
    np.testing.assert_allclose(delta, -1.75 * np.broadcast_to(wood.vector, delta.shape), atol=1e-5)


def test_truncated_layers_get_psi_times_strength(wp, wood):
    out = apply_edits(wp, [Edit(wood, 2.0, (0, L - 1))], truncation_psi=0.7, truncation_layers=8)
    norms = np.linalg.norm((out - wp).double().numpy(), axis=-1)
    np.testing.assert_allclose(norms[:, :8], 0.7 * 2.0, rtol=1e-5)
    np.testing.assert_allclose(norms[:, 8:], 2.0, rtol=1e-5)


def test_editing_truncated_code_equals_truncating_edited_code(wood):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, D))
    w_avg = rng.standard_normal(D)
    psi, layers, s = 0.7, 8, 3.0
    expected = _truncate(w + s * wood.vector.astype(np.float64), w_avg, psi, layers)
    truncated = torch.from_numpy(_truncate(w, w_avg, psi, layers))
    got = apply_edits(truncated, [Edit(wood, s, (0, L - 1))],
                      truncation_psi=psi, truncation_layers=layers)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-6)


def test_edits_compose_additively(wp, wood):
    door = Boundary("door", _unit(2, D))
    e1, e2 = Edit(wood, 1.5, (2, 7)), Edit(door, -0.8, (5, 9))
    together = apply_edits(wp, [e1, e2], truncation_psi=0.5, truncation_layers=4)
    one_by_one = apply_edits(apply_edits(wp, [e1], truncation_psi=0.5, truncation_layers=4), [e2],
                             truncation_psi=0.5, truncation_layers=4)
    torch.testing.assert_close(together, one_by_one, rtol=0, atol=1e-5)
    reversed_ = apply_edits(wp, [e2, e1], truncation_psi=0.5, truncation_layers=4)
    torch.testing.assert_close(together, reversed_, rtol=0, atol=0)
    # Equal and opposite edits cancel.
    back = apply_edits(wp, [e1, Edit(wood, -1.5, (2, 7))])
    torch.testing.assert_close(back, wp, rtol=0, atol=1e-6)


def test_zero_strength_changes_nothing_and_input_is_untouched(wp, wood):
    before = wp.clone()
    out = apply_edits(wp, [Edit(wood, 0.0, (0, L - 1))])
    assert torch.equal(out, wp)
    out2 = apply_edits(wp, [Edit(wood, 4.0, (0, L - 1))])
    assert torch.equal(wp, before)
    assert out2.data_ptr() != wp.data_ptr()


def test_layerwise_boundary_uses_each_layers_direction(wp):
    lw = Boundary("lw", _unit(3, L, D))
    out = apply_edits(wp, [Edit(lw, 2.0, (1, 4))])
    delta = (out - wp).double().numpy()
    for layer in range(1, 5):
        np.testing.assert_allclose(delta[:, layer], np.broadcast_to(2.0 * lw.vector_for_layer(layer),
                                                                    (3, D)), atol=1e-5)
    assert np.all(delta[:, 5:] == 0) and np.all(delta[:, :1] == 0)


@pytest.mark.parametrize("layers", [(0, L), (L, L + 2)])
def test_out_of_range_layers_raise(wp, wood, layers):
    with pytest.raises(BoundaryError, match=f"outside the model's layers 0-{L - 1}"):
        apply_edits(wp, [Edit(wood, 1.0, layers)])


@pytest.mark.parametrize("layers", [(5, 2), (-1, 3), (1.5, 3), (1,)])
def test_bad_layer_ranges_are_refused(wood, layers):
    with pytest.raises(ValueError):
        Edit(wood, 1.0, layers)


def test_wrong_dimension_names_both(wp):
    wide = Boundary("wide", _unit(4, 512))
    with pytest.raises(BoundaryError, match=f"dimension 512 but the model's W space has {D}"):
        apply_edits(wp, [Edit(wide, 1.0, (0, 1))])
    lw = Boundary("lw", _unit(4, L + 1, D))
    with pytest.raises(BoundaryError, match="per-layer directions"):
        apply_edits(wp, [Edit(lw, 1.0, (0, 1))])


def test_an_edit_at_strength_zero_that_does_not_fit_is_still_refused(wp, wood):
    # A row the user has not moved yet must not hide that its boundary belongs to another model.
    wide = Boundary("wide", _unit(4, 512))
    with pytest.raises(BoundaryError, match="wide: boundary has dimension 512"):
        apply_edits(wp, [Edit(wood, 1.0, (0, 1)), Edit(wide, 0.0, (0, 1))])


def test_fits_tells_which_edits_a_model_takes(wood):
    assert Edit(wood, 1.0, (0, L - 1)).fits(w_dim=D, num_layers=L)
    assert not Edit(wood, 1.0, (0, L)).fits(w_dim=D, num_layers=L)  # past the last layer
    assert not Edit(wood, 1.0, (0, 1)).fits(w_dim=D + 1, num_layers=L)
    lw = Boundary("lw", _unit(4, L, D))
    assert Edit(lw, 1.0, (0, 1)).fits(w_dim=D, num_layers=L)
    assert not Edit(lw, 1.0, (0, 1)).fits(w_dim=D, num_layers=L + 2)


def test_wp_shape_and_dtype_checked(wp, wood):
    with pytest.raises(ValueError, match=r"\[N, num_layers, w_dim\]"):
        apply_edits(wp[0], [Edit(wood, 1.0, (0, 1))])
    with pytest.raises(ValueError, match="floating point"):
        apply_edits(wp.long(), [Edit(wood, 1.0, (0, 1))])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_keeps_dtype_and_device(wp, wood, dtype):
    out = apply_edits(wp.to(dtype), [Edit(wood, 1.0, (0, 2))])
    assert out.dtype == dtype and out.device == wp.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda(wp, wood):
    out = apply_edits(wp.cuda(), [Edit(wood, 1.0, (0, 2))], truncation_psi=0.7, truncation_layers=8)
    assert out.is_cuda
    torch.testing.assert_close(out.cpu(), apply_edits(wp, [Edit(wood, 1.0, (0, 2))],
                                                      truncation_psi=0.7, truncation_layers=8))


def test_layerwise_strength():
    np.testing.assert_array_equal(layerwise_strength(10, 0.7, 8), [0.7] * 8 + [1.0] * 2)
    np.testing.assert_array_equal(layerwise_strength(4, 0.7, 8), [0.7] * 4)
    np.testing.assert_array_equal(layerwise_strength(4, 0.5, 0), [1.0] * 4)
    with pytest.raises(ValueError):
        layerwise_strength(0, 0.7, 8)


def test_edit_dict_round_trip(wood):
    edit = Edit(wood, 1.25, (6, 8))
    data = json.loads(json.dumps(edit.to_dict()))
    assert data == {"boundary": "wood", "boundary_fingerprint": wood.fingerprint,
                    "strength": 1.25, "layers": [6, 8]}
    again = Edit.from_dict(data, wood)
    assert (again.boundary, again.strength, again.layers) == (wood, 1.25, (6, 8))
    other = Boundary("wood", _unit(9, D))
    with pytest.raises(RecipeError, match="fingerprint"):
        Edit.from_dict(data, other)
    assert Edit.from_dict(data, other, check_fingerprint=False).boundary is other
    with pytest.raises(RecipeError):
        Edit.from_dict({"boundary": "wood"}, wood)


def test_default_layers(wood):
    assert Edit.with_default_layers(wood, 1.0, num_layers=L).layers == (6, 8)
    plain = Boundary("plain", _unit(6, D))
    assert Edit.with_default_layers(plain, 1.0, num_layers=L).layers == (0, L - 1)
    # HiGAN's 6-11 on a model with 8 layers: clipped to what exists.
    higan = Boundary("wood", _unit(7, D), layers=(6, 11))
    assert Edit.with_default_layers(higan, 1.0, num_layers=8).layers == (6, 7)
    assert Edit.with_default_layers(higan, 1.0, num_layers=4).layers == (3, 3)
