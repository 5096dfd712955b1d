"""Training state (optimizer, EMA, RNG, counters) flattened into one safetensors file."""

import json

import torch

from ..checkpoints import load_tensors, save_tensors


def save_state(path, *, optimizer, raw_weights, ema_weights, counters: dict) -> None:
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    opt = optimizer.state_dict()
    for idx, slots in opt["state"].items():
        for key, value in slots.items():
            tensors[f"opt.{idx}.{key}"] = torch.as_tensor(value)
    for name, t in raw_weights.items():
        tensors[f"raw.{name}"] = t
    for name, t in (ema_weights or {}).items():
        tensors[f"ema.{name}"] = t
    meta = {"param_groups": json.dumps(opt["param_groups"]), "counters": json.dumps(counters)}
    save_tensors(path, tensors, meta)


def load_state(path) -> dict:
    tensors, meta = load_tensors(path)
    opt_state: dict[int, dict] = {}
    raw, ema = {}, {}
    for key, t in tensors.items():
        kind, _, rest = key.partition(".")
        if kind == "opt":
            idx, _, slot = rest.partition(".")
            opt_state.setdefault(int(idx), {})[slot] = t
        elif kind == "raw":
            raw[rest] = t
        elif kind == "ema":
            ema[rest] = t
    return {
        "optimizer": {"state": opt_state, "param_groups": json.loads(meta["param_groups"])},
        "raw": raw,
        "ema": ema or None,
        "rng": tensors["rng.torch"],
        "counters": json.loads(meta["counters"]),
    }
