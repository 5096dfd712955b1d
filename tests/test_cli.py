"""The CLI through Typer's runner (and one real subprocess): happy paths and one-line failures."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from autogen_cli.checkpoints import save_checkpoint
from autogen_cli.cli import app
from tests.pixel_configs import tiny

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, code, text):
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2  # rich may wrap one long line


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    model = tiny("gated-pixelcnn", height=8, width=8, n_classes=10)
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(path, "gated-pixelcnn", model.config.model_dump(), model.state_dict(), {"dataset": "mnist"})
    return path


def test_sample_writes_a_grid(ckpt, tmp_path):
    out = tmp_path / "grid.png"
    r = invoke("sample", ckpt, "--n", 4, "--out", out, "--scale", 1, "--label", 3, "--device", "cpu")
    assert r.exit_code == 0, r.output
    img = Image.open(out)
    assert img.size == (2 + 2 * 10, 2 + 2 * 10)  # 2x2 grid of 8x8 with 2-pixel gaps


def test_sample_json_holds_levels(ckpt, tmp_path):
    out = tmp_path / "x.json"
    assert invoke("sample", ckpt, "--n", 2, "--out", out).exit_code == 0
    data = json.loads(out.read_text())
    x = torch.tensor(data["images"])
    assert x.shape == (2, 1, 8, 8) and set(x.unique().tolist()) <= {0, 1}


def test_same_seed_same_samples(ckpt, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    invoke("sample", ckpt, "--n", 2, "--out", a, "--seed", 5)
    invoke("sample", ckpt, "--n", 2, "--out", b, "--seed", 5)
    assert a.read_text() == b.read_text()


@pytest.mark.parametrize("args,code,text", [
    (["--n", "0"], 2, "--n must be positive"),
    (["--label", "10"], 2, "out of range"),
    (["--temperature", "0"], 2, "temperature must be > 0"),
    (["--out", "/nonexistent/dir/x.png"], 2, "does not exist"),
    (["--out", "x.gif"], 2, "unsupported format"),
    (["--device", "cuda:7"], 2, "device"),
])
def test_bad_sample_values(ckpt, args, code, text):
    one_line_error(invoke("sample", ckpt, *args), code, text)


def test_unwritable_out(ckpt, tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        import os

        if os.access(d, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
        one_line_error(invoke("sample", ckpt, "--out", d / "x.png"), 2, "not writable")
    finally:
        d.chmod(0o700)


def test_unknown_model_suggests_close_names():
    one_line_error(invoke("sample", "pixelcnnp"), 2, "Did you mean: pixelcnnpp")
    one_line_error(invoke("train", "gated-pixelcn", "--dataset", "mnist"), 2, "gated-pixelcnn")


def test_tampered_checkpoint_is_one_line(ckpt):
    data = bytearray(ckpt.read_bytes())
    data[-3] ^= 0xFF
    ckpt.write_bytes(bytes(data))
    one_line_error(invoke("sample", ckpt), 1, "integrity")


def test_missing_checkpoint_path():
    one_line_error(invoke("sample", "nowhere/x.safetensors"), 1, "x.safetensors")


def test_train_resume_and_eval_on_tiny_mnist(tiny_mnist, tmp_path):
    run = tmp_path / "run"
    common = ["--dataset", "mnist", "--data-dir", tiny_mnist, "--out", run, "--batch-size", 8, "--sample-n", 1]
    r = invoke("train", "pixelcnn", *common, "--epochs", 1, "--set", "hidden=4", "--set", "n_layers=1",
               "--set", "head_hidden=4")
    assert r.exit_code == 0, r.output
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    one_line_error(invoke("train", "pixelcnn", *common, "--epochs", 1), 2, "--resume")
    r = invoke("train", "pixelcnn", *common, "--epochs", 2, "--resume")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == [1, 2]
    one_line_error(invoke("train", "pixelcnn", *common, "--resume", "--set", "hidden=8"), 2, "cannot change")
    from autogen_cli.checkpoints import load_checkpoint

    recipe = load_checkpoint(run / "last.safetensors").metadata["command"]
    assert recipe.startswith("autogen train pixelcnn") and " && " in recipe and recipe.endswith("--resume")
    r = invoke("eval-nll", run / "last.safetensors", "--data-dir", tiny_mnist, "--split", "valid", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["n"] == 8 and result["split"] == "valid"
    # the number is the trainer's own validation NLL of the same weights
    assert result["nll_nats"] == pytest.approx(lines[-1]["valid_nll_nats"], rel=1e-5)
    assert result["bits_per_dim"] == pytest.approx(result["nll_nats"] / (784 * 0.6931471805599453))


def test_bad_set_values_are_rejected(tiny_mnist, tmp_path):
    base = ["train", "pixelcnn", "--dataset", "mnist", "--data-dir", tiny_mnist, "--out", tmp_path / "r"]
    one_line_error(invoke(*base, "--set", "hidden=-3"), 2, "hidden")
    one_line_error(invoke(*base, "--set", "bogus=1"), 2, "bogus")
    one_line_error(invoke(*base, "--set", "novalue"), 2, "key=value")


def test_missing_data_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGEN_OFFLINE", "1")
    r = invoke("train", "pixelcnn", "--dataset", "mnist", "--data-dir", tmp_path / "empty", "--out", tmp_path / "r")
    one_line_error(r, 1, "train-images-idx3-ubyte")


def test_models_lists_architectures():
    r = invoke("models", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert {"pixelcnn", "gated-pixelcnn", "pixelcnnpp"} <= set(data["architectures"])


def test_help_does_not_import_torch():
    code = ("import sys; sys.argv = ['autogen', '--help']\n"
            "from autogen_cli import cli\n"
            "try:\n    cli.app()\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip().endswith("NO-TORCH"), out.stdout + out.stderr


def test_real_subprocess_sample(ckpt, tmp_path):
    out = tmp_path / "p.png"
    proc = subprocess.run([sys.executable, "-m", "autogen_cli", "sample", str(ckpt), "--n", "2", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and "2 samples" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "autogen_cli", "sample", "nonsense-model"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "unknown model" in bad.stderr


def test_ctrl_c_during_training_saves_and_resumes(tmp_path, monkeypatch):
    """A real SIGINT to a real `autogen train` process: state saved, exit 130, --resume continues."""
    monkeypatch.setenv("AUTOGEN_OFFLINE", "1")
    import os
    import signal
    import time

    import numpy as np

    data = tmp_path / "data"
    (data / "binarized-mnist").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 16), ("valid", 4), ("test", 4)):  # tiny files in the real .amat format
        rows = (rng.random((n, 784)) < 0.2).astype(int)
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows)
        (data / "binarized-mnist" / f"binarized_mnist_{split}.amat").write_text(text)
    run = tmp_path / "run"
    args = [sys.executable, "-m", "autogen_cli", "train", "pixelcnn", "--dataset", "binarized-mnist", "--data-dir",
            str(data), "--out", str(run), "--batch-size", "4", "--epochs", "1000", "--sample-n", "0",
            "--set", "hidden=4", "--set", "n_layers=1", "--set", "head_hidden=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOGEN_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert (run / "last.state.safetensors").exists()
    r = invoke("train", "pixelcnn", "--dataset", "binarized-mnist", "--data-dir", data, "--out", run, "--resume",
               "--epochs", "1")  # fewer epochs than already done: nothing left to train, still a clean exit
    assert r.exit_code == 0 and "nothing to train" in r.output, r.output
