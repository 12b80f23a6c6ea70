"""Any model Strata opens can be saved in Strata's own format and opens again the same."""

from __future__ import annotations

import pytest
import torch

from strata.app.cli import main
from strata.engine.core.models import load_generator, save_generator

MODELS = ["genforce_stylegan/stylegan_tiny32.pth", "genforce_stylegan2/stylegan2_tiny32.pth",
          "rosinality_stylegan2/stylegan2_rosinality_tiny32.pt", "nvidia_pkl/stylegan2_ada_tiny32.pkl",
          "nvidia_pkl/stylegan3t_tiny32.pkl"]


@pytest.mark.parametrize("name", MODELS)
def test_saved_and_reopened_a_model_draws_the_same_image(fixtures_dir, tmp_path, name):
    src = load_generator(fixtures_dir / name, "cpu").generator
    save_generator(src, tmp_path / "m.pth", meta={"name": "again"})
    again = load_generator(tmp_path / "m.pth", "cpu")
    assert again.format == "strata" and type(again.generator) is type(src)
    with torch.inference_mode():
        wp = src.truncate(src.mapping(torch.randn(2, src.z_dim, generator=torch.Generator().manual_seed(0))),
                          src.default_psi)
        assert torch.equal(src.synthesize(wp), again.generator.synthesize(wp))
    assert again.generator.default_psi == src.default_psi


@pytest.mark.parametrize("name", MODELS)
def test_info_describes_every_format(fixtures_dir, capsys, name):
    assert main(["info", str(fixtures_dir / name)]) == 0
    out = capsys.readouterr().out
    assert "format:" in out and "layers (W+):" in out and "truncation:" in out
