"""Publishing a trained checkpoint: measure its test NLL, bundle the file, write its manifest entry.

The numbers in the manifest are always measured here, by the same code as `autogen eval-nll`.
"""

import json
from pathlib import Path

from . import hub
from .checkpoints import load_checkpoint
from .errors import UsageError
from .evaluate import evaluate_nll
from .files import atomic_write_bytes


def register(path, name: str, *, repo_id: str | None = None, default_for: str | None = None,
             anchor: str | None = None, description: str | None = None, manifest_path=None,
             data_dir=None, device=None, progress: bool = True) -> dict:
    path = Path(path)
    ckpt = load_checkpoint(path)
    dataset = ckpt.metadata.get("dataset")
    command = ckpt.metadata.get("command")
    if not dataset or not command:
        raise UsageError(f"{path} does not record its dataset and training command: train it with `autogen train`")
    result = evaluate_nll(str(path), dataset, "test", data_dir=data_dir, device=device, progress=progress)
    metrics = {"test_nll_nats": round(result["nll_nats"], 3), "test_bits_per_dim": round(result["bits_per_dim"], 4)}
    valid = (ckpt.metadata.get("metrics") or {}).get("valid_nll_nats")
    if valid is not None:
        metrics["valid_nll_nats"] = round(valid, 3)
    data = path.read_bytes()
    file_name = f"{name}.safetensors"
    atomic_write_bytes(hub.bundled_dir() / file_name, data)
    manifest_path = Path(manifest_path or hub.manifest_candidates()[-1])
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"format": 1, "checkpoints": {}}
    entry = {
        "model": ckpt.model, "dataset": dataset, "file": file_name,
        "sha256": hub.sha256_file(hub.bundled_dir() / file_name), "size": len(data),
        "hub": {"repo_id": repo_id or f"autogen-models/{name}", "revision": "main", "filename": file_name},
        "metrics": metrics, "data_source": result["data_source"], "command": command,
        "eval_command": f"autogen eval-nll {name} --split test",
    }
    if anchor:
        entry["anchor"] = anchor
    if description:
        entry["description"] = description
    if default_for:
        for other in manifest["checkpoints"].values():  # one default per architecture
            if other.get("default_for") == default_for:
                other.pop("default_for")
        entry["default_for"] = default_for
    manifest["checkpoints"][name] = entry
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    hub.Manifest.model_validate(json.loads(text))  # never write a manifest we cannot read back
    atomic_write_bytes(manifest_path, text.encode())
    return entry
