"""Integer-level image batches -> one PNG grid."""

import math
from pathlib import Path

import numpy as np


def grid_array(images, levels: int, nrow: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """[N, C, H, W] integer levels -> uint8 [H', W', C] grid, near-square unless nrow is given."""
    x = np.asarray(images.cpu() if hasattr(images, "cpu") else images).astype(np.float64)
    n, c, h, w = x.shape
    x = np.round(x * 255.0 / (levels - 1)).astype(np.uint8)
    ncol = nrow or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncol)
    out = np.full((nrows * (h + pad) + pad, ncol * (w + pad) + pad, c), 64, dtype=np.uint8)
    for k in range(n):
        r, q = divmod(k, ncol)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        out[top : top + h, left : left + w] = x[k].transpose(1, 2, 0)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def save_grid(images, path, levels: int, nrow: int | None = None, scale: int = 1) -> Path:
    """Write a PNG grid atomically; returns the path."""
    import io

    from PIL import Image

    from ..files import atomic_write_bytes

    arr = grid_array(images, levels, nrow=nrow, scale=scale)
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr[:, :, :3])
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
