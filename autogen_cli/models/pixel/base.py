"""The ImageModel contract shared by every pixel model, and its generic naive sampler."""

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ...errors import UsageError


class PixelConfig(BaseModel):
    """Image shape and value range; family configs add their hyper-parameters."""

    model_config = ConfigDict(extra="forbid")

    channels: int = Field(1, ge=1, le=4)
    height: int = Field(28, ge=1, le=256)
    width: int = Field(28, ge=1, le=256)
    levels: int = Field(2, ge=2, le=256, description="2 = binary, 256 = 8-bit")
    n_classes: int = Field(0, ge=0, description="0 = unconditional")

    @property
    def dims(self) -> int:
        return self.channels * self.height * self.width


class ImageModel(nn.Module):
    """x holds integer levels [B, C, H, W]; log_prob is exact, in nats per image."""

    config_class = PixelConfig

    def __init__(self, config: PixelConfig):
        super().__init__()
        self.config = config

    # -- what every family implements -------------------------------------------------------------
    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def _sample_pixel(self, x, y, i, j, temperature, generator) -> None:
        """Fill x[:, :, i, j] in place (all channels) given the pixels before (i, j)."""
        raise NotImplementedError

    # -- shared behaviour ------------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Mean NLL in nats per dimension: the scale keeps learning rates comparable across sizes."""
        return -self.log_prob(x, y).mean() / self.config.dims

    def scale_input(self, x: torch.Tensor) -> torch.Tensor:
        """Integer levels -> floats in [-1, 1] (float input passes through, so tests can take gradients)."""
        x = x if x.is_floating_point() else x.float()
        return x * (2.0 / (self.config.levels - 1)) - 1.0

    def check_labels(self, y: torch.Tensor | None, batch: int, device) -> torch.Tensor | None:
        n_classes = self.config.n_classes
        if n_classes == 0:
            return None
        if y is None:
            raise UsageError("this model is class-conditional: give a label (--label)")
        y = torch.as_tensor(y, dtype=torch.long, device=device).reshape(-1)
        if y.numel() == 1 and batch > 1:
            y = y.expand(batch)
        if y.numel() != batch:
            raise UsageError(f"got {y.numel()} labels for {batch} images")
        if int(y.min()) < 0 or int(y.max()) >= n_classes:
            raise UsageError(f"label out of range: this model knows labels 0..{n_classes - 1}")
        return y

    def default_labels(self, n: int, device) -> torch.Tensor | None:
        """Unlabelled sampling of a conditional model cycles through the classes (a grid shows each)."""
        if self.config.n_classes == 0:
            return None
        return torch.arange(n, device=device) % self.config.n_classes

    @torch.no_grad()
    def sample(self, n: int, y=None, *, temperature: float = 1.0, generator=None, progress=None) -> torch.Tensor:
        """Naive reference sampler: one full forward pass per pixel (per channel where needed).

        `progress(done, total)` is called after each pixel when given (the CLI draws a bar with it).
        """
        if n <= 0:
            raise UsageError(f"n must be positive, got {n}")
        if not temperature > 0:
            raise UsageError(f"temperature must be > 0, got {temperature}")
        c = self.config
        device = next(self.parameters()).device
        y = self.default_labels(n, device) if y is None else y
        y = self.check_labels(y, n, device)
        was_training = self.training
        self.eval()
        x = torch.zeros(n, c.channels, c.height, c.width, dtype=torch.long, device=device)
        for i in range(c.height):
            for j in range(c.width):
                self._sample_pixel(x, y, i, j, temperature, generator)
                if progress is not None:
                    progress(i * c.width + j + 1, c.height * c.width)
        self.train(was_training)
        return x


def sample_categorical(logits: torch.Tensor, temperature: float, generator) -> torch.Tensor:
    """Inverse-CDF draw from softmax(logits / T) over the last axis, one uniform per row.

    One uniform per draw (rather than torch.multinomial) keeps every sampler that consumes the
    generator in the same order bit-identical.
    """
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    u = torch.rand(probs.shape[:-1] + (1,), generator=generator, device=probs.device, dtype=torch.float64)
    idx = (probs.cumsum(-1) < u).sum(-1)
    return idx.clamp_(max=probs.shape[-1] - 1)


def bits_per_dim(nats_per_image: float, dims: int) -> float:
    return nats_per_image / (dims * math.log(2.0))
