"""Shared head for models whose output is a softmax over the levels of each sub-pixel."""

import torch
import torch.nn.functional as F

from .base import ImageModel, sample_categorical


class CategoricalImageModel(ImageModel):
    """forward(x, y) returns logits [B, levels, C, H, W]; channel c of a pixel is predicted from
    the pixels before it and the channels < c of the same pixel."""

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x, y=None):
        y = self.check_labels(y, x.shape[0], x.device)
        logits = self(x, y)
        nll = F.cross_entropy(logits, x.long(), reduction="none")
        return -nll.flatten(1).sum(1)

    def _sample_pixel(self, x, y, i, j, temperature, generator):
        for ch in range(self.config.channels):
            logits = self(x, y)[:, :, ch, i, j]
            x[:, ch, i, j] = sample_categorical(logits, temperature, generator)

    def logits_from_flat(self, out: torch.Tensor) -> torch.Tensor:
        """[B, levels*C, H, W] with map l*C + c -> [B, levels, C, H, W] (map index % C == channel)."""
        b, _, h, w = out.shape
        return out.view(b, self.config.levels, self.config.channels, h, w)
