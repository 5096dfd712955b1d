"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

A vertical stack (rows above) and a horizontal stack (pixels to the left in the current row) with
gated units tanh(a) * sigmoid(b) remove the blind spot of the masked PixelCNN. A class label adds
a learned bias to every gate.
"""

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from .base import PixelConfig
from .categorical import CategoricalImageModel
from .masked import ColumnConv2d, MaskedConv2d, RowConv2d, shift_down


class GatedPixelCNNConfig(PixelConfig):
    hidden: int = Field(32, ge=1, description="feature maps per stack (a multiple of channels)")
    n_layers: int = Field(8, ge=1)
    kernel: int = Field(5, ge=3, description="odd kernel width; the vertical kernel is (k//2+1, k)")
    head_hidden: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _check(self):
        if self.hidden % self.channels:
            raise ValueError("hidden must be a multiple of channels")
        if self.kernel % 2 == 0:
            raise ValueError("kernel must be odd")
        return self


def gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    def __init__(self, c: GatedPixelCNNConfig, first: bool):
        super().__init__()
        in_ch = c.channels if first else c.hidden
        h = c.hidden
        self.first = first
        self.v_conv = ColumnConv2d(in_ch, 2 * h, c.kernel)
        self.h_conv = RowConv2d(in_ch, 2 * h, c.kernel, "A" if first else "B", c.channels)
        self.v_to_h = nn.Conv2d(2 * h, 2 * h, 1)
        self.h_out = MaskedConv2d(h, h, 1, "B", c.channels)
        self.v_embed = nn.Embedding(c.n_classes, 2 * h) if c.n_classes else None
        self.h_embed = nn.Embedding(c.n_classes, 2 * h) if c.n_classes else None

    def forward(self, v, h, y):
        v_pre = self.v_conv(v)
        h_pre = self.h_conv(h) + self.v_to_h(shift_down(v_pre))
        if self.v_embed is not None:
            v_pre = v_pre + self.v_embed(y)[:, :, None, None]
            h_pre = h_pre + self.h_embed(y)[:, :, None, None]
        h_new = self.h_out(gate(h_pre))
        return gate(v_pre), (h_new if self.first else h + h_new)


class GatedPixelCNN(CategoricalImageModel):
    config_class = GatedPixelCNNConfig

    def __init__(self, config: GatedPixelCNNConfig):
        super().__init__(config)
        c = config
        self.layers = nn.ModuleList(GatedLayer(c, i == 0) for i in range(c.n_layers))
        self.head = MaskedConv2d(c.hidden, c.head_hidden, 1, "B", c.channels)
        self.out = MaskedConv2d(c.head_hidden, c.levels * c.channels, 1, "B", c.channels)

    def forward(self, x, y=None):
        v = h = self.scale_input(x)
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.logits_from_flat(self.out(F.relu(self.head(F.relu(h)))))
