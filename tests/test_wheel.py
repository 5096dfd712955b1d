"""A wheel built from the repo, installed into a fresh venv, runs `autogen models` and samples the
default PixelCNN++ from the weights and manifest that travel inside it."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed: {proc.stderr[-1500:]}")
    (path,) = out.glob("*.whl")
    return path


def test_wheel_carries_manifest_and_weights(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "autogen_cli/weights_manifest.json" in names
    manifest = json.loads((ROOT / "weights_manifest.json").read_text())
    for entry in manifest["checkpoints"].values():
        if (ROOT / "autogen_cli" / "weights" / entry["file"]).exists():
            assert f"autogen_cli/weights/{entry['file']}" in names


def test_fresh_venv_runs_models_and_sample(wheel, tmp_path):
    venv = tmp_path / "venv"
    # System site-packages supply torch & co. (a second 700 MB copy of torch would prove nothing more);
    # the venv's own site-packages come first, so autogen_cli is imported from the wheel.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    pip = venv / "bin" / "pip"
    proc = subprocess.run([str(pip), "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-1500:]
    exe = venv / "bin" / "autogen"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "AUTOGEN_OFFLINE": "1"}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import autogen_cli; print(autogen_cli.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert str(venv) in where.stdout, where.stdout + where.stderr
    models = subprocess.run([str(exe), "models", "--json"], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=120)
    assert models.returncode == 0, models.stderr
    rows = {r["name"]: r for r in json.loads(models.stdout)["checkpoints"]}
    assert rows, "the installed manifest lists no checkpoints"
    assert all(r["status"] == "bundled" for r in rows.values())
    out = tmp_path / "grid.png"
    sample = subprocess.run([str(exe), "sample", "pixelcnnpp", "--n", "1", "--out", str(out)], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=600)
    assert sample.returncode == 0, sample.stderr
    assert out.stat().st_size > 0
