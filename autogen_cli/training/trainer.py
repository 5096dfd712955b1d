"""The Trainer: AdamW, gradient clipping, EMA, LR schedule, exact validation NLL and a sample grid
each epoch, best/last checkpoints, metrics.jsonl, exact resume, Ctrl-C saves, DDP under torchrun.

Batches come from a permutation that is a pure function of (seed, epoch), so a resumed run sees the
same data in the same order; the torch RNG state (dropout) travels in the state file.
"""

import json
import math
import signal
import time
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ..checkpoints import load_checkpoint, save_checkpoint, state_path
from ..errors import AutogenError, UsageError
from . import distributed
from .ema import EMA
from .schedules import lr_factor
from .state import load_state, save_state


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, ge=0, description="max gradient norm; 0 = off")
    ema: float = Field(0.0, ge=0, lt=1, description="EMA decay of the weights; 0 = off")
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_steps: int = Field(100, ge=0)
    seed: int = 0
    limit: int | None = Field(None, ge=1, description="train on the first N images only")
    eval_limit: int | None = Field(None, ge=1, description="evaluate on the first N validation images")
    eval_batch_size: int = Field(256, ge=1)
    sample_n: int = Field(16, ge=0, description="images in the grid drawn each epoch; 0 = none")


class TrainingInterrupted(AutogenError):
    exit_code = 130


class _LossModule(nn.Module):
    """DDP hooks forward(); route it to model.loss so every family trains the same way."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, y):
        return self.model.loss(x, y)


class Trainer:
    def __init__(self, model_name: str, model, train_set, valid_set, cfg: TrainConfig, out_dir,
                 device, metadata: dict | None = None, console=None):
        self.model_name, self.model, self.cfg = model_name, model.to(device), cfg
        self.train_set, self.valid_set = train_set, valid_set
        self.out = Path(out_dir)
        self.device = device
        self.metadata = dict(metadata or {})
        self.dist = distributed.setup(device)
        self.console = console
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.best = math.inf
        self._stop = False
        n = len(train_set) if cfg.limit is None else min(cfg.limit, len(train_set))
        self.n_train = n
        self.steps_per_epoch = math.ceil(n / cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        wrapped = _LossModule(self.model)
        if self.dist.world > 1:
            wrapped = nn.parallel.DistributedDataParallel(wrapped)
        self.loss_module = wrapped

    # -- paths -------------------------------------------------------------------------------------
    @property
    def last_path(self) -> Path:
        return self.out / "last.safetensors"

    @property
    def best_path(self) -> Path:
        return self.out / "best.safetensors"

    # -- resume ------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Continue exactly where out_dir/last.* left off."""
        if not self.last_path.exists() or not state_path(self.last_path).exists():
            raise UsageError(f"nothing to resume in {self.out}: no last.safetensors + last.state.safetensors")
        ckpt = load_checkpoint(self.last_path)
        state = load_state(state_path(self.last_path))
        weights = state["raw"] or ckpt.state_dict
        self.model.load_state_dict(weights)
        self.opt.load_state_dict(state["optimizer"])
        if self.ema is not None:
            self.ema.shadow = {k: v.to(self.device) for k, v in (state["ema"] or ckpt.state_dict).items()}
        torch.set_rng_state(state["rng"])
        c = state["counters"]
        self.epoch, self.batch_in_epoch, self.step = c["epoch"], c["batch_in_epoch"], c["step"]
        self.best = c.get("best", math.inf)

    # -- one epoch ---------------------------------------------------------------------------------
    def _batches(self, epoch: int):
        g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n_train, generator=g)
        for b in range(self.steps_per_epoch):
            idx = perm[b * self.cfg.batch_size : (b + 1) * self.cfg.batch_size]
            yield b, idx[self.dist.rank :: self.dist.world]

    def _get(self, dataset, idx):
        x = dataset.images[idx].to(self.device, dtype=torch.long)
        y = dataset.labels[idx].to(self.device) if self.model.config.n_classes else None
        return x, y

    def _train_step(self, idx) -> float:
        x, y = self._get(self.train_set, idx)
        for group in self.opt.param_groups:
            group["lr"] = self.cfg.lr * lr_factor(self.cfg.schedule, self.step, self.total_steps,
                                                  self.cfg.warmup_steps)
        self.model.train()
        loss = self.loss_module(x, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.opt.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        return float(loss.detach())

    # -- evaluation --------------------------------------------------------------------------------
    def _eval_weights(self):
        return self.ema.shadow if self.ema is not None else self.model.state_dict()

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Exact NLL on the validation split with the weights that will be saved."""
        raw = None
        if self.ema is not None:
            raw = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.model.load_state_dict(self.ema.shadow)
        self.model.eval()
        n = len(self.valid_set) if self.cfg.eval_limit is None else min(self.cfg.eval_limit, len(self.valid_set))
        idx_all = torch.arange(n)[self.dist.rank :: self.dist.world]
        total = 0.0
        for start in range(0, len(idx_all), self.cfg.eval_batch_size):
            x, y = self._get(self.valid_set, idx_all[start : start + self.cfg.eval_batch_size])
            total += float(-self.model.log_prob(x, y).double().sum())
        total, count = self.dist.all_sum([total, float(len(idx_all))])
        samples = None
        if self.dist.main and self.cfg.sample_n > 0:
            g = torch.Generator(device=self.device).manual_seed(self.cfg.seed + self.epoch)
            samples = self.model.sample(self.cfg.sample_n, generator=g)
        if raw is not None:
            self.model.load_state_dict(raw)
        nats = total / max(count, 1)
        dims = self.model.config.dims
        return {"valid_nll_nats": nats, "valid_bits_per_dim": nats / (dims * math.log(2)), "valid_n": int(count),
                "samples": samples}

    # -- saving ------------------------------------------------------------------------------------
    def _meta(self, metrics: dict | None) -> dict:
        meta = dict(self.metadata)
        meta.update(train_config=self.cfg.model_dump(), epoch=self.epoch, step=self.step)
        if metrics:
            meta["metrics"] = metrics
        return meta

    def save(self, metrics: dict | None = None, best: bool = False) -> None:
        if not self.dist.main:
            return
        config = self.model.config.model_dump()
        save_checkpoint(self.last_path, self.model_name, config, self._eval_weights(), self._meta(metrics))
        save_state(
            state_path(self.last_path), optimizer=self.opt,
            raw_weights=self.model.state_dict() if self.ema is not None else {},
            ema_weights=None, counters={"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                                        "step": self.step, "best": self.best},
        )
        if best:
            save_checkpoint(self.best_path, self.model_name, config, self._eval_weights(), self._meta(metrics))

    # -- the loop ----------------------------------------------------------------------------------
    def _on_sigint(self, signum, frame):
        if self._stop:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        self._stop = True

    def fit(self) -> dict:
        self.out.mkdir(parents=True, exist_ok=True)
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        last_metrics: dict = {}
        try:
            while self.epoch < self.cfg.epochs:
                train_loss = self._run_epoch()
                if self._stop:
                    break
                ev = self.evaluate()
                samples = ev.pop("samples")
                last_metrics = {"epoch": self.epoch + 1, "step": self.step, "train_loss_nats_per_dim": train_loss,
                                "lr": self.opt.param_groups[0]["lr"], **ev}
                improved = ev["valid_nll_nats"] < self.best
                self.best = min(self.best, ev["valid_nll_nats"])
                self.epoch += 1
                self.batch_in_epoch = 0
                self.save(last_metrics, best=improved)
                self._log_epoch(last_metrics, samples)
                self.dist.barrier()
        finally:
            signal.signal(signal.SIGINT, previous)
        if self._stop:
            self.save()
            self.dist.barrier()
            raise TrainingInterrupted(
                f"interrupted at epoch {self.epoch + 1}, batch {self.batch_in_epoch}: saved {self.last_path}; "
                "continue with the same command plus --resume"
            )
        return last_metrics

    def _run_epoch(self) -> float:
        from .progress import EpochProgress

        total, count = 0.0, 0
        start_batch = self.batch_in_epoch
        with EpochProgress(self.epoch, self.cfg.epochs, self.steps_per_epoch, start_batch, self.dist.main,
                           self.console) as bar:
            t0 = time.perf_counter()
            for b, idx in self._batches(self.epoch):
                if b < start_batch:
                    continue
                loss = self._train_step(idx)
                self.batch_in_epoch = b + 1
                total, count = total + loss, count + 1
                images = (b + 1 - start_batch) * self.cfg.batch_size
                bar.update(b + 1, loss, images / max(time.perf_counter() - t0, 1e-9))
                if self._stop:
                    break
        return total / max(count, 1)

    def _log_epoch(self, metrics: dict, samples) -> None:
        if not self.dist.main:
            return
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(metrics) + "\n")
        if samples is not None:
            from ..render.images import save_grid

            save_grid(samples, self.out / "samples" / f"epoch_{metrics['epoch']:03d}.png",
                      self.model.config.levels, scale=2)
        msg = (f"epoch {metrics['epoch']}/{self.cfg.epochs}: train {metrics['train_loss_nats_per_dim']:.4f} "
               f"nats/dim, valid {metrics['valid_nll_nats']:.2f} nats ({metrics['valid_bits_per_dim']:.4f} bits/dim)")
        if self.console is not None:
            self.console.print(msg)
        else:
            print(msg, flush=True)
