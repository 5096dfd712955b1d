"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016): a stack of masked convolutions."""

import torch.nn.functional as F
from pydantic import Field
from torch import nn

from .base import PixelConfig
from .categorical import CategoricalImageModel
from .masked import MaskedConv2d


class PixelCNNConfig(PixelConfig):
    hidden: int = Field(64, ge=1, description="feature maps per layer (a multiple of channels)")
    n_layers: int = Field(7, ge=0, description="residual 3x3 mask-B layers after the 7x7 mask-A input")
    first_kernel: int = Field(7, ge=3)
    kernel: int = Field(3, ge=1)
    head_hidden: int = Field(64, ge=1)


class PixelCNN(CategoricalImageModel):
    config_class = PixelCNNConfig

    def __init__(self, config: PixelCNNConfig):
        super().__init__(config)
        c, h = config.channels, config.hidden
        self.input = MaskedConv2d(c, h, config.first_kernel, "A", c)
        self.layers = nn.ModuleList(MaskedConv2d(h, h, config.kernel, "B", c) for _ in range(config.n_layers))
        self.mix = nn.ModuleList(MaskedConv2d(h, h, 1, "B", c) for _ in range(config.n_layers))
        self.head = MaskedConv2d(h, config.head_hidden, 1, "B", c)
        self.out = MaskedConv2d(config.head_hidden, config.levels * c, 1, "B", c)
        self.embed = nn.Embedding(config.n_classes, h) if config.n_classes else None

    def forward(self, x, y=None):
        cond = self.embed(y)[:, :, None, None] if self.embed is not None else 0.0
        h = self.input(self.scale_input(x)) + cond
        for conv, mix in zip(self.layers, self.mix):
            h = h + mix(F.relu(conv(F.relu(h)) + cond))
        h = F.relu(self.head(F.relu(h)))
        return self.logits_from_flat(self.out(h))

