"""Binarized MNIST (2 levels, 1x28x28), split 50,000 / 10,000 / 10,000.

Preferred source: the fixed binarization of Larochelle & Murray (2011), the ``.amat`` files
``binarized_mnist_{train,valid,test}.amat`` in ``<root>/binarized-mnist/`` (one image per
line, 784 space-separated 0/1 values; no labels). They are used only when all three are
present (downloaded when possible), so the splits never mix two sources.

Fallback (the amat files are absent and cannot be downloaded): the same construction derived
from the MNIST idx files, one stochastic binarization pixel ~ Bernoulli(v / 255) with a fixed
seed. Recipe, identical on every machine: the 70,000 images in the order official train
(60,000) then official test (10,000), pixels in row-major order, one float64 uniform each from
``np.random.Generator(np.random.PCG64(DERIVE_SEED)).random`` drawn in that order; the pixel is
1 iff ``u < v / 255.0``. train = the first 50,000, valid = the next 10,000 (see
``mnist.VALID_SIZE``), test = the official test images; labels are MNIST's. This is NOT the
same data as the amat files (another draw), so ``ImageDataset.source`` says which one was used
and NLL numbers must be reported with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autogen_cli.data import download as dl
from autogen_cli.data import mnist
from autogen_cli.data.dataset import ImageDataset
from autogen_cli.errors import DataError, DataMissingError

NAME = "binarized-mnist"
AMAT_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
AMAT_FILES = {split: f"binarized_mnist_{split}.amat" for split in ("train", "valid", "test")}
# The amat files were not reachable where this module was written, so their sha256 is unknown:
# None = not checked on download (no invented hashes). Every load validates values and sizes.
AMAT_SHA256: dict[str, str | None] = {"train": None, "valid": None, "test": None}

DERIVE_SEED = 2008  # PCG64 seed of the derived binarization (see the module docstring)
DERIVE_CHUNK = 4096  # images per draw; chunking does not change the stream (one uint64 per double)
PIXELS = 28 * 28

_SPACE = np.zeros(256, bool)
_SPACE[[ord(c) for c in " \t\r\n"]] = True


def read_amat(path: str | Path) -> np.ndarray:
    """A binarized MNIST .amat file as uint8 [N, 784] of 0/1."""
    path = Path(path)
    data = path.read_bytes()
    arr = np.frombuffer(data, np.uint8)
    digit = (arr == 48) | (arr == 49)
    n_lines = sum(1 for line in data.split(b"\n") if line.strip())
    if np.all(digit | _SPACE[arr]) and not np.any(digit[1:] & digit[:-1]):
        values = arr[digit] - 48  # fast path: every token is a single 0 or 1
    else:
        try:
            floats = np.array(data.split(), dtype=np.float64)
        except ValueError as e:
            raise DataError(f"{path} is not an amat file of 0/1 values ({e}).") from None
        if not np.all((floats == 0) | (floats == 1)):
            raise DataError(f"{path} holds values other than 0 and 1: not binarized MNIST.")
        values = floats.astype(np.uint8)
    if values.size != n_lines * PIXELS:
        raise DataError(f"{path} has {values.size} values on {n_lines} lines, expected {PIXELS} per line: "
                        f"the file is truncated or corrupt; delete it and download it again.")
    return values.reshape(n_lines, PIXELS)


def derive(images: np.ndarray, start: int = 0, seed: int = DERIVE_SEED) -> np.ndarray:
    """Binarize ``images`` (uint8 [n, 28, 28]) that sit at position ``start`` of the 70,000-image order."""
    flat = images.reshape(len(images), -1)
    bitgen = np.random.PCG64(seed)
    bitgen.advance(start * flat.shape[1])  # random() uses exactly one 64-bit draw per double
    rng = np.random.Generator(bitgen)
    threshold = np.arange(256, dtype=np.float64) / 255.0
    out = np.empty(flat.shape, np.uint8)
    for i in range(0, len(flat), DERIVE_CHUNK):
        block = flat[i:i + DERIVE_CHUNK]
        out[i:i + DERIVE_CHUNK] = rng.random(block.shape) < threshold[block]
    return out.reshape(images.shape)


def _amat_paths(directory: Path, download: bool) -> tuple[dict[str, Path] | None, str]:
    paths = {s: directory / f for s, f in AMAT_FILES.items()}
    missing = [s for s, p in paths.items() if not p.is_file()]
    if not missing:
        return paths, ""
    if not download:
        return None, "download disabled"
    try:
        for s in missing:
            dl.download(AMAT_URL + AMAT_FILES[s], paths[s], AMAT_SHA256[s])
    except dl.DownloadFailed as e:
        return None, f"download failed: {e}"
    return paths, ""


def load(split: str, root: Path, download: bool = True) -> ImageDataset:
    directory = root / NAME
    paths, reason = _amat_paths(directory, download)
    if paths is not None:
        x = read_amat(paths[split])
        return ImageDataset(torch.from_numpy(x.reshape(-1, 1, 28, 28)), None, name=NAME, split=split,
                            levels=2, n_classes=0, source="Larochelle & Murray amat files")
    try:
        mnist.ensure_files("mnist", root, ("train", "test") if split == "test" else ("train",), download)
        train, train_labels = mnist.load_part("mnist", root, "train", download)
        if split == "test":
            images, labels = mnist.load_part("mnist", root, "test", download)
            start = len(train)
        else:
            _, rows = mnist.split_rows(split, len(train), 0)
            images, labels, start = train[rows], train_labels[rows], rows.start
    except DataMissingError as e:
        wanted = ", ".join(AMAT_FILES.values())
        raise DataMissingError(f"Binarized MNIST not found in {directory} ({reason}): put {wanted} there "
                               f"(from {AMAT_URL}), or the MNIST idx files to derive it from; {e}") from None
    x = derive(images, start)
    return ImageDataset(torch.from_numpy(x[:, None]), torch.from_numpy(labels), name=NAME, split=split,
                        levels=2, n_classes=10, source=f"derived from MNIST (seed {DERIVE_SEED})")
