"""The one Dataset type every image loader returns: integer levels, uint8, [N, C, H, W]."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class ImageDataset(Dataset):
    """Images as integer levels 0..levels-1 (uint8 [N, C, H, W]) and int64 labels [N].

    ``labels`` is -1 everywhere (and ``n_classes`` 0) when the source has no labels.
    ``source`` says where the pixels came from (e.g. "Larochelle & Murray amat files" or
    "derived from MNIST (seed 2008)").
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None, *, name: str, split: str,
                 levels: int, n_classes: int, source: str = ""):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if labels is None:
            labels = torch.full((images.shape[0],), -1, dtype=torch.int64)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be [{images.shape[0]}], got {tuple(labels.shape)}")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.name = name
        self.split = split
        self.levels = levels
        self.n_classes = n_classes
        self.source = source

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def subset(self, limit: int | None) -> ImageDataset:
        """The first ``limit`` items (all of them when limit is None or larger than the set)."""
        if limit is None or limit >= len(self):
            return self
        if limit < 0:
            raise ValueError("limit must be >= 0")
        return ImageDataset(self.images[:limit], self.labels[:limit], name=self.name, split=self.split,
                            levels=self.levels, n_classes=self.n_classes, source=self.source)

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, split={self.split!r}, n={len(self)}, shape={self.shape}, "
                f"levels={self.levels}, n_classes={self.n_classes}, source={self.source!r})")
