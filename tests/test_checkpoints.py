"""Checkpoints: bit-exact round trip, atomic writes, and refusal of damaged files."""

import json

import pytest
import torch

from autogen_cli.checkpoints import load_checkpoint, save_checkpoint, state_path
from autogen_cli.errors import WeightsError
from autogen_cli.registry import model_from_checkpoint
from tests.pixel_configs import tiny


def saved(tmp_path):
    torch.manual_seed(0)
    model = tiny("gated-pixelcnn", n_classes=3)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, "gated-pixelcnn", model.config.model_dump(), model.state_dict(),
                    {"dataset": "binarized-mnist", "metrics": {"valid_nll_nats": 80.5}})
    return model, path


def test_round_trip_is_bit_exact(tmp_path):
    model, path = saved(tmp_path)
    ckpt = load_checkpoint(path)
    assert ckpt.model == "gated-pixelcnn"
    assert ckpt.metadata["dataset"] == "binarized-mnist"
    assert ckpt.metadata["metrics"] == {"valid_nll_nats": 80.5}
    again = model_from_checkpoint(ckpt)
    assert again.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    x = torch.randint(0, 2, (3, 1, 4, 4))
    y = torch.tensor([0, 1, 2])
    assert torch.equal(model.eval().log_prob(x, y), again.eval().log_prob(x, y))


def test_writes_leave_no_temporary_files(tmp_path):
    saved(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_truncated_file_is_refused(tmp_path):
    _, path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_checkpoint(path)


def test_tampered_weights_are_refused(tmp_path):
    _, path = saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the last tensor, header untouched
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="integrity"):
        load_checkpoint(path)


def test_tampered_header_hash_is_refused(tmp_path):
    _, path = saved(tmp_path)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["autogen.payload_sha256"] = "0" * 64
    raw = json.dumps(header, separators=(",", ":")).encode()
    assert len(raw) <= n
    raw += b" " * (n - len(raw))  # keep the header length so offsets stay valid
    path.write_bytes(data[:8] + raw + data[8 + n :])
    with pytest.raises(WeightsError, match="integrity"):
        load_checkpoint(path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(WeightsError, match="not an autogen checkpoint"):
        load_checkpoint(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="cannot read"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_state_file_sits_beside_the_checkpoint(tmp_path):
    assert state_path(tmp_path / "last.safetensors") == tmp_path / "last.state.safetensors"


def test_written_files_follow_the_umask(tmp_path):
    import os

    from autogen_cli.files import atomic_write_bytes

    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "x.bin", b"abc")
    finally:
        os.umask(old)
    assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o644
