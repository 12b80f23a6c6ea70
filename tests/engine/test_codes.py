"""Codes against a model: one shape check decides what fits, for rendering and for imports."""

from __future__ import annotations

import numpy as np
import pytest

from strata.engine.core.errors import RecipeError
from strata.engine.core.models import file_fingerprint
from strata.engine.core.render import Renderer, RenderRequest
from strata.engine.core.scene import Code, ModelRef, Scene, code_mismatch, load_code_npy

DIMS = dict(z_dim=16, w_dim=16, num_layers=6)  # the tiny test model's


def scene_for(path, code):
    return Scene(model=ModelRef(file_fingerprint(path), str(path), "tiny"), code=code)


@pytest.mark.parametrize("code, fits", [
    (Code.from_seed(3), True),
    (Code("z", None, np.zeros((1, 16))), True),
    (Code("w", None, np.zeros((1, 16))), True),
    (Code("wp", None, np.zeros((1, 6, 16))), True),
    (Code("z", None, np.zeros((1, 8))), False),
    (Code("w", None, np.zeros((1, 32))), False),
    (Code("wp", None, np.zeros((1, 7, 16))), False),
])
def test_a_code_fits_a_model_by_its_space_and_shape(code, fits):
    assert (code_mismatch(code, **DIMS) is None) == fits


@pytest.mark.parametrize("space, shape", [("z", (1, 8)), ("w", (1, 32)), ("wp", (1, 7, 16))])
def test_a_code_of_the_wrong_size_renders_as_an_error_naming_both_shapes(tiny_model, space, shape):
    r = Renderer("cpu")
    res = r(RenderRequest(1, str(tiny_model), scene_for(tiny_model, Code(space, None, np.zeros(shape)))))
    assert not res.ok
    assert f"the {space} code has shape {list(shape)}" in res.error
    assert str(list((1, 6, 16) if space == "wp" else (1, 16))) in res.error
    good = r(RenderRequest(2, str(tiny_model), scene_for(tiny_model, Code.from_seed(0))))
    assert good.ok, good.error  # the renderer keeps working after a refused code


def test_npy_import_and_rendering_agree_on_what_fits(tmp_path):
    for shape in [(1, 16), (1, 6, 16), (1, 8), (1, 6, 8), (2, 16)]:
        np.save(tmp_path / "c.npy", np.ones(shape, np.float32))
        try:
            code = load_code_npy(tmp_path / "c.npy", **DIMS)
        except RecipeError as exc:
            assert "c.npy: code has shape" in str(exc) and "[1, 6, 16] (wp)" in str(exc)
            continue
        assert code_mismatch(code, **DIMS) is None, shape


def test_an_edit_past_the_models_last_layer_is_a_plain_error_not_an_internal_one(tiny_model):
    from strata.engine.core.boundary import Boundary
    from strata.engine.core.edits import Edit

    deep = Edit(Boundary("sky", np.ones(16), layers=(8, 11)), 1.0, (8, 11))  # made for a 12-layer model
    s = scene_for(tiny_model, Code.from_seed(0)).with_(edits=(deep,))
    res = Renderer("cpu")(RenderRequest(1, str(tiny_model), s))
    assert not res.ok
    assert res.error == "edit on 'sky': layers 8-11 are outside the model's layers 0-5"
