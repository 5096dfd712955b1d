"""Masked convolutions (van den Oord et al. 2016) with colour-channel groups.

Feature map k belongs to image channel k % C. At the centre pixel a weight from group g_in to
group g_out is kept when g_in < g_out (mask 'A', first layer) or g_in <= g_out (mask 'B').
"""

import torch
import torch.nn.functional as F
from torch import nn


def channel_mask(out_ch: int, in_ch: int, groups: int, mask_type: str) -> torch.Tensor:
    g_out = torch.arange(out_ch) % groups
    g_in = torch.arange(in_ch) % groups
    if mask_type == "A":
        return (g_in[None, :] < g_out[:, None]).float()
    return (g_in[None, :] <= g_out[:, None]).float()


class MaskedConv2d(nn.Conv2d):
    """Square k x k convolution that sees only the pixels above and to the left (and, by channel
    group, the centre)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, mask_type: str, groups: int = 1):
        super().__init__(in_ch, out_ch, kernel, padding=kernel // 2)
        mask = torch.zeros_like(self.weight)
        k = kernel // 2
        mask[:, :, :k, :] = 1
        mask[:, :, k, :k] = 1
        mask[:, :, k, k] = channel_mask(out_ch, in_ch, groups, mask_type)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class RowConv2d(nn.Conv2d):
    """Horizontal-stack convolution: kernel (1, k//2 + 1) over the current pixel and those to its
    left; the centre column is channel-masked (all of it for mask 'A' with one channel)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, mask_type: str, groups: int = 1):
        super().__init__(in_ch, out_ch, (1, kernel // 2 + 1))
        self.left = kernel // 2
        mask = torch.ones_like(self.weight)
        mask[:, :, 0, -1] = channel_mask(out_ch, in_ch, groups, mask_type)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.conv2d(F.pad(x, (self.left, 0, 0, 0)), self.weight * self.mask, self.bias)


class ColumnConv2d(nn.Conv2d):
    """Vertical-stack convolution: kernel (k//2 + 1, k) over the current row and the rows above.
    Its output at row i must be shifted down one row before the horizontal stack may see it."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int):
        super().__init__(in_ch, out_ch, (kernel // 2 + 1, kernel))
        self.pad = (kernel // 2, kernel // 2, kernel // 2, 0)

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


def shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    return F.pad(x, (0, 0, rows, 0))[:, :, : x.shape[2], :]


def shift_right(x: torch.Tensor, cols: int = 1) -> torch.Tensor:
    return F.pad(x, (cols, 0, 0, 0))[:, :, :, : x.shape[3]]
