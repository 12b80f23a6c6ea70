"""Opening model files: the right model, or one clear line naming the file."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from strata.engine.core.errors import ModelLoadError
from strata.engine.core.models import load_generator, save_generator


def test_own_format_round_trip_keeps_config_and_meta(tiny_model, tmp_path):
    m = load_generator(tiny_model, device="cpu")
    out = tmp_path / "own.pth"
    save_generator(m.generator, out, meta={"name": "Tiny", "description": "test model"})
    m2 = load_generator(out, device="cpu")
    assert m2.name == "Tiny" and m2.description == "test model"
    z = torch.randn(2, 16)
    with torch.inference_mode():
        a = m.generator.synthesize(m.generator.truncate(m.generator.mapping(z), 0.7))
        b = m2.generator.synthesize(m2.generator.truncate(m2.generator.mapping(z), 0.7))
    assert torch.equal(a, b)
    assert m.fingerprint != m2.fingerprint and len(m.fingerprint) == 64


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="nope.pth: no such file"):
        load_generator(tmp_path / "nope.pth")


def test_truncated_file_names_the_file(tiny_model, tmp_path):
    bad = tmp_path / "cut.pth"
    bad.write_bytes(tiny_model.read_bytes()[:3000])
    with pytest.raises(ModelLoadError, match="cut.pth: corrupt or truncated"):
        load_generator(bad)


def test_not_a_model_at_all(tmp_path):
    bad = tmp_path / "notes.pth"
    bad.write_text("hello")
    with pytest.raises(ModelLoadError, match="notes.pth"):
        load_generator(bad)


def test_wrong_shape_is_named(tiny_model, tmp_path):
    sd = torch.load(tiny_model, weights_only=True)
    sd["synthesis.layer1.conv.weight"] = torch.zeros(3, 3, 3, 3)
    bad = tmp_path / "shape.pth"
    torch.save(sd, bad)
    with pytest.raises(ModelLoadError, match=r"shape.pth: synthesis.layer1.conv.weight has shape \[3, 3, 3, 3\]"):
        load_generator(bad)


def test_missing_keys_are_named(tiny_model, tmp_path):
    sd = torch.load(tiny_model, weights_only=True)
    del sd["synthesis.layer2.epilogue.bias"]
    bad = tmp_path / "keys.pth"
    torch.save(sd, bad)
    with pytest.raises(ModelLoadError, match="keys.pth: keys do not match.*layer2.epilogue.bias"):
        load_generator(bad)


def test_a_strata_file_with_odd_fields_names_the_file(tiny_model, tmp_path):
    m = load_generator(tiny_model, device="cpu")
    good = tmp_path / "own.pth"
    save_generator(m.generator, good, meta={"name": "Tiny"})
    blob = torch.load(good, weights_only=True)
    key = next(iter(blob["state_dict"]))
    cases = {"numbers.pth": {**blob, "state_dict": {**blob["state_dict"], key: [1.0, 2.0]}},
             "meta.pth": {**blob, "meta": ["not", "a", "mapping"]}}
    for name, obj in cases.items():
        torch.save(obj, tmp_path / name)
    with pytest.raises(ModelLoadError, match=f"numbers.pth: state_dict entries that are not tensors: {key}"):
        load_generator(tmp_path / "numbers.pth")
    with pytest.raises(ModelLoadError, match="meta.pth: meta is a list, not a mapping"):
        load_generator(tmp_path / "meta.pth")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.environ.get("STRATA_PWN", "/tmp/strata-pwned"),))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("STRATA_PWN", str(marker))
    bad = tmp_path / "evil.pth"
    torch.save({"mapping.dense0.fc.weight": torch.zeros(2, 2), "x": _Evil()}, bad, pickle_module=pickle)
    with pytest.raises(ModelLoadError, match="evil.pth: refused"):
        load_generator(bad)
    assert not marker.exists()


class Network:  # stands in for a pickled network object
    pass


def test_an_nvidia_style_pickle_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "network-snapshot.pkl").write_bytes(pickle.dumps({"G_ema": Network()}, protocol=2))
    with pytest.raises(ModelLoadError, match=r"network-snapshot\.pkl: refused.*convert to the StyleGAN2 PyTorch port"):
        load_generator(tmp_path / "network-snapshot.pkl")
