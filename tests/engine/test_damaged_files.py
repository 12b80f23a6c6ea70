"""A damaged model file of any format is one line naming the file, never a traceback."""

from __future__ import annotations

import pytest

from strata.app.cli import main
from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator

MODELS = ["genforce_stylegan/stylegan_tiny32.pth", "genforce_stylegan2/stylegan2_tiny32.pth",
          "rosinality_stylegan2/stylegan2_rosinality_tiny32.pt", "nvidia_pkl/stylegan2_ada_tiny32.pkl",
          "nvidia_pkl/stylegan3t_tiny32.pkl"]


def damaged(data: bytes, how: str) -> bytes:
    if how.startswith("cut"):
        return data[: int(len(data) * float(how[3:]))]
    at = {"flip-header": 2, "flip-middle": len(data) // 2}[how]
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("how", ["cut0.05", "cut0.5", "cut0.99", "flip-header", "flip-middle"])
@pytest.mark.parametrize("name", MODELS)
def test_a_damaged_model_is_one_line_naming_the_file(fixtures_dir, tmp_path, capsys, name, how):
    path = tmp_path / ("bad" + (fixtures_dir / name).suffix)
    path.write_bytes(damaged((fixtures_dir / name).read_bytes(), how))
    try:
        load_generator(path, "cpu")
    except ModelLoadError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message
    else:
        # A flipped byte can land in a tensor's data: the file then opens as a valid (different) model.
        assert how == "flip-middle", "a damaged file opened without complaint"
        return
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "Traceback" not in err
