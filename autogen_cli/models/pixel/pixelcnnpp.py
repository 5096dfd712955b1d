"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017).

Two streams keep causality without masks: `u` sees the rows above (down-shifted convolutions),
`ul` sees the rows above and the pixels to the left (down-right-shifted convolutions). Gated
residual blocks with concat_elu, stride-2 down-sampling, transposed-conv up-sampling with skip
connections between the two halves, and a discretized logistic mixture output.
"""

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from . import logistic_mixture as dlm
from .base import ImageModel, PixelConfig
from .masked import shift_down, shift_right


class PixelCNNPPConfig(PixelConfig):
    levels: int = Field(256, ge=2, le=256)
    filters: int = Field(32, ge=1)
    n_resnet: int = Field(2, ge=1, description="gated residual blocks per resolution")
    n_scales: int = Field(3, ge=1, description="resolutions: 28 -> 14 -> 7 for 3")
    n_mix: int = Field(5, ge=1, description="logistic mixture components")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


def concat_elu(x):
    return F.elu(torch.cat([x, -x], dim=1))


class DownShiftedConv(nn.Conv2d):
    """Output (i, j) sees input rows i-kh+1..i and columns j-kw//2..j+kw//2."""

    def __init__(self, in_ch, out_ch, kernel=(2, 3), stride=1):
        super().__init__(in_ch, out_ch, kernel, stride=stride)
        kh, kw = kernel
        self.pad = ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0)

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


class DownRightShiftedConv(nn.Conv2d):
    """Output (i, j) sees input rows i-kh+1..i and columns j-kw+1..j."""

    def __init__(self, in_ch, out_ch, kernel=(2, 2), stride=1):
        super().__init__(in_ch, out_ch, kernel, stride=stride)
        kh, kw = kernel
        self.pad = (kw - 1, 0, kh - 1, 0)

    def forward(self, x):
        return super().forward(F.pad(x, self.pad))


class DownShiftedDeconv(nn.ConvTranspose2d):
    def __init__(self, in_ch, out_ch, kernel=(2, 3)):
        super().__init__(in_ch, out_ch, kernel, stride=2, output_padding=1)
        self.kernel = kernel

    def forward(self, x, size):
        out = super().forward(x)
        kh, kw = self.kernel
        out = out[:, :, : out.shape[2] - kh + 1, (kw - 1) // 2 : out.shape[3] - (kw - 1) // 2]
        return out[:, :, : size[0], : size[1]]


class DownRightShiftedDeconv(nn.ConvTranspose2d):
    def __init__(self, in_ch, out_ch, kernel=(2, 2)):
        super().__init__(in_ch, out_ch, kernel, stride=2, output_padding=1)
        self.kernel = kernel

    def forward(self, x, size):
        out = super().forward(x)
        kh, kw = self.kernel
        out = out[:, :, : out.shape[2] - kh + 1, : out.shape[3] - kw + 1]
        return out[:, :, : size[0], : size[1]]


class GatedResnet(nn.Module):
    def __init__(self, filters, conv, skip_ch, n_classes, dropout):
        super().__init__()
        self.conv_in = conv(2 * filters, filters)
        self.skip = nn.Conv2d(2 * skip_ch, filters, 1) if skip_ch else None
        self.conv_out = conv(2 * filters, 2 * filters)
        self.embed = nn.Embedding(n_classes, 2 * filters) if n_classes else None
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward(self, x, skip=None, y=None):
        h = self.conv_in(concat_elu(x))
        if skip is not None:
            h = h + self.skip(concat_elu(skip))
        h = self.conv_out(self.dropout(concat_elu(h)))
        if self.embed is not None:
            h = h + self.embed(y)[:, :, None, None]
        a, b = h.chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNPP(ImageModel):
    config_class = PixelCNNPPConfig

    def __init__(self, config: PixelCNNPPConfig):
        super().__init__(config)
        c = config
        f, k, drop = c.filters, c.n_classes, c.dropout
        cin = c.channels + 1  # a channel of ones marks the image (zero padding is then visible)
        self.u_init = DownShiftedConv(cin, f, (2, 3))
        self.ul_init_up = DownShiftedConv(cin, f, (1, 3))
        self.ul_init_left = DownRightShiftedConv(cin, f, (2, 1))

        def u_block(skip_ch):
            return GatedResnet(f, DownShiftedConv, skip_ch, k, drop)

        def ul_block(skip_ch):
            return GatedResnet(f, DownRightShiftedConv, skip_ch, k, drop)

        self.down_u = nn.ModuleList(nn.ModuleList(u_block(0) for _ in range(c.n_resnet)) for _ in range(c.n_scales))
        self.down_ul = nn.ModuleList(
            nn.ModuleList(ul_block(f) for _ in range(c.n_resnet)) for _ in range(c.n_scales)
        )
        self.downsample_u = nn.ModuleList(DownShiftedConv(f, f, (2, 3), 2) for _ in range(c.n_scales - 1))
        self.downsample_ul = nn.ModuleList(DownRightShiftedConv(f, f, (2, 2), 2) for _ in range(c.n_scales - 1))
        # Going up, the first scale has n_resnet blocks, the others one more (it eats the skip
        # that the down-sampling step pushed).
        ups = [c.n_resnet] + [c.n_resnet + 1] * (c.n_scales - 1)
        self.up_u = nn.ModuleList(nn.ModuleList(u_block(f) for _ in range(n)) for n in ups)
        self.up_ul = nn.ModuleList(nn.ModuleList(ul_block(2 * f) for _ in range(n)) for n in ups)
        self.upsample_u = nn.ModuleList(DownShiftedDeconv(f, f) for _ in range(c.n_scales - 1))
        self.upsample_ul = nn.ModuleList(DownRightShiftedDeconv(f, f) for _ in range(c.n_scales - 1))
        self.out = nn.Conv2d(f, dlm.n_params(c.channels, c.n_mix), 1)

    def forward(self, x, y=None):
        """Mixture parameters [B, n_params, H, W] for each pixel, from the pixels before it."""
        h = self.scale_input(x)
        h = torch.cat([h, torch.ones_like(h[:, :1])], dim=1)
        u = shift_down(self.u_init(h))
        ul = shift_down(self.ul_init_up(h)) + shift_right(self.ul_init_left(h))
        us, uls = [u], [ul]
        for s in range(self.config.n_scales):
            for ub, ulb in zip(self.down_u[s], self.down_ul[s]):
                u = ub(u, y=y)
                ul = ulb(ul, u, y=y)
                us.append(u)
                uls.append(ul)
            if s < self.config.n_scales - 1:
                u, ul = self.downsample_u[s](u), self.downsample_ul[s](ul)
                us.append(u)
                uls.append(ul)
        u, ul = us.pop(), uls.pop()
        for s in range(self.config.n_scales):
            for ub, ulb in zip(self.up_u[s], self.up_ul[s]):
                u = ub(u, us.pop(), y=y)
                ul = ulb(ul, torch.cat([u, uls.pop()], dim=1), y=y)
            if s < self.config.n_scales - 1:
                size = us[-1].shape[2:]
                u, ul = self.upsample_u[s](u, size), self.upsample_ul[s](ul, size)
        return self.out(F.elu(ul))

    def log_prob(self, x, y=None):
        y = self.check_labels(y, x.shape[0], x.device)
        params = self(x, y)
        return dlm.log_prob(params, x, self.config.levels, self.config.n_mix).flatten(1).sum(1)

    def _sample_pixel(self, x, y, i, j, temperature, generator):
        c = self.config
        params = self(x, y)[:, :, i, j]
        x[:, :, i, j] = dlm.sample_pixel(params, c.channels, c.levels, c.n_mix, temperature, generator)
