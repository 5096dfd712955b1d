"""One checkpoint = one .safetensors file: tensors plus JSON config/metadata in its header.

The header also holds the sha256 of the tensor payload, so a file handed over by path is verified
on load. Training state (optimizer, EMA, RNG, step) lives in a second file beside it. Every write
goes to a temporary file, is fsynced, then renamed over the target: a crash never leaves half a file.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import WeightsError
from .files import atomic_write_bytes

FORMAT = "autogen-1"


def payload_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Hash names, dtypes, shapes and bytes of all tensors in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    """Atomically write tensors with `metadata` (values JSON-encoded unless already strings)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    meta["autogen.format"] = FORMAT
    meta["autogen.payload_sha256"] = payload_sha256(tensors)
    atomic_write_bytes(path, save(tensors, metadata=meta))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read and verify a file written by save_tensors; any damage is a WeightsError."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise WeightsError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    try:
        tensors = load(data)
        meta = _read_header(data)
    except (SafetensorError, ValueError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path} is not a valid safetensors file (truncated or corrupt?): {e}") from None
    if meta.get("autogen.format") != FORMAT:
        raise WeightsError(f"{path} is not an autogen checkpoint (no '{FORMAT}' header)")
    expected = meta.get("autogen.payload_sha256")
    actual = payload_sha256(tensors)
    if expected != actual:
        raise WeightsError(
            f"{path} fails its integrity check (payload sha256 {actual[:12]}... != {str(expected)[:12]}... "
            "in its header): the file was modified or damaged; delete it and download or train it again"
        )
    return tensors, meta


def _read_header(data: bytes) -> dict[str, str]:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return header.get("__metadata__", {}) or {}


@dataclass
class Checkpoint:
    model: str
    config: dict
    state_dict: dict[str, torch.Tensor]
    metadata: dict = field(default_factory=dict)  # decoded JSON values: dataset, metrics, command...


def save_checkpoint(path: Path, model_name: str, config: dict, state_dict, metadata: dict | None = None):
    meta = {f"autogen.{k}": v for k, v in (metadata or {}).items()}
    meta["autogen.model"] = model_name
    meta["autogen.config"] = json.dumps(config, sort_keys=True)
    save_tensors(path, dict(state_dict), meta)


def load_checkpoint(path: Path) -> Checkpoint:
    tensors, meta = load_tensors(path)
    decoded = {}
    for key, value in meta.items():
        if not key.startswith("autogen.") or key in ("autogen.format", "autogen.payload_sha256"):
            continue
        try:
            decoded[key.removeprefix("autogen.")] = json.loads(value)
        except json.JSONDecodeError:
            decoded[key.removeprefix("autogen.")] = value
    if "model" not in decoded or "config" not in decoded:
        raise WeightsError(f"{path} has no model name or config in its header")
    model = decoded.pop("model")
    config = decoded.pop("config")
    return Checkpoint(model=model, config=config, state_dict=tensors, metadata=decoded)


def state_path(checkpoint_path: Path) -> Path:
    """Where the training state of a checkpoint lives: x.safetensors -> x.state.safetensors."""
    p = Path(checkpoint_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".state.safetensors")
