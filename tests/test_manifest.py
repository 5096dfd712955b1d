"""The shipped weights: every manifest entry is bundled, hash-pinned, loadable and self-consistent."""

import json
from pathlib import Path

import pytest

from autogen_cli import hub
from autogen_cli.checkpoints import load_checkpoint
from autogen_cli.registry import MODELS, model_from_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "weights_manifest.json").read_text())
ENTRIES = sorted(MANIFEST["checkpoints"])


def test_manifest_parses_and_defaults_are_unique():
    manifest = hub.load_manifest(ROOT / "weights_manifest.json")
    assert manifest.names() == ENTRIES


@pytest.mark.parametrize("name", ENTRIES)
def test_bundled_checkpoint_matches_its_entry(name):
    entry = hub.load_manifest(ROOT / "weights_manifest.json").get(name)
    path = hub.bundled_dir() / entry.file
    assert path.is_file(), f"{entry.file} is not bundled"
    assert hub.sha256_file(path) == entry.sha256
    assert path.stat().st_size == entry.size
    assert entry.size < 10_000_000, "bundled weights stay small"
    ckpt = load_checkpoint(path)
    assert ckpt.model == entry.model and entry.model in MODELS
    assert ckpt.metadata["dataset"] == entry.dataset
    assert entry.command.startswith("autogen train ")
    model_from_checkpoint(ckpt)  # config and tensors fit the architecture
