"""Measure, in one run, for each bundled checkpoint: training img/s (batch 32), exact-NLL evaluation
img/s (batch 256), time to sample 16 images, time per pixel step against the floor (one batched
forward pass / number of pixels), peak memory; plus CLI start-up and `autogen sample pixelcnnpp`
end to end. Each model is measured in its own process so that peak memory is its own.

    python -m bench [--json] [--models a,b] [--n 16] [--train-steps 5] [--skip-e2e]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure_model(name: str, n: int, train_steps: int) -> dict:
    import torch

    from autogen_cli.registry import load_model

    model, ckpt = load_model(name, torch.device("cpu"))
    c = model.config
    g = torch.Generator().manual_seed(0)
    x32 = torch.randint(0, c.levels, (32, c.channels, c.height, c.width), generator=g)
    x256 = torch.randint(0, c.levels, (256, c.channels, c.height, c.width), generator=g)
    y32 = torch.arange(32) % c.n_classes if c.n_classes else None
    y256 = torch.arange(256) % c.n_classes if c.n_classes else None
    y_n = torch.arange(n) % c.n_classes if c.n_classes else None

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step():
        loss = model.loss(x32, y32)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(train_steps):
        step()
    train_ips = 32 * train_steps / (time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        model.log_prob(x256[:8], None if y256 is None else y256[:8])
        eval_s = _timed(lambda: model.log_prob(x256, y256), 2)
        xn = x256[:n]
        forward_s = _timed(lambda: model(xn, y_n), 3)
    sample_s = _timed(lambda: model.sample(n, y_n, generator=torch.Generator().manual_seed(0)), 1)
    pixels = c.height * c.width
    steps = pixels * (c.channels if ckpt.model != "pixelcnnpp" else 1)
    return {
        "model": name, "params": sum(p.numel() for p in model.parameters()),
        "train_img_per_s": train_ips, "eval_img_per_s": 256 / eval_s,
        "sample_s": sample_s, "sample_n": n,
        "step_ms": 1000 * sample_s / steps, "floor_step_ms": 1000 * forward_s / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def cli_times() -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    help_s = _timed(lambda: subprocess.run([sys.executable, "-m", "autogen_cli", "--help"], capture_output=True,
                                           env=env, cwd=ROOT, check=True), 3)
    out = Path("/tmp/autogen-bench-grid.png")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autogen_cli", "sample", "pixelcnnpp", "--n", "16", "--out",
                           str(out)], capture_output=True, text=True, env=env, cwd=ROOT)
    e2e = time.perf_counter() - t
    return {"help_s": help_s, "sample_pixelcnnpp_16_e2e_s": e2e if proc.returncode == 0 else None}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--models", help="comma-separated checkpoint names (default: every bundled one)")
    p.add_argument("--n", type=int, default=16, help="images to sample")
    p.add_argument("--train-steps", type=int, default=5)
    p.add_argument("--skip-e2e", action="store_true", help="skip the CLI start-up and end-to-end timings")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model in this process
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(measure_model(a.one, a.n, a.train_steps)))
        return
    from autogen_cli import hub

    manifest = hub.load_manifest()
    names = a.models.split(",") if a.models else [n for n in manifest.names()
                                                  if hub.cache_status(manifest.get(n)) == "bundled"]
    rows = []
    for name in names:
        proc = subprocess.run([sys.executable, "-m", "bench", "--one", name, "--n", str(a.n), "--train-steps",
                               str(a.train_steps)], capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            sys.exit(f"bench failed for {name}: {proc.stderr.strip().splitlines()[-1]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    result = {"models": rows, "cli": None if a.skip_e2e else cli_times(), "threads": _threads()}
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _print(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"autogen bench (CPU, {result['threads']} threads)")
    for col in ("checkpoint", "params", "train img/s @32", "eval img/s @256", "sample n (naive)",
                "ms/step", "floor ms/step", "step/floor", "peak RSS MB"):
        t.add_column(col, justify="right")
    for r in result["models"]:
        t.add_row(r["model"], f"{r['params']:,}", f"{r['train_img_per_s']:.0f}", f"{r['eval_img_per_s']:.0f}",
                  f"{r['sample_s']:.1f} s ({r['sample_n']})", f"{r['step_ms']:.2f}", f"{r['floor_step_ms']:.3f}",
                  f"{r['step_ms'] / r['floor_step_ms']:.0f}x", f"{r['peak_rss_mb']:.0f}")
    console = Console(width=None if sys.stdout.isatty() else 160)  # a log file gets the whole table
    console.print(t)
    if result["cli"]:
        c = result["cli"]
        e2e = "failed" if c["sample_pixelcnnpp_16_e2e_s"] is None else f"{c['sample_pixelcnnpp_16_e2e_s']:.1f} s"
        console.print(f"autogen --help: {c['help_s']:.2f} s;  autogen sample pixelcnnpp --n 16 (process start to "
                      f"PNG): {e2e}")


if __name__ == "__main__":
    main()
