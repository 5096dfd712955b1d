"""`autogen hub register`: measured test NLL, bundled copy and manifest entry agree."""

import json

import torch

from autogen_cli import hub
from autogen_cli.checkpoints import save_checkpoint
from autogen_cli.evaluate import evaluate_nll
from autogen_cli.publish import register
from tests.pixel_configs import tiny


def test_register_measures_bundles_and_writes_the_entry(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGEN_DATA", str(tiny_mnist))
    monkeypatch.setattr(hub, "bundled_dir", lambda: tmp_path / "weights")
    torch.manual_seed(0)
    model = tiny("pixelcnn", height=28, width=28, levels=256)
    ckpt = tmp_path / "best.safetensors"
    save_checkpoint(ckpt, "pixelcnn", model.config.model_dump(), model.state_dict(),
                    {"dataset": "mnist", "command": "autogen train pixelcnn --dataset mnist",
                     "metrics": {"valid_nll_nats": 1234.5}})
    manifest_path = tmp_path / "weights_manifest.json"
    register(ckpt, "a", manifest_path=manifest_path, default_for="pixelcnn", progress=False)
    entry = register(ckpt, "b", manifest_path=manifest_path, default_for="pixelcnn", anchor="81.3", progress=False)
    measured = evaluate_nll(str(ckpt), "mnist", "test", progress=False)
    assert entry["metrics"]["test_nll_nats"] == round(measured["nll_nats"], 3)
    assert entry["metrics"]["valid_nll_nats"] == 1234.5
    manifest = hub.load_manifest(manifest_path)
    assert manifest.default_for("pixelcnn").name == "b"  # the newer default replaced the older
    assert manifest.get("a").default_for is None
    bundled = tmp_path / "weights" / "b.safetensors"
    assert bundled.read_bytes() == ckpt.read_bytes()
    assert hub.sha256_file(bundled) == manifest.get("b").sha256
    assert json.loads(manifest_path.read_text())["checkpoints"]["b"]["command"].startswith("autogen train")
