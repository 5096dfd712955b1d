"""Data loaders on tiny files written in the real formats (idx raw/.gz, amat); no internet."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch

from autogen_cli.data import DATASET_NAMES, data_root, load_dataset, mnist
from autogen_cli.data import binarized_mnist as bm
from autogen_cli.data import download as dl
from autogen_cli.data.idx import write_idx
from autogen_cli.errors import DataError, DataMissingError, UnknownNameError

N_TRAIN, N_TEST, VALID = 7, 3, 2


@pytest.fixture(autouse=True)
def _tiny(monkeypatch):
    monkeypatch.setattr(mnist, "VALID_SIZE", VALID)
    monkeypatch.delenv("AUTOGEN_DATA", raising=False)
    monkeypatch.delenv("AUTOGEN_OFFLINE", raising=False)
    # never the real internet: every official URL points at a closed local port
    for src in mnist.SOURCES.values():
        monkeypatch.setitem(src, "url", "http://127.0.0.1:9/")
    monkeypatch.setattr(bm, "AMAT_URL", "http://127.0.0.1:9/")


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        mnist.TRAIN_IMAGES: rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        mnist.TRAIN_LABELS: rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        mnist.TEST_IMAGES: rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        mnist.TEST_LABELS: rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_mnist(root, name="mnist", gz=False, seed=0):
    a = arrays(seed)
    (root / name).mkdir(parents=True, exist_ok=True)
    for f, x in a.items():
        write_idx(root / name / (f + ".gz" if gz else f), x)
    return a


def write_amat(root, sizes=(4, 2, 3), seed=1):
    rng = np.random.default_rng(seed)
    (root / "binarized-mnist").mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in zip(("train", "valid", "test"), sizes):
        x = rng.integers(0, 2, (n, 784), dtype=np.uint8)
        text = "".join(" ".join(map(str, row)) + "\n" for row in x)
        (root / "binarized-mnist" / bm.AMAT_FILES[split]).write_text(text)
        out[split] = x
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_splits_values_labels(tmp_path, name, gz):
    a = write_mnist(tmp_path, name, gz=gz)
    cut = N_TRAIN - VALID
    expect = {
        "train": (a[mnist.TRAIN_IMAGES][:cut], a[mnist.TRAIN_LABELS][:cut]),
        "valid": (a[mnist.TRAIN_IMAGES][cut:], a[mnist.TRAIN_LABELS][cut:]),
        "test": (a[mnist.TEST_IMAGES], a[mnist.TEST_LABELS]),
    }
    for split, (x, y) in expect.items():
        d = load_dataset(name, split, data_dir=tmp_path, download=False)
        assert (d.name, d.split, d.levels, d.n_classes, d.shape) == (name, split, 256, 10, (1, 28, 28))
        assert d.images.dtype == torch.uint8 and d.labels.dtype == torch.int64
        assert np.array_equal(d.images.numpy()[:, 0], x) and np.array_equal(d.labels.numpy(), y)
        img, lab = d[len(d) - 1]
        assert img.shape == (1, 28, 28) and int(lab) == y[-1]
    sub = load_dataset(name, "train", data_dir=tmp_path, download=False).subset(2)
    assert len(sub) == 2 and sub.levels == 256
    assert np.array_equal(sub.images.numpy()[:, 0], a[mnist.TRAIN_IMAGES][:2])


def test_gz_equals_raw(tmp_path):
    write_mnist(tmp_path / "raw", gz=False)
    write_mnist(tmp_path / "gz", gz=True)
    # gzip content under the raw name is detected by its magic bytes
    f = tmp_path / "odd" / "mnist"
    write_mnist(tmp_path / "odd")
    for p in f.iterdir():
        p.write_bytes(gzip.compress(p.read_bytes()))
    for split in ("train", "test"):
        r = load_dataset("mnist", split, data_dir=tmp_path / "raw", download=False)
        for other in ("gz", "odd"):
            g = load_dataset("mnist", split, data_dir=tmp_path / other, download=False)
            assert torch.equal(r.images, g.images) and torch.equal(r.labels, g.labels)


def test_corrupt_files(tmp_path):
    write_mnist(tmp_path)
    p = tmp_path / "mnist" / mnist.TRAIN_IMAGES
    good = p.read_bytes()
    p.write_bytes(b"\x00\x00\x08\x01" + good[4:])  # labels magic on an images file
    with pytest.raises(DataError, match="magic"):
        load_dataset("mnist", "train", data_dir=tmp_path, download=False)
    p.write_bytes(good[:-5])  # truncated
    with pytest.raises(DataError, match="truncated"):
        load_dataset("mnist", "train", data_dir=tmp_path, download=False)
    p.write_bytes(good)
    (tmp_path / "mnist" / mnist.TRAIN_LABELS).unlink()
    write_idx(tmp_path / "mnist" / mnist.TRAIN_LABELS, np.zeros(N_TRAIN - 1, np.uint8))
    with pytest.raises(DataError, match="labels"):
        load_dataset("mnist", "valid", data_dir=tmp_path, download=False)
    p.write_bytes(gzip.compress(good)[:-20])  # broken gzip stream
    with pytest.raises(DataError, match="gzip"):
        load_dataset("mnist", "train", data_dir=tmp_path, download=False)


def test_missing_files_message(tmp_path):
    (tmp_path / "mnist").mkdir()
    write_idx(tmp_path / "mnist" / mnist.TEST_LABELS, np.zeros(N_TEST, np.uint8))
    with pytest.raises(DataMissingError) as e:
        load_dataset("mnist", "test", data_dir=tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "mnist") in msg and "t10k-images-idx3-ubyte[.gz]" in msg
    assert "t10k-labels" not in msg and "yann.lecun.com" in msg and "\n" not in msg


def test_download_fails_fast_and_offline(tmp_path, monkeypatch):
    with pytest.raises(DataMissingError, match="download failed"):
        load_dataset("fashion-mnist", "train", data_dir=tmp_path)
    monkeypatch.setenv("AUTOGEN_OFFLINE", "1")
    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda *a, **k: pytest.fail("network used"))
    with pytest.raises(DataMissingError, match="AUTOGEN_OFFLINE"):
        load_dataset("mnist", "test", data_dir=tmp_path)
    assert not any((tmp_path / "mnist").glob("*"))  # no partial files left behind


def test_data_root_priority(tmp_path, monkeypatch):
    write_mnist(tmp_path / "env")
    monkeypatch.setenv("AUTOGEN_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert len(load_dataset("mnist", "test", download=False)) == N_TEST
    with pytest.raises(DataMissingError):
        load_dataset("mnist", "test", data_dir=tmp_path / "arg", download=False)
    monkeypatch.delenv("AUTOGEN_DATA")
    assert str(data_root()).endswith(".cache/autogen/data")


def test_unknown_names():
    with pytest.raises(UnknownNameError, match="fashion-mnist"):
        load_dataset("fashon-mnist", "train")
    with pytest.raises(UnknownNameError, match="valid"):
        load_dataset("mnist", "validation")
    assert set(DATASET_NAMES) == {"mnist", "fashion-mnist", "binarized-mnist"}


def test_amat(tmp_path):
    x = write_amat(tmp_path)
    for split in ("train", "valid", "test"):
        d = load_dataset("binarized-mnist", split, data_dir=tmp_path, download=False)
        assert (d.levels, d.n_classes, d.shape, d.source) == (2, 0, (1, 28, 28), "Larochelle & Murray amat files")
        assert np.array_equal(d.images.numpy().reshape(len(d), -1), x[split])
        assert (d.labels == -1).all()
    # a float-formatted amat is accepted too; anything but 0/1 is refused
    p = tmp_path / "binarized-mnist" / bm.AMAT_FILES["test"]
    p.write_text("".join(" ".join(f"{v:.1f}" for v in row) + "\n" for row in x["test"]))
    assert np.array_equal(bm.read_amat(p), x["test"])
    p.write_text(" ".join(["0"] * 783 + ["2"]) + "\n")
    with pytest.raises(DataError, match="0 and 1"):
        bm.read_amat(p)
    p.write_text(" ".join(["1"] * 700) + "\n")
    with pytest.raises(DataError, match="784"):
        bm.read_amat(p)


def test_derived_binarization(tmp_path):
    a = write_mnist(tmp_path)
    ds = {s: load_dataset("binarized-mnist", s, data_dir=tmp_path, download=False)
          for s in ("train", "valid", "test")}
    # the documented recipe, written out independently
    allx = np.concatenate([a[mnist.TRAIN_IMAGES], a[mnist.TEST_IMAGES]]).reshape(-1, 784)
    u = np.random.Generator(np.random.PCG64(bm.DERIVE_SEED)).random(allx.shape)
    ref = (u < allx / 255.0).astype(np.uint8)
    got = np.concatenate([ds[s].images.numpy().reshape(len(ds[s]), -1) for s in ("train", "valid", "test")])
    assert np.array_equal(got, ref)
    cut = N_TRAIN - VALID
    assert [len(ds[s]) for s in ("train", "valid", "test")] == [cut, VALID, N_TEST]
    for d in ds.values():
        assert d.levels == 2 and d.n_classes == 10 and set(d.images.unique().tolist()) <= {0, 1}
        assert "derived from MNIST" in d.source and str(bm.DERIVE_SEED) in d.source
    assert np.array_equal(ds["test"].labels.numpy(), a[mnist.TEST_LABELS])
    again = load_dataset("binarized-mnist", "valid", data_dir=tmp_path, download=False)
    assert torch.equal(again.images, ds["valid"].images)


def test_binarized_missing_everything(tmp_path):
    with pytest.raises(DataMissingError) as e:
        load_dataset("binarized-mnist", "test", data_dir=tmp_path, download=False)
    msg = str(e.value)
    assert "binarized_mnist_test.amat" in msg and str(tmp_path / "binarized-mnist") in msg
    assert str(tmp_path / "mnist") in msg and "\n" not in msg
    assert "train-images-idx3-ubyte[.gz]" in msg and "t10k-labels-idx1-ubyte[.gz]" in msg


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(Quiet, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_from_local_server(tmp_path, server, monkeypatch):
    served, url = server
    a = write_mnist(served, "files", gz=True)
    hashes = {f: hashlib.sha256(gzip.decompress((served / "files" / f"{f}.gz").read_bytes())).hexdigest()
              for f in a}
    monkeypatch.setitem(mnist.SOURCES["mnist"], "url", url + "files/")
    monkeypatch.setitem(mnist.SOURCES["mnist"], "sha256", hashes)
    d = load_dataset("mnist", "valid", data_dir=tmp_path / "data")
    assert np.array_equal(d.images.numpy()[:, 0], a[mnist.TRAIN_IMAGES][N_TRAIN - VALID:])
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_download_sha_mismatch_refused(tmp_path, server, monkeypatch):
    served, url = server
    (served / "f.bin").write_bytes(b"hello")
    dest = tmp_path / "out" / "f.bin"
    with pytest.raises(DataError, match="refused"):
        dl.download(url + "f.bin", dest, "0" * 64, progress=False)
    assert not dest.exists() and not list(dest.parent.iterdir())
    good = hashlib.sha256(b"hello").hexdigest()
    assert dl.download(url + "f.bin", dest, good).read_bytes() == b"hello"
    with pytest.raises(dl.DownloadFailed):
        dl.download(url + "absent.bin", tmp_path / "out" / "absent.bin")
    # through the loader: a tampered mirror file is refused, not loaded
    write_mnist(served, "files", gz=True)
    monkeypatch.setitem(mnist.SOURCES["mnist"], "url", url + "files/")
    with pytest.raises(DataError, match="content sha256"):
        load_dataset("mnist", "test", data_dir=tmp_path / "data")
    assert not (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
