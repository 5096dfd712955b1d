"""The `autogen` command. One thin function per subcommand; torch is imported inside commands only,
so `autogen --help` stays fast."""

import json
import os
import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .errors import AutogenError, UsageError

app = typer.Typer(
    name="autogen",
    help="Train, evaluate (exact NLL) and sample classic autoregressive generative models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
hub_app = typer.Typer(help="Download, verify and publish checkpoints.", no_args_is_help=True)
app.add_typer(hub_app, name="hub")

DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps; "
                                        "default $AUTOGEN_DEVICE or auto")]
SeedOpt = Annotated[int, typer.Option(help="random seed")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="dataset folder (default $AUTOGEN_DATA or "
                                                    "~/.cache/autogen/data)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]


def _fail(err: AutogenError):
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
    raise typer.Exit(err.exit_code)


def _guard(fn):
    """Turn our errors into one red line + exit code; Ctrl-C outside training exits 130 quietly."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AutogenError as e:
            _fail(e)
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool):
    if value:
        typer.echo(f"autogen {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="print the version")] = False):
    """Train, evaluate (exact NLL) and sample classic autoregressive generative models."""


def _setup(device: str, seed: int):
    from .devices import setup

    return setup(device, seed)


def _parse_sets(pairs: list[str]) -> dict:
    """--set key=value pairs; values are parsed as JSON when they can be (numbers, true, lists)."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, got '{pair}'")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _check_out(path: Path, suffixes: tuple[str, ...]) -> Path:
    """Refuse a bad --out before any work is done."""
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"--out {path}: unsupported format '{path.suffix}'; use {', '.join(suffixes)}")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise UsageError(f"--out {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--out {path}: not writable")
    return path


def _train_command(model, dataset, given: dict, sets, conditional: bool, resume: bool, out: Path, seed: int) -> str:
    """The `autogen train` command line that reproduces this run (recorded in every checkpoint)."""
    args = ["autogen", "train", model, "--dataset", dataset]
    for key, value in given.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    for pair in sets or []:
        args += ["--set", pair]
    args += ["--conditional"] if conditional else []
    args += ["--seed", str(seed)] if seed else []
    args += ["--out", str(out)]
    args += ["--resume"] if resume else []
    return shlex.join(args)


# ------------------------------------------------------------------------------------------------
@app.command()
@_guard
def train(
    model: Annotated[str, typer.Argument(help="architecture: pixelcnn, gated-pixelcnn, pixelcnnpp")],
    dataset: Annotated[str, typer.Option(help="mnist, fashion-mnist or binarized-mnist")],
    epochs: Annotated[Optional[int], typer.Option(min=1)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    lr: Annotated[Optional[float], typer.Option(min=0.0)] = None,
    out: Annotated[Optional[Path], typer.Option(help="run folder (default runs/MODEL-DATASET)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out exactly")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="model config key=value (repeatable)")] = None,
    conditional: Annotated[bool, typer.Option("--conditional", help="condition on the class label")] = False,
    ema: Annotated[Optional[float], typer.Option(min=0.0, max=0.99999, help="EMA decay; 0 = off")] = None,
    grad_clip: Annotated[Optional[float], typer.Option(min=0.0)] = None,
    weight_decay: Annotated[Optional[float], typer.Option(min=0.0)] = None,
    schedule: Annotated[Optional[str], typer.Option(help="cosine or constant")] = None,
    warmup_steps: Annotated[Optional[int], typer.Option(min=0)] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="train on the first N images")] = None,
    eval_limit: Annotated[Optional[int], typer.Option(min=1, help="validate on the first N images")] = None,
    sample_n: Annotated[Optional[int], typer.Option(min=0, help="images drawn after each epoch")] = None,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
):
    """Train MODEL on a dataset; validation NLL and a sample grid every epoch; Ctrl-C saves."""
    from pydantic import ValidationError
    from rich.console import Console

    from . import registry
    from .checkpoints import load_checkpoint
    from .data import load_dataset
    from .training.trainer import TrainConfig, Trainer

    registry.get_spec(model)
    dev = _setup(device, seed)
    out = out or Path("runs") / f"{model}-{dataset}"
    given = dict(epochs=epochs, batch_size=batch_size, lr=lr, ema=ema, grad_clip=grad_clip,
                 weight_decay=weight_decay, schedule=schedule, warmup_steps=warmup_steps, limit=limit,
                 eval_limit=eval_limit, sample_n=sample_n)
    given = {k: v for k, v in given.items() if v is not None}
    train_set = load_dataset(dataset, "train", data_dir)
    valid_set = load_dataset(dataset, "valid", data_dir)
    command = _train_command(model, dataset, given, set_, conditional, resume, out, seed)
    if resume:
        last = load_checkpoint(out / "last.safetensors") if (out / "last.safetensors").exists() else None
        if last is None:
            raise UsageError(f"nothing to resume in {out}: no last.safetensors")
        if last.model != model:
            raise UsageError(f"{out} holds a '{last.model}' run, not '{model}'")
        if set_ or conditional:
            raise UsageError("--set and --conditional cannot change a resumed run: its config is in the checkpoint")
        model_config = last.config
        cfg_values = {**last.metadata.get("train_config", {}), **given}
        if last.metadata.get("command"):  # keep the whole recipe: first run, then each resume
            command = f'{last.metadata["command"]} && {command}'
    else:
        if (out / "last.safetensors").exists():
            raise UsageError(f"{out} already holds a run: add --resume to continue it or pick another --out")
        model_config = {"channels": train_set.shape[0], "height": train_set.shape[1], "width": train_set.shape[2],
                        "levels": train_set.levels, **_parse_sets(set_)}
        if conditional:
            if train_set.n_classes == 0:
                raise UsageError(f"dataset {dataset} has no labels: --conditional is not possible")
            model_config["n_classes"] = train_set.n_classes
        cfg_values = {"seed": seed, **given}
    try:
        cfg = TrainConfig(**cfg_values)
    except ValidationError as e:
        err = e.errors()[0]
        raise UsageError(f"bad training option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    net = registry.build_model(model, model_config)
    c = net.config
    if (c.channels, c.height, c.width) != tuple(train_set.shape) or c.levels != train_set.levels:
        raise UsageError(f"model expects {c.channels}x{c.height}x{c.width} images with {c.levels} levels; "
                         f"{dataset} has {'x'.join(map(str, train_set.shape))} with {train_set.levels}")
    console = Console(stderr=True)
    meta = {"dataset": train_set.name, "data_source": train_set.source, "command": command}
    trainer = Trainer(model, net, train_set, valid_set, cfg, out, dev, meta, console)
    if resume:
        trainer.restore()
    n_params = sum(p.numel() for p in net.parameters())
    if trainer.dist.main:
        console.print(f"training {model} ({n_params:,} parameters) on {train_set.name} "
                      f"({train_set.source}), {len(train_set):,} images, device {dev}, run folder {out}",
                      markup=False)
    metrics = trainer.fit()
    if not trainer.dist.main:
        return
    if not metrics:
        console.print(f"nothing to train: {out} has already done {trainer.epoch} epochs; raise --epochs to go on")
        return
    console.print(f"done: best valid {trainer.best:.3f} nats; weights {trainer.best_path}")
    console.print(f"evaluate: autogen eval-nll {trainer.best_path} --dataset {dataset} --split test")


@app.command("eval-nll")
@_guard
def eval_nll(
    model: Annotated[str, typer.Argument(help="model name, published checkpoint name, path or hf://org/repo")],
    dataset: Annotated[Optional[str], typer.Option(help="default: the checkpoint's dataset")] = None,
    split: Annotated[str, typer.Option(help="train, valid or test")] = "test",
    limit: Annotated[Optional[int], typer.Option(min=1, help="first N images only")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
    json_out: JsonOpt = False,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
):
    """Exact negative log-likelihood of a split: nats/image and bits/dim."""
    from .evaluate import evaluate_nll

    dev = _setup(device, seed)
    result = evaluate_nll(model, dataset, split, limit=limit, batch_size=batch_size, data_dir=data_dir,
                          device=dev, progress=not json_out)
    if json_out:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"{result['model']} on {result['dataset']} {result['split']} ({result['n']:,} images, "
                   f"{result['data_source']}): {result['nll_nats']:.3f} nats/image, "
                   f"{result['bits_per_dim']:.4f} bits/dim")


@app.command()
@_guard
def sample(
    model: Annotated[str, typer.Argument(help="model name, published checkpoint name, path or hf://org/repo")],
    n: Annotated[int, typer.Option(help="how many images")] = 16,
    out: Annotated[Path, typer.Option(help="grid.png, or .json for the integer levels")] = Path("samples.png"),
    label: Annotated[Optional[int], typer.Option(help="class label for a conditional model")] = None,
    temperature: Annotated[float, typer.Option(help="> 0; below 1 is more conservative")] = 1.0,
    nrow: Annotated[Optional[int], typer.Option(min=1, help="images per row of the grid")] = None,
    scale: Annotated[int, typer.Option(min=1, max=16, help="pixel magnification of the PNG")] = 4,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
):
    """Draw N images into a PNG grid."""
    import time

    from . import registry
    from .devices import generator

    if n <= 0:
        raise UsageError(f"--n must be positive, got {n}")
    if not temperature > 0:
        raise UsageError(f"--temperature must be > 0, got {temperature}")
    _check_out(out, (".png", ".json"))
    dev = _setup(device, seed)
    net, ckpt = registry.load_model(model, dev)
    y = None
    if label is not None:
        if net.config.n_classes == 0:
            raise UsageError(f"{model} is not class-conditional: drop --label")
        if not 0 <= label < net.config.n_classes:
            raise UsageError(f"--label {label} out of range: this model knows labels 0..{net.config.n_classes - 1}")
        y = label  # one label for the whole batch
    g = generator(dev, seed)
    from .progress import task_bar

    c = net.config
    bar = task_bar(f"sampling {n} images", c.height * c.width)
    t0 = time.perf_counter()
    x = net.sample(n, y, temperature=temperature, generator=g, progress=lambda done, total: bar(done))
    dt = time.perf_counter() - t0
    bar(None)
    if out.suffix.lower() == ".json":
        from .files import atomic_write_bytes

        atomic_write_bytes(out, json.dumps({"levels": net.config.levels, "images": x.tolist()}).encode())
    else:
        from .render.images import save_grid

        save_grid(x, out, net.config.levels, nrow=nrow, scale=scale)
    typer.echo(f"{n} samples from {ckpt.model} in {dt:.1f}s -> {out}")


@app.command()
@_guard
def models(json_out: JsonOpt = False):
    """What exists: architectures you can train and published checkpoints (bundled, cached or remote)."""
    from . import hub
    from .registry import MODELS

    manifest = hub.load_manifest()
    rows = []
    for name in manifest.names():
        e = manifest.get(name)
        rows.append({"name": name, "model": e.model, "dataset": e.dataset, "metrics": e.metrics,
                     "anchor": e.anchor, "size": e.size, "status": hub.cache_status(e),
                     "default_for": e.default_for})
    if json_out:
        typer.echo(json.dumps({"checkpoints": rows, "architectures": {k: v.description for k, v in MODELS.items()}}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="published checkpoints")
    table.add_column("name", no_wrap=True)
    for col in ("model", "dataset", "test NLL (measured)", "published anchor", "size", "weights"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["model"], r["dataset"], _metric_text(r["metrics"] or {}), r["anchor"] or "",
                      f"{r['size'] / 1e6:.1f} MB" if r["size"] else "", r["status"])
    console = Console()
    console.print(table)
    arch = Table(title="architectures (autogen train NAME --dataset D)")
    arch.add_column("name")
    arch.add_column("what")
    for k, v in MODELS.items():
        arch.add_row(k, v.description)
    console.print(arch)


def _metric_text(metrics: dict) -> str:
    if "test_nll_nats" in metrics:
        return f"{metrics['test_nll_nats']:.2f} nats, {metrics.get('test_bits_per_dim', float('nan')):.4f} bits/dim"
    return ", ".join(f"{k} {v:g}" for k, v in metrics.items())


# ------------------------------------------------------------------------------------------------
@hub_app.command("download")
@_guard
def hub_download(name: Annotated[str, typer.Argument(help="published checkpoint name")]):
    """Fetch a published checkpoint into the Hugging Face cache and verify its sha256."""
    from . import hub

    typer.echo(str(hub.download(name)))


@hub_app.command("verify")
@_guard
def hub_verify(ref: Annotated[str, typer.Argument(help="checkpoint name or path")]):
    """Resolve a checkpoint, check its file hash (names) and its payload hash (all), and load it."""
    from . import hub
    from .checkpoints import load_checkpoint

    path = hub.resolve(ref)
    ckpt = load_checkpoint(path)
    typer.echo(f"ok: {path} ({ckpt.model}, {path.stat().st_size:,} bytes)")


@hub_app.command("push")
@_guard
def hub_push(
    path: Annotated[Path, typer.Argument(help=".safetensors checkpoint")],
    repo: Annotated[str, typer.Option(help="org/name on the Hub")],
    revision: Annotated[Optional[str], typer.Option()] = None,
):
    """Upload a checkpoint to a Hub repo (needs HF_TOKEN); prints the manifest fields to add."""
    from . import hub
    from .checkpoints import load_checkpoint

    ckpt = load_checkpoint(path)  # refuse to publish a damaged file
    url = hub.push(path, repo, revision=revision)
    typer.echo(json.dumps({"model": ckpt.model, "file": path.name, "sha256": hub.sha256_file(path),
                           "size": path.stat().st_size, "hub": {"repo_id": repo, "revision": revision or "main",
                                                                "filename": path.name}, "url": str(url)}, indent=2))


@hub_app.command("register")
@_guard
def hub_register(
    path: Annotated[Path, typer.Argument(help="trained .safetensors checkpoint")],
    name: Annotated[str, typer.Option(help="published name, e.g. pixelcnn-binmnist")],
    repo: Annotated[Optional[str], typer.Option(help="org/name on the Hub (default autogen-models/NAME)")] = None,
    default_for: Annotated[Optional[str], typer.Option(help="make it the default of this architecture")] = None,
    anchor: Annotated[Optional[str], typer.Option(help="published number to compare with")] = None,
    description: Annotated[Optional[str], typer.Option()] = None,
    data_dir: DataDirOpt = None,
    device: DeviceOpt = "auto",
):
    """Maintainers: measure a checkpoint's test NLL, bundle it and write its manifest entry."""
    from .publish import register

    if default_for is not None:
        from .registry import get_spec

        get_spec(default_for)
    entry = register(path, name, repo_id=repo, default_for=default_for, anchor=anchor, description=description,
                     data_dir=data_dir, device=_setup(device, 0))
    typer.echo(json.dumps({name: entry}, indent=2))


def run():  # console-script entry point that never shows a traceback for our errors
    app()
