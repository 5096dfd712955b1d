"""The Trainer: exact resume, Ctrl-C saves, EMA, schedules, metrics and pictures."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autogen_cli.checkpoints import load_checkpoint
from autogen_cli.data.dataset import ImageDataset
from autogen_cli.training.schedules import lr_factor
from autogen_cli.training.trainer import TrainConfig, Trainer, TrainingInterrupted
from tests.pixel_configs import tiny

ROOT = Path(__file__).resolve().parents[1]


def toy_sets(n=48):
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(n, 1, 4, 4, generator=g) < 0.3).to(torch.uint8)
    labels = torch.arange(n) % 3
    make = lambda sl, split: ImageDataset(images[sl], labels[sl], name="toy", split=split, levels=2,  # noqa: E731
                                          n_classes=3, source="test")
    return make(slice(0, 32), "train"), make(slice(32, n), "valid")


def run(tmp, epochs, *, ema=0.0, model_seed=0, sample_n=2, **kw):
    torch.manual_seed(model_seed)
    model = tiny("pixelcnnpp", n_classes=3, dropout=0.1)
    train, valid = toy_sets()
    cfg = TrainConfig(epochs=epochs, batch_size=8, lr=3e-3, ema=ema, warmup_steps=2, sample_n=sample_n, **kw)
    return Trainer("pixelcnnpp", model, train, valid, cfg, tmp, torch.device("cpu"), {"dataset": "toy"})


def test_resume_after_one_epoch_matches_uninterrupted_run(tmp_path):
    full = run(tmp_path / "full", 2, ema=0.9)
    full.fit()
    first = run(tmp_path / "split", 2, ema=0.9)
    first.cfg = first.cfg.model_copy(update={"epochs": 1})  # stop after epoch 1 as if killed
    first.fit()
    resumed = run(tmp_path / "split", 2, ema=0.9, model_seed=123)  # different init: must be overwritten
    resumed.restore()
    assert resumed.epoch == 1
    resumed.fit()
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    a = load_checkpoint(tmp_path / "full" / "last.safetensors").state_dict
    b = load_checkpoint(tmp_path / "split" / "last.safetensors").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupt_mid_epoch_saves_and_resume_matches(tmp_path):
    full = run(tmp_path / "full", 1)
    full.fit()
    t = run(tmp_path / "cut", 1)
    original = t._train_step

    def step_then_interrupt(idx):
        loss = original(idx)
        if t.step == 2:
            t._on_sigint(signal.SIGINT, None)  # what Ctrl-C does
        return loss

    t._train_step = step_then_interrupt
    with pytest.raises(TrainingInterrupted, match="--resume"):
        t.fit()
    assert (tmp_path / "cut" / "last.state.safetensors").exists()
    resumed = run(tmp_path / "cut", 1, model_seed=7)
    resumed.restore()
    assert (resumed.epoch, resumed.batch_in_epoch, resumed.step) == (0, 2, 2)
    resumed.fit()
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_metrics_samples_and_best_checkpoint(tmp_path):
    t = run(tmp_path, 2)
    metrics = t.fit()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    assert lines[-1] == metrics
    assert metrics["valid_n"] == 16 and metrics["valid_nll_nats"] > 0
    assert (tmp_path / "samples" / "epoch_002.png").exists()
    best = load_checkpoint(tmp_path / "best.safetensors")
    assert best.metadata["metrics"]["valid_nll_nats"] == min(m["valid_nll_nats"] for m in lines)
    assert best.metadata["dataset"] == "toy"


def test_training_lowers_the_loss(tmp_path):
    t = run(tmp_path, 1, sample_n=0)
    before = t.evaluate()["valid_nll_nats"]
    t.cfg = t.cfg.model_copy(update={"epochs": 6})
    t.total_steps = t.steps_per_epoch * 6
    after = t.fit()["valid_nll_nats"]
    assert after < before


def test_ema_tracks_the_weights():
    from autogen_cli.training.ema import EMA

    m = torch.nn.Linear(2, 2)
    ema = EMA(m, 0.5)
    start = m.weight.detach().clone()
    with torch.no_grad():
        m.weight.add_(2.0)
    ema.update(m)
    torch.testing.assert_close(ema.shadow["weight"], start + 1.0)


def test_schedules():
    assert lr_factor("constant", 50, 100, 10) == 1.0
    assert lr_factor("cosine", 0, 100, 10) == pytest.approx(0.1)
    assert lr_factor("cosine", 10, 100, 10) == pytest.approx(1.0)
    assert lr_factor("cosine", 55, 100, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100, 10) == pytest.approx(0.0)


DDP_SCRIPT = """
import torch, sys
sys.path.insert(0, {root!r})
from tests.test_trainer import run
from pathlib import Path
t = run(Path({out!r}), 1, sample_n=0)
t.fit()
if t.dist.rank == 0:
    torch.save({{k: v for k, v in t.model.state_dict().items()}}, {weights!r})
print("rank", t.dist.rank, "world", t.dist.world)
"""


def test_two_process_ddp_under_torchrun(tmp_path):
    """gloo DDP with 2 processes trains one shared model; rank 0 alone writes files."""
    script = tmp_path / "ddp.py"
    weights = tmp_path / "w.pt"
    script.write_text(DDP_SCRIPT.format(root=str(ROOT), out=str(tmp_path / "run"), weights=str(weights)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rank 0 world 2" in proc.stdout and "rank 1 world 2" in proc.stdout
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # written once, by rank 0
    assert json.loads(lines[0])["valid_n"] == 16  # both ranks' halves of the validation set counted
    ddp_weights = torch.load(weights, weights_only=True)
    single = run(tmp_path / "single", 1, sample_n=0)
    before = {k: v.clone() for k, v in single.model.state_dict().items()}
    assert any(not torch.equal(before[k], ddp_weights[k]) for k in before)  # it did train
