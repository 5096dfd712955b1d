"""Exact NLL of a dataset split under a model: the work behind `autogen eval-nll`."""

import math

import torch

from . import registry
from .data import load_dataset
from .errors import UsageError
from .progress import task_bar


@torch.no_grad()
def evaluate_nll(ref: str, dataset: str | None, split: str, *, limit=None, batch_size=256, data_dir=None,
                 device=None, progress=True) -> dict:
    model, ckpt = registry.load_model(ref, device)
    dataset = dataset or ckpt.metadata.get("dataset")
    if not dataset:
        raise UsageError("this checkpoint does not record its dataset: pass --dataset")
    data = load_dataset(dataset, split, data_dir)
    c = model.config
    if (c.channels, c.height, c.width) != tuple(data.shape) or c.levels != data.levels:
        raise UsageError(f"{ref} models {c.channels}x{c.height}x{c.width} images with {c.levels} levels; "
                         f"{dataset} has {'x'.join(map(str, data.shape))} with {data.levels}")
    if c.n_classes and data.n_classes == 0:
        raise UsageError(f"{ref} is class-conditional but {dataset} {split} has no labels")
    n = len(data) if limit is None else min(limit, len(data))
    total = 0.0
    bar = task_bar("exact NLL", n, progress)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        x = data.images[start:stop].to(device, dtype=torch.long)
        y = data.labels[start:stop].to(device) if c.n_classes else None
        total += float(-model.log_prob(x, y).double().sum())
        bar(stop)
    bar(None)
    nats = total / n
    return {"model": ckpt.model, "checkpoint": ref, "dataset": data.name, "data_source": data.source,
            "split": split, "n": n, "nll_nats": nats, "bits_per_dim": nats / (c.dims * math.log(2.0))}

