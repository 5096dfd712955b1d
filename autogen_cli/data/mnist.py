"""MNIST and Fashion-MNIST from idx files in ``<root>/mnist/`` and ``<root>/fashion-mnist/``.

Splits: train = the first ``len(official train) - VALID_SIZE`` images of the official training
set (50,000), valid = its last ``VALID_SIZE`` (10,000), test = the official test set (10,000).
Checksums are of the decompressed idx bytes (mirrors and distributions recompress the .gz files
differently); they are checked on download, while every load checks the header and sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autogen_cli.data import download as dl
from autogen_cli.data.dataset import ImageDataset
from autogen_cli.data.idx import IMAGES_MAGIC, LABELS_MAGIC, find, read_idx
from autogen_cli.errors import DataError, DataMissingError

VALID_SIZE = 10_000  # the last VALID_SIZE official training images form the validation split

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
PARTS = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}

# url: where ``<file>.gz`` is downloaded from; sha256: of the decompressed idx content.
SOURCES = {
    "mnist": {
        "title": "MNIST",
        "official": "http://yann.lecun.com/exdb/mnist/",
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "sha256": {
            TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "official": "https://github.com/zalandoresearch/fashion-mnist",
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "sha256": {
            TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    },
}


def ensure_files(name: str, root: Path, parts: tuple[str, ...], download: bool) -> dict[str, Path]:
    """Paths of the idx files of ``parts`` ("train", "test"), downloading the missing ones if allowed."""
    src = SOURCES[name]
    directory = root / name
    paths = {f: find(directory, f) for part in parts for f in PARTS[part]}
    missing = [f for f, p in paths.items() if p is None]
    if not missing:
        return paths
    reason = "download disabled"
    if download:
        try:
            for f in missing:
                paths[f] = dl.download(src["url"] + f + ".gz", directory / f"{f}.gz", src["sha256"].get(f),
                                       content=True)
            return paths
        except dl.DownloadFailed as e:
            reason = f"download failed: {e}"
    wanted = ", ".join(f"{f}[.gz]" for f in missing)
    raise DataMissingError(f"{src['title']} not found in {directory} ({reason}): put {wanted} there "
                           f"(from {src['official']} or {src['url']}) or pass --data-dir.")


def load_part(name: str, root: Path, part: str, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 28, 28] and labels int64 [N] of the official "train" or "test" part."""
    paths = ensure_files(name, root, (part,), download)
    img_name, lab_name = PARTS[part]
    images = read_idx(paths[img_name], IMAGES_MAGIC)
    labels = read_idx(paths[lab_name], LABELS_MAGIC)
    if images.shape[1:] != (28, 28):
        raise DataError(f"{paths[img_name]} holds images of shape {images.shape[1:]}, expected (28, 28).")
    if labels.shape[0] != images.shape[0]:
        raise DataError(f"{paths[lab_name]} has {labels.shape[0]} labels for {images.shape[0]} images "
                        f"in {paths[img_name]}.")
    if labels.size and labels.max() > 9:
        raise DataError(f"{paths[lab_name]} has label {labels.max()}, expected 0..9.")
    return images, labels.astype(np.int64)


def split_rows(split: str, n_train: int, n_test: int) -> tuple[str, slice]:
    """(part, rows) of ``split`` given the sizes of the official train and test parts."""
    if split == "test":
        return "test", slice(0, n_test)
    if n_train <= VALID_SIZE:
        raise DataError(f"the training set has {n_train} images: too few for a {VALID_SIZE}-image "
                        f"validation split.")
    cut = n_train - VALID_SIZE
    return "train", (slice(0, cut) if split == "train" else slice(cut, n_train))


def load(name: str, split: str, root: Path, download: bool = True) -> ImageDataset:
    part = "test" if split == "test" else "train"
    images, labels = load_part(name, root, part, download)
    _, rows = split_rows(split, len(images), len(images))
    images, labels = images[rows], labels[rows]
    return ImageDataset(torch.from_numpy(np.ascontiguousarray(images[:, None])), torch.from_numpy(labels),
                        name=name, split=split, levels=256, n_classes=10, source="official idx files")
