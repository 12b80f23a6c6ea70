"""The procedural rooms world: seeded, in range, and each semantic changes
the pixels it should (checked against the renderer's own surface map)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from strata.engine.core.render import to_uint8
from strata.engine.rooms.render import render_rooms, sample_rooms, surface_map
from strata.engine.rooms.semantics import SEMANTICS, RoomParams, sample_params, scores_of, semantic

BACK, LEFT, RIGHT, FLOOR, CEIL, OBJECT = range(6)
RES = 64


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/engine/conftest.py


def _params(n: int = 12, seed: int = 0, **values) -> RoomParams:
    return sample_params(n, torch.Generator().manual_seed(seed)).with_values(**values)


def _flip(name: str, off: float = 0.0, on: float = 1.0, n: int = 12, seed: int = 0, **fixed):
    """Render the same rooms with ``name`` at ``off`` and at ``on``."""
    base = _params(n, seed, **fixed)
    p0, p1 = base.with_values(**{name: off}), base.with_values(**{name: on})
    return p0, p1, render_rooms(p0, RES), render_rooms(p1, RES)


def _changed(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> torch.Tensor:
    return (a - b).abs().amax(dim=1) > tol        # [n, H, W]


def test_same_seed_same_rooms_other_seed_other_rooms():
    a, sa = sample_rooms(6, seed=7)
    b, sb = sample_rooms(6, seed=7)
    c, _ = sample_rooms(6, seed=8)
    assert torch.equal(a, b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert (a - c).abs().mean() > 0.05


def test_shapes_ranges_and_scores():
    for res in (64, 128):
        images, scores = sample_rooms(5, seed=1, resolution=res)
        assert images.shape == (5, 3, res, res) and images.dtype == torch.float32
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert images.std() > 0.1                               # not a blank frame
    assert list(scores) == [s.name for s in SEMANTICS]
    for spec in SEMANTICS:
        x = scores[spec.name]
        assert x.shape == (5,) and x.dtype == torch.float32
        if spec.kind == "binary":
            assert set(x.tolist()) <= {0.0, 1.0}
        else:
            lo = -1.0 if spec.name == "view_yaw" else 0.0
            assert x.min() >= lo and x.max() <= 1.0
    assert {s.level for s in SEMANTICS} == {"layout", "object", "attribute", "colour"}


def test_to_uint8_layout_and_rounding():
    """Rooms reach PNGs (``strata rooms``, training's sample grids) through the renderer's one conversion."""
    images = torch.tensor([-1.0, 0.0, 1.0, 0.5]).view(1, 1, 2, 2).expand(1, 3, 2, 2)
    out = to_uint8(images)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    assert out[0, :, :, 0].tolist() == [[0, 128], [255, 191]]


def test_binary_semantics_are_fair_coins_and_scores_independent():
    params = sample_params(2000, torch.Generator().manual_seed(123))
    scores = scores_of(params)
    for spec in SEMANTICS:
        if spec.kind == "binary":
            assert 0.45 < scores[spec.name].mean().item() < 0.55, spec.name
    matrix = torch.stack(list(scores.values()))
    corr = torch.corrcoef(matrix) - torch.eye(len(scores))
    assert corr.abs().max() < 0.1


def test_params_validate_and_name_errors():
    params = _params(3)
    with pytest.raises(ValueError, match="bed"):
        dataclasses.replace(params, bed=torch.zeros(2))
    with pytest.raises(KeyError, match="unknown semantic"):
        params.with_values(sofa=1.0)
    with pytest.raises(KeyError):
        semantic("sofa")
    again = RoomParams.from_dict(params.to_dict())
    assert torch.equal(render_rooms(again, 16), render_rooms(params, 16))


def test_window_changes_only_the_walls_above_the_floor():
    # At night the window throws no light, so only the window itself changes.
    p0, p1, a, b = _flip("window", natural_lighting=0.0)
    changed = _changed(a, b)
    walls = surface_map(p1, RES) <= RIGHT
    assert changed.sum() > 12 * 20                             # every window shows
    assert not (changed & ~walls).any()
    rows = changed.nonzero()[:, 1].float()
    assert (rows < 0.6 * RES).float().mean() > 0.9             # in the upper part


def test_daylight_window_is_bright_and_lights_the_room():
    p0, p1, a, b = _flip("window", natural_lighting=1.0)
    changed = _changed(a, b)
    assert (b.mean(dim=(1, 2, 3)) > a.mean(dim=(1, 2, 3))).all()
    assert (b.mean(dim=1)[changed].max() > 0.6)                # bright sky in the glass


def test_painting_changes_only_walls():
    p0, p1, a, b = _flip("painting")
    changed = _changed(a, b)
    assert changed.sum() > 12 * 10
    assert not (changed & (surface_map(p1, RES) > RIGHT)).any()


def test_floor_semantics_change_only_the_floor():
    for name in ("wood_floor", "rug"):
        p0, p1, a, b = _flip(name)
        changed = _changed(a, b)
        assert changed.sum() > 12 * 30, name
        assert not (changed & (surface_map(p1, RES) != FLOOR)).any(), name
    # Planks have seams and grain: neighbouring floor pixels differ more on wood.
    p0, p1, carpet, wood = _flip("wood_floor", rug=0.0)
    floor = surface_map(p1, RES) == FLOOR
    both = floor[:, :, 1:] & floor[:, :, :-1]

    def texture(x):
        step = (x[..., 1:] - x[..., :-1]).abs().mean(dim=1)
        return (step * both).sum(dim=(1, 2)) / both.sum(dim=(1, 2))

    assert (texture(wood) > texture(carpet)).all()


@pytest.mark.parametrize("name", ["bed", "nightstand", "lamp", "clutter"])
def test_objects_add_object_pixels(name):
    p0, p1, a, b = _flip(name, lamp=0.0 if name == "nightstand" else 1.0)
    before = surface_map(p0, RES) == OBJECT
    after = surface_map(p1, RES) == OBJECT
    grown = (after & ~before).flatten(1).sum(1)
    assert (grown > 0).all(), name
    assert not (before & ~after).any(), name
    if name in ("bed", "nightstand", "clutter"):
        rows = (after & ~before).nonzero()[:, 1].float()
        assert (rows > 0.4 * RES).float().mean() > 0.9, name     # they stand on the floor
    assert _changed(a, b).sum() >= grown.sum()


def test_bed_stands_against_the_back_wall():
    p = _params(12, bed=1.0, view_yaw=0.0)
    surf = surface_map(p, RES)
    # Somewhere above the bed the back wall shows: the bed is in front of it.
    col = RES // 2
    assert ((surf[:, : RES // 2, col] == BACK).any(dim=1)).all()


def test_view_yaw_moves_the_back_wall_left():
    empty = dict(bed=0.0, nightstand=0.0, lamp=0.0, clutter=0.0)
    row = RES // 3
    edges = []
    for yaw in (-0.8, 0.0, 0.8):
        surf = surface_map(_params(8, **empty, view_yaw=yaw), RES)
        back = (surf[:, row] == BACK).float()
        edges.append(back.argmax(dim=1))                      # left edge of the back wall
    assert (edges[0] > edges[1]).all() and (edges[1] > edges[2]).all()


def test_camera_height_moves_the_floor_line_down():
    empty = dict(bed=0.0, nightstand=0.0, lamp=0.0, clutter=0.0, view_yaw=0.0)
    lines = []
    for h in (0.0, 1.0):
        surf = surface_map(_params(8, **empty, camera_height=h), RES)
        back = surf[:, :, RES // 2] == BACK
        lines.append(RES - 1 - back.flip(1).float().argmax(dim=1))  # lowest back-wall row
    assert (lines[1] > lines[0]).all()


def test_room_depth_shrinks_the_back_wall():
    empty = dict(bed=0.0, nightstand=0.0, lamp=0.0, clutter=0.0)
    areas = [(surface_map(_params(8, **empty, room_depth=d), RES) == BACK).flatten(1).sum(1) for d in (0.0, 1.0)]
    assert (areas[1] < areas[0]).all()


def test_lighting_attributes_brighten_the_room():
    p0, p1, a, b = _flip("indoor_lighting", 0.1, 0.9)
    assert (b.mean(dim=(1, 2, 3)) > a.mean(dim=(1, 2, 3)) + 0.05).all()
    p0, p1, a, b = _flip("natural_lighting")
    assert (b.mean(dim=(1, 2, 3)) > a.mean(dim=(1, 2, 3)) + 0.05).all()


def _wall_mean(params: RoomParams, values: torch.Tensor) -> torch.Tensor:
    """Per image, the mean of ``values`` [n, H, W] over wall pixels."""
    walls = surface_map(params, RES) <= RIGHT
    return (values * walls).sum(dim=(1, 2)) / walls.sum(dim=(1, 2))


def test_wall_colour_moves_the_way_its_score_says():
    bare = dict(window=0.0, painting=0.0, wall_saturation=0.8, wall_brightness=0.7)
    p0, p1, a, b = _flip("wall_hue", 0.05, 0.95, **bare)
    blue_minus_red = lambda x: x[:, 2] - x[:, 0]
    assert (_wall_mean(p1, blue_minus_red(b)) > _wall_mean(p0, blue_minus_red(a)) + 0.2).all()
    assert not (_changed(a, b) & (surface_map(p1, RES) > RIGHT)).any()

    p0, p1, a, b = _flip("wall_brightness", **bare)
    assert (_wall_mean(p1, b.mean(dim=1)) > _wall_mean(p0, a.mean(dim=1)) + 0.1).all()

    p0, p1, a, b = _flip("wall_saturation", **bare)
    saturation = lambda x: (x.amax(dim=1) - x.amin(dim=1)) / (x.amax(dim=1) + 1.0 + 1e-3)  # on [0, 2]
    assert (_wall_mean(p1, saturation(b)) > _wall_mean(p0, saturation(a)) + 0.1).all()


def test_bedding_hue_changes_only_the_bed_from_red_to_blue():
    p0, p1, a, b = _flip("bedding_hue", 0.0, 1.0, bed=1.0)
    changed = _changed(a, b)
    assert changed.flatten(1).sum(1).min() > 0
    assert not (changed & (surface_map(p1, RES) != OBJECT)).any()
    red = lambda x: (x[:, 0] - x[:, 2])[changed].mean()
    assert red(a) > red(b) + 0.3


def test_a_ray_parallel_to_the_side_walls_does_not_make_nan():
    # At this yaw one pixel's ray has dx == 0 exactly; that once gave 0 * inf.
    params = _params(2, view_yaw=-0.9830130338668823, lamp=1.0, nightstand=0.0)
    assert torch.isfinite(render_rooms(params, RES)).all()
    big = sample_params(512, torch.Generator().manual_seed(9))
    assert torch.isfinite(render_rooms(big, RES)).all()


def test_strata_rooms_writes_the_grid_of_the_seed(tmp_path, capsys):
    from PIL import Image

    from strata.app.cli import main

    out = tmp_path / "grid.png"
    assert main(["rooms", str(out), "--resolution", "16", "--rows", "2", "--seed", "3"]) == 0
    grid = np.asarray(Image.open(out).convert("RGB"))
    assert grid.shape == (32, 32, 3)
    rooms = to_uint8(sample_rooms(4, seed=3, resolution=16)[0])
    assert np.array_equal(grid[:16, 16:], rooms[1]) and np.array_equal(grid[16:, :16], rooms[2])  # row by row
    assert "2x2 rooms at 16x16, seed 3" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["rooms"])
    assert "usage: strata rooms" in capsys.readouterr().err
