"""A class-conditional model draws the scene's class, and the class travels with the saved scene."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from strata.app.cli import main
from strata.engine.core.models import file_fingerprint
from strata.engine.core.render import Renderer, RenderRequest
from strata.engine.core.scene import Code, ModelRef, Scene, read_recipe

COND = "nvidia_pkl/stylegan2_ada_cond_tiny32"


@pytest.fixture
def cond(fixtures_dir):
    return fixtures_dir / f"{COND}.pkl"


def scene_for(path, **kw):
    return Scene(model=ModelRef(file_fingerprint(path), str(path), path.stem), code=Code.from_seed(1), **kw)


def test_each_class_draws_its_own_image_and_the_w_cache_follows_the_class(cond):
    r = Renderer("cpu")
    images = [r(RenderRequest(i, str(cond), scene_for(cond, class_index=i))).image for i in (0, 3, 0)]
    assert np.abs(images[0].astype(int) - images[1]).max() > 10  # another class, another scene
    assert np.array_equal(images[0], images[2])  # back to class 0: the same pixels, not class 3's cached w
    assert r._info.num_classes == 5


def test_a_class_the_model_lacks_is_one_clear_error(cond, fixtures_dir):
    r = Renderer("cpu")
    res = r(RenderRequest(1, str(cond), scene_for(cond, class_index=5)))
    assert res.error == "class 5: this model has classes 0-4"
    plain = fixtures_dir / "nvidia_pkl/stylegan2_ada_tiny32.pkl"
    res = r(RenderRequest(2, str(plain), scene_for(plain, class_index=1)))
    assert res.error == "class 1: this model is not class-conditional"


def test_the_class_is_saved_in_the_recipe_and_rendered_again(cond, tmp_path):
    out, again = tmp_path / "c3.png", tmp_path / "again.png"
    assert main(["render", "-m", str(cond), "--seed", "4", "--class", "3", "-o", str(out)]) == 0
    assert read_recipe(out).class_index == 3
    assert main(["render", "--recipe", str(out), "-m", str(cond), "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))


def test_recipes_without_classes_keep_their_keys():
    assert "class" not in Scene().to_dict()
    assert Scene.from_dict(Scene(class_index=2).to_dict()).class_index == 2
    with pytest.raises(ValueError):
        Scene(class_index=-1)


def test_a_stylegan3_scene_moves_and_turns_its_input_and_keeps_it_in_the_recipe(fixtures_dir, tiny_model):
    sg3 = fixtures_dir / "nvidia_pkl/stylegan3t_tiny32.pkl"
    r = Renderer("cpu")
    still = r(RenderRequest(1, str(sg3), scene_for(sg3))).image
    moved_scene = scene_for(sg3, input_transform=(0.25, 0.0, 0.0))
    moved = r(RenderRequest(2, str(sg3), moved_scene)).image
    # A quarter of the width to the right: 8 px at 32 px (StyleGAN3-T follows its input).
    assert np.abs(moved[:, 12:24].astype(int) - still[:, 4:16]).mean() < np.abs(moved.astype(int) - still).mean()
    assert r._info.input_transform
    again = r(RenderRequest(3, str(sg3), scene_for(sg3))).image
    assert np.array_equal(again, still)  # the next scene without a transform is not left moved
    assert Scene.from_dict(moved_scene.to_dict()).input_transform == (0.25, 0.0, 0.0)
    assert "input_transform" not in scene_for(sg3, input_transform=(0, 0, 0)).to_dict()
    res = r(RenderRequest(4, str(tiny_model), scene_for(tiny_model, input_transform=(0.1, 0, 0))))
    assert res.error == "this model's input cannot be moved or turned (StyleGAN3 only)"
