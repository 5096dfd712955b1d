"""Datasets as ``ImageDataset``s of integer levels: ``load_dataset(name, split)``.

Files are read from ``data_root()``: the ``data_dir`` argument, else ``$AUTOGEN_DATA``, else
``~/.cache/autogen/data``; each dataset has its own subdirectory. Missing files are downloaded
from the official source when ``download`` is true (``AUTOGEN_OFFLINE=1`` never tries); when
that fails a DataMissingError says which files to put where.
"""

from __future__ import annotations

import os
from pathlib import Path

from autogen_cli.data.dataset import ImageDataset
from autogen_cli.errors import UnknownNameError, suggest

DATASET_NAMES = ("mnist", "fashion-mnist", "binarized-mnist")
SPLITS = ("train", "valid", "test")

__all__ = ["DATASET_NAMES", "SPLITS", "ImageDataset", "data_root", "load_dataset"]


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: argument > $AUTOGEN_DATA > ~/.cache/autogen/data."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get("AUTOGEN_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "autogen" / "data"


def load_dataset(name: str, split: str = "train", data_dir: str | os.PathLike | None = None,
                 download: bool = True) -> ImageDataset:
    """Load split ``train`` / ``valid`` / ``test`` of dataset ``name`` (see DATASET_NAMES)."""
    key = name.strip().lower().replace("_", "-")
    if key not in DATASET_NAMES:
        raise UnknownNameError(f"Unknown dataset '{name}'." + suggest(key, DATASET_NAMES))
    if split not in SPLITS:
        raise UnknownNameError(f"Unknown split '{split}' of {key}." + suggest(split, SPLITS))
    root = data_root(data_dir)
    if key == "binarized-mnist":
        from autogen_cli.data import binarized_mnist

        return binarized_mnist.load(split, root, download)
    from autogen_cli.data import mnist

    return mnist.load(key, split, root, download)
