"""Pick the torch device: --device auto means CUDA, then Apple MPS, then CPU."""

import os

from .errors import UsageError


def resolve_device(spec: str | None = None):
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:1' | 'mps' into a torch.device that exists here.

    `AUTOGEN_DEVICE` supplies the default when `spec` is None or 'auto' is not given explicitly.
    """
    import torch

    spec = (spec or os.environ.get("AUTOGEN_DEVICE") or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UsageError(f"unknown device '{spec}': use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{spec}' asked for but CUDA is not available here; use --device auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device '{spec}' does not exist: {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError("device 'mps' asked for but Apple MPS is not available here; use --device auto or cpu")
    elif device.type != "cpu":
        raise UsageError(f"unsupported device '{spec}': use auto, cpu, cuda, cuda:N or mps")
    return device


def setup(spec: str | None, seed: int):
    """Seed torch's global RNG and resolve the device (what every command does first)."""
    import torch

    torch.manual_seed(seed)
    return resolve_device(spec)


def generator(device, seed: int):
    """A seeded generator on `device`: samplers draw from it so a seed reproduces the same images."""
    import torch

    return torch.Generator(device=device).manual_seed(seed)
