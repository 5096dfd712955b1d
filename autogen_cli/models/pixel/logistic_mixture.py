"""Discretized logistic mixture likelihood of PixelCNN++ (Salimans et al. 2017), any number of levels.

Values are levels 0..L-1 mapped to [-1, 1]; each bin is [v - 1/(L-1), v + 1/(L-1)] and the edge
bins absorb the tails, so the probabilities of the L levels telescope to exactly 1. With 3
channels the means are coupled: mu_g += c0 * r, mu_b += c1 * r + c2 * g (eq. 3 of the paper).
"""

import torch
import torch.nn.functional as F

from .base import sample_categorical

MIN_LOG_SCALE = -7.0


def n_params(channels: int, n_mix: int) -> int:
    """Per pixel: mixture logits + (mean, log-scale) per channel + the coupling coefficients."""
    return n_mix * (1 + 2 * channels + channels * (channels - 1) // 2)


def split_params(params: torch.Tensor, channels: int, n_mix: int):
    """[B, n_params, H, W] -> logits [B,K,H,W], means/log_scales [B,K,C,H,W], coeffs [B,K,P,H,W]."""
    b, _, h, w = params.shape
    logits = params[:, :n_mix]
    rest = params[:, n_mix:].view(b, n_mix, -1, h, w)
    means = rest[:, :, :channels]
    log_scales = rest[:, :, channels : 2 * channels].clamp(min=MIN_LOG_SCALE)
    coeffs = torch.tanh(rest[:, :, 2 * channels :])
    return logits, means, log_scales, coeffs


def coupled_means(means: torch.Tensor, coeffs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Add the linear dependence of channel c on channels < c of the same pixel. x: [B,1,C,H,W]."""
    channels = means.shape[2]
    if channels == 1:
        return means
    out = [means[:, :, 0]]
    k = 0
    for c in range(1, channels):
        m = means[:, :, c]
        for prev in range(c):
            m = m + coeffs[:, :, k] * x[:, :, prev]
            k += 1
        out.append(m)
    return torch.stack(out, dim=2)


def log_bin_prob(x: torch.Tensor, x_int: torch.Tensor, mean, log_scale, levels: int) -> torch.Tensor:
    """log P(level) under a discretized logistic, stable in every regime.

    Inner bins use log(sigmoid(a) - sigmoid(b)) = logsigmoid(a) + logsigmoid(-b) + log(1 - e^(b-a)),
    which is exact without the density approximation of the reference code.
    """
    half = 1.0 / (levels - 1)
    inv_s = torch.exp(-log_scale)
    a = inv_s * (x - mean + half)
    b = inv_s * (x - mean - half)
    lo = F.logsigmoid(a)  # x at the lowest level: P = sigmoid(a)
    hi = F.logsigmoid(-b)  # x at the highest level: P = 1 - sigmoid(b)
    mid = lo + hi + torch.log(-torch.expm1(b - a))
    return torch.where(x_int == 0, lo, torch.where(x_int == levels - 1, hi, mid))


def log_prob(params: torch.Tensor, x_int: torch.Tensor, levels: int, n_mix: int) -> torch.Tensor:
    """Per-pixel log-likelihood [B, H, W] of integer levels x_int [B, C, H, W]."""
    channels = x_int.shape[1]
    logits, means, log_scales, coeffs = split_params(params, channels, n_mix)
    x = (x_int.float() * (2.0 / (levels - 1)) - 1.0).unsqueeze(1)
    means = coupled_means(means, coeffs, x)
    lp = log_bin_prob(x, x_int.unsqueeze(1), means, log_scales, levels).sum(2)
    return torch.logsumexp(lp + torch.log_softmax(logits, dim=1), dim=1)


def sample_pixel(params: torch.Tensor, channels: int, levels: int, n_mix: int, temperature: float, generator):
    """Draw one pixel's channels [B, C] from params [B, n_params] (all channels from one pass).

    A continuous logistic draw rounded to the nearest level (clamped at the edges) has exactly the
    discretized distribution. Temperature scales the logistic scales and the mixture logits.
    """
    p = params[:, :, None, None]
    logits, means, log_scales, coeffs = split_params(p, channels, n_mix)
    k = sample_categorical(logits[:, :, 0, 0], temperature, generator)
    idx = torch.arange(len(k), device=k.device)
    mean, log_s = means[idx, k, :, 0, 0], log_scales[idx, k, :, 0, 0]
    coef = coeffs[idx, k, :, 0, 0]
    out = torch.zeros(len(k), channels, dtype=torch.long, device=k.device)
    values = []
    c_idx = 0
    for c in range(channels):
        m = mean[:, c]
        for prev in range(c):
            m = m + coef[:, c_idx] * values[prev]
            c_idx += 1
        u = torch.rand(len(k), generator=generator, device=k.device, dtype=torch.float64)
        u = u.clamp(1e-7, 1 - 1e-7)
        v = m.double() + torch.exp(log_s[:, c]).double() * temperature * (torch.log(u) - torch.log1p(-u))
        level = torch.round((v + 1.0) * (levels - 1) / 2.0).clamp(0, levels - 1).long()
        out[:, c] = level
        values.append(level.float() * (2.0 / (levels - 1)) - 1.0)
    return out

