"""Rendering scenes: caches, edits, recipes, codes, PNG round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from strata.engine.core.boundary import Boundary
from strata.engine.core.edits import Edit
from strata.engine.core.errors import RecipeError, SaveError
from strata.engine.core.models import file_fingerprint
from strata.engine.core.render import Renderer, RenderRequest
from strata.engine.core.scene import (Code, ModelRef, Scene, load_code_npy, png_bytes_with_recipe, read_recipe,
                          save_wp_npy, write_recipe_json)
from strata.engine.core.atomic import atomic_write_bytes


def boundary(name="b", seed=0, dim=16, level="attribute", layers=(2, 5)):
    v = np.random.RandomState(seed).randn(dim)
    return Boundary(name, v, level=level, layers=layers)


@pytest.fixture
def renderer(tiny_model):
    r = Renderer("cpu")
    r.load(tiny_model)
    return r


def scene_for(path, **kw):
    return Scene(model=ModelRef(file_fingerprint(path), str(path), "tiny"), **kw)


def test_slider_moves_do_not_rerun_the_mapping(renderer, tiny_model):
    b = boundary()
    base = scene_for(tiny_model, code=Code.from_seed(3), psi=0.7, edits=(Edit(b, 0.0, (2, 5)),))
    img0, _ = renderer.render_scene(base)
    for s in np.linspace(-3, 3, 7):
        img, _ = renderer.render_scene(base.with_edit(0, strength=float(s)))
    assert renderer.mapping_runs == 1
    assert not np.array_equal(img, img0)
    renderer.render_scene(base.with_(code=Code.from_seed(4)))
    assert renderer.mapping_runs == 2


def test_edit_moves_only_chosen_layers_of_wp(renderer, tiny_model):
    b = boundary()
    s0 = scene_for(tiny_model, code=Code.from_seed(1), psi=1.0, edits=(Edit(b, 0.0, (2, 5)),))
    _, wp0 = renderer.render_scene(s0)
    _, wp1 = renderer.render_scene(s0.with_edit(0, strength=2.0))
    moved = np.linalg.norm(wp1 - wp0, axis=-1)[0]
    assert np.allclose(moved[2:6], 2.0, atol=1e-4)
    assert np.allclose(moved[[0, 1]], 0.0) and len(moved) == 6


def test_same_scene_renders_the_same_pixels(renderer, tiny_model):
    s = scene_for(tiny_model, code=Code.from_seed(5), psi=0.6, edits=(Edit(boundary(), 1.5, (0, 3)),))
    a, _ = renderer.render_scene(s)
    b, _ = Renderer("cpu").render_scene(s, tiny_model)
    assert a.dtype == np.uint8 and a.shape == (16, 16, 3)
    assert np.array_equal(a, b)


def test_request_errors_come_back_in_the_result(renderer, tiny_model, tmp_path):
    wrong = Boundary("wide", np.ones(64))
    s = scene_for(tiny_model, edits=(Edit(wrong, 1.0, (0, 1)),))
    res = renderer(RenderRequest(1, str(tiny_model), s))
    assert not res.ok and "dimension 64" in res.error and "16" in res.error
    res = renderer(RenderRequest(2, str(tmp_path / "missing.pth"), s.with_(edits=())))
    assert "missing.pth: no such file" in res.error
    res = renderer(RenderRequest(3, str(tiny_model), s.with_(edits=())))
    assert res.ok and res.image.shape == (16, 16, 3) and res.model.num_layers == 6


def test_a_frame_checks_each_edit_against_the_model_once(renderer, tiny_model, monkeypatch):
    calls = []
    check = Boundary.check_compatible
    monkeypatch.setattr(Boundary, "check_compatible", lambda self, **kw: (calls.append(self.name), check(self, **kw)))
    s = scene_for(tiny_model, edits=(Edit(boundary("wood", 1), 1.0, (0, 1)), Edit(boundary("view", 2), 0.0, (0, 1))))
    assert renderer(RenderRequest(1, str(tiny_model), s)).ok
    assert sorted(calls) == ["view", "wood"]
    # A row at strength 0 that does not fit is refused too, named as the window has always shown it.
    s = s.with_(edits=(Edit(Boundary("wide", np.ones(64)), 0.0, (0, 1)),))
    res = renderer(RenderRequest(2, str(tiny_model), s))
    assert res.error == "wide: boundary has dimension 64 but the model's W space has 16"


def test_png_recipe_round_trip_restores_scene_and_pixels(renderer, tiny_model, tmp_path):
    s = scene_for(tiny_model, code=Code.from_seed(11), psi=0.8,
                  edits=(Edit(boundary("wood", 1), -2.5, (2, 5)), Edit(boundary("view", 2, level="layout"), 0.0, (0, 1))))
    img, _ = renderer.render_scene(s)
    path = tmp_path / "scene.png"
    atomic_write_bytes(path, png_bytes_with_recipe(img, s))
    back = read_recipe(path)
    assert back.same_as(s)
    assert [e.boundary.name for e in back.edits] == ["wood", "view"]
    assert back.edits[0].strength == -2.5 and back.edits[0].layers == (2, 5)
    img2, _ = Renderer("cpu").render_scene(back, tiny_model)
    assert np.array_equal(img, img2)
    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), img)


def test_upscaled_png_keeps_the_recipe(renderer, tiny_model, tmp_path):
    s = scene_for(tiny_model)
    img, _ = renderer.render_scene(s)
    path = tmp_path / "big.png"
    atomic_write_bytes(path, png_bytes_with_recipe(img, s, upscale=4))
    from PIL import Image
    assert Image.open(path).size == (64, 64)
    assert read_recipe(path).same_as(s)


def test_json_recipe_round_trip(tiny_model, tmp_path):
    s = scene_for(tiny_model, code=Code("w", None, np.arange(16, dtype=np.float32)), psi=0.5,
                  edits=(Edit(boundary(), 1.0, (1, 2)),))
    write_recipe_json(s, tmp_path / "r.json")
    assert read_recipe(tmp_path / "r.json").same_as(s)
    assert json.loads((tmp_path / "r.json").read_text())["model"]["fingerprint"] == file_fingerprint(tiny_model)


def test_bad_recipes_say_what_is_wrong(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(RecipeError, match="a.json: recipe is not valid JSON"):
        read_recipe(tmp_path / "a.json")
    (tmp_path / "b.json").write_text('{"format": "other"}')
    with pytest.raises(RecipeError, match="b.json: not a Strata recipe"):
        read_recipe(tmp_path / "b.json")
    from PIL import Image
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    with pytest.raises(RecipeError, match="plain.png: this PNG holds no Strata recipe"):
        read_recipe(tmp_path / "plain.png")


def test_codes_from_npy_by_shape(renderer, tmp_path):
    g = renderer.model.generator
    for shape, space in [((1, 16), "z"), ((1, 8, 16), "wp")]:
        np.save(tmp_path / "c.npy", np.random.randn(*shape).astype(np.float32))
        c = load_code_npy(tmp_path / "c.npy", z_dim=16, w_dim=16, num_layers=8)
        assert c.space == space
    np.save(tmp_path / "w.npy", np.zeros((1, 10)))
    c = load_code_npy(tmp_path / "w.npy", z_dim=16, w_dim=10, num_layers=8)
    assert c.space == "w"
    np.save(tmp_path / "bad.npy", np.zeros((3, 3)))
    with pytest.raises(RecipeError, match=r"bad.npy: code has shape \[3, 3\]"):
        load_code_npy(tmp_path / "bad.npy", z_dim=16, w_dim=16, num_layers=8)


def test_exported_wp_renders_the_same_image(renderer, tiny_model, tmp_path):
    s = scene_for(tiny_model, code=Code.from_seed(2), psi=0.7, edits=(Edit(boundary(), 3.0, (0, 5)),))
    img, wp = renderer.render_scene(s)
    save_wp_npy(wp, tmp_path / "wp.npy")
    arr = np.load(tmp_path / "wp.npy")
    assert arr.shape == (1, 6, 16) and arr.dtype == np.float32
    code = load_code_npy(tmp_path / "wp.npy", z_dim=16, w_dim=16, num_layers=6)
    img2, _ = renderer.render_scene(s.with_(code=code, edits=()))
    assert np.array_equal(img, img2)


def test_save_to_a_bad_path_raises_save_error(tmp_path):
    with pytest.raises(SaveError, match="no_such_dir"):
        write_recipe_json(Scene(), tmp_path / "no_such_dir" / "r.json")


def test_a_w_code_can_be_named_where_z_and_w_have_one_size(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((1, 16), np.float32))
    assert load_code_npy(tmp_path / "w.npy", z_dim=16, w_dim=16, num_layers=6).space == "z"
    assert load_code_npy(tmp_path / "w.npy", z_dim=16, w_dim=16, num_layers=6, space="w").space == "w"
    with pytest.raises(RecipeError, match=r"a wp code for this model is \[1, 6, 16\]"):
        load_code_npy(tmp_path / "w.npy", z_dim=16, w_dim=16, num_layers=6, space="wp")


@pytest.mark.parametrize("text", ['{"format": "strata-recipe", "code": []}',
                                  '{"format": "strata-recipe", "version": "x"}',
                                  '{"format": "strata-recipe", "code": {"seed": 1}, "edits": [1]}'])
def test_malformed_recipes_are_recipe_errors_naming_the_file(tmp_path, text):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(RecipeError, match="m.json"):
        read_recipe(tmp_path / "m.json")


def test_a_model_rewritten_in_place_is_reloaded(tiny_model):
    r = Renderer("cpu")
    first = r.load(tiny_model).fingerprint
    sd = torch.load(tiny_model, weights_only=True)
    sd["synthesis.output2.bias"] += 1.0
    torch.save(sd, tiny_model)
    assert r.load(tiny_model).fingerprint != first
