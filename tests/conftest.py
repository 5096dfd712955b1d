"""Shared fixtures: a tiny MNIST in the real idx format, and no network for the data loaders."""

import numpy as np
import pytest

from autogen_cli.data import mnist
from autogen_cli.data.idx import write_idx

TINY_TRAIN, TINY_TEST, TINY_VALID = 24, 8, 8


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A data folder holding 24 train / 8 test MNIST-format images of 28x28 (valid = last 8 of train)."""
    monkeypatch.setattr(mnist, "VALID_SIZE", TINY_VALID)
    monkeypatch.setenv("AUTOGEN_OFFLINE", "1")
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    for prefix, n in (("train", TINY_TRAIN), ("t10k", TINY_TEST)):
        images = (rng.random((n, 28, 28)) < 0.2) * rng.integers(0, 256, (n, 28, 28))
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte", images.astype(np.uint8))
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, n).astype(np.uint8))
    return root
