"""hub.py against the real huggingface_hub download/upload code and a fake hub on 127.0.0.1.

The fake hub is tests/hf_server.py.

No test reaches the internet: HF_ENDPOINT points at the local server, the HF cache and token live in tmp
dirs, huggingface_hub's telemetry (which would fetch an agent registry from huggingface.co) is off, and an
httpx request hook records any request to a host other than 127.0.0.1 and fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import huggingface_hub
import huggingface_hub.utils._http as hf_http
import pytest
from huggingface_hub import constants as hf_constants

from autogen_cli import hub
from autogen_cli.errors import OfflineError, UnknownNameError, UsageError, WeightsError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_server import FakeHub

NAME = "pixelcnnpp-mnist"
REPO = "autogen-models/pixelcnnpp-mnist"
FILE = "pixelcnnpp-mnist.safetensors"
CONTENT = b"not really safetensors but bytes all the same " * 50


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def hermetic(tmp_path, monkeypatch):
    """Temp HF home/cache/token, no offline flag, no telemetry, empty bundled dir, loopback-only HTTP."""
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    for var in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HUGGINGFACE_HUB_CACHE",
        "HF_ENDPOINT",
    ):
        monkeypatch.delenv(var, raising=False)
    # huggingface_hub copied these from the environment when it was imported
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(
        hf_constants, "HF_HUB_CACHE", str(tmp_path / "import_time_cache")
    )  # must stay unused
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    monkeypatch.setattr(hub, "bundled_dir", lambda: bundled)

    strays: list[str] = []

    def loopback_only(request):
        if request.url.host != "127.0.0.1":
            strays.append(str(request.url))
            raise RuntimeError(f"test tried to reach {request.url}")

    def factory():
        client = hf_http.default_client_factory()
        client.event_hooks["request"].append(loopback_only)
        return client

    huggingface_hub.set_client_factory(factory)
    yield
    huggingface_hub.set_client_factory(hf_http.default_client_factory)
    assert not strays, f"requests left 127.0.0.1: {strays}"


@pytest.fixture
def server(monkeypatch):
    fake = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", fake.start())
    yield fake
    fake.stop()


def write_manifest(path: Path, checkpoints: dict) -> Path:
    path.write_text(json.dumps({"format": 1, "checkpoints": checkpoints}))
    return path


def entry_dict(content: bytes = CONTENT, **over) -> dict:
    entry = {
        "model": "pixelcnnpp",
        "dataset": "mnist",
        "file": FILE,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "hub": {"repo_id": REPO, "revision": "main", "filename": FILE},
        "metrics": {"test_nll_bits_per_dim": 0.99},
        "command": "autogen train pixelcnnpp --dataset mnist",
        "default_for": "pixelcnnpp",
    }
    entry.update(over)
    return entry


@pytest.fixture
def manifest(tmp_path) -> hub.Manifest:
    made = b"made weights" * 10
    path = write_manifest(
        tmp_path / "weights_manifest.json",
        {
            NAME: entry_dict(),
            "made-mnist": entry_dict(
                made,
                model="made",
                file="made-mnist.safetensors",
                default_for="made",
                hub={"repo_id": "autogen-models/made-mnist", "filename": "made-mnist.safetensors"},
            ),
        },
    )
    return hub.load_manifest(path)


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and text.strip() == text and text
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoSleepTime:
    """Stands in for the `time` module inside huggingface_hub's HTTP helpers: retries without waiting."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(_seconds):
        return None


# --------------------------------------------------------------------------------------------- downloads


def test_download_by_name_into_empty_cache(server, manifest):
    server.put_file(REPO, FILE, CONTENT)
    assert hub.cache_status(manifest.get(NAME)) == "remote"
    path = hub.resolve(NAME, manifest=manifest)
    assert path.read_bytes() == CONTENT
    assert hub.hf_cache_dir() in path.parents  # the temp cache, not the user's
    assert server.count("HEAD", f"/{REPO}/resolve/main/{FILE}") >= 1
    assert server.count("GET", f"/{REPO}/resolve/main/{FILE}") == 1
    assert hub.cache_status(manifest.get(NAME)) == "cached"


def test_cached_weights_need_no_network_online_or_offline(server, manifest, monkeypatch):
    server.put_file(REPO, FILE, CONTENT)
    first = hub.resolve(NAME, manifest=manifest)
    seen = len(server.requests)
    assert hub.resolve(NAME, manifest=manifest) == first  # online: the verified cache is enough
    server.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = hub.resolve(NAME, manifest=manifest)
    assert again == first and again.read_bytes() == CONTENT
    assert len(server.requests) == seen


def test_offline_and_not_cached_is_one_clear_line(server, manifest, monkeypatch):
    server.put_file(REPO, FILE, CONTENT)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as info:
        hub.resolve(NAME, manifest=manifest)
    text = one_line(info)
    assert "not cached" in text and "HF_HUB_OFFLINE=1" in text
    assert f"autogen hub download {NAME}" in text
    assert f"{server.endpoint}/{REPO}/resolve/main/{FILE}" in text
    assert server.requests == []


def test_offline_argument_overrides_environment(server, manifest):
    server.put_file(REPO, FILE, CONTENT)
    with pytest.raises(OfflineError):
        hub.resolve(NAME, manifest=manifest, offline=True)
    assert server.requests == []


def test_unreachable_hub_and_not_cached_is_offline_error(manifest, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(hf_http, "time", _NoSleepTime())  # huggingface_hub retries 5x with backoff
    with pytest.raises(OfflineError) as info:
        hub.resolve(NAME, manifest=manifest)
    text = one_line(info)
    assert "no connection to http://127.0.0.1:" in text and f"autogen hub download {NAME}" in text


def test_tampered_hub_file_fails_sha256(server, manifest):
    server.put_file(REPO, FILE, CONTENT[:-1] + b"!")  # same size: huggingface_hub's own size check passes
    with pytest.raises(WeightsError) as info:
        hub.resolve(NAME, manifest=manifest)
    text = one_line(info)
    entry = manifest.get(NAME)
    assert entry.sha256 in text
    assert hashlib.sha256(CONTENT[:-1] + b"!").hexdigest() in text
    assert "delete" in text and f"/{REPO}/resolve/main/{FILE}" in text
    assert server.count("GET") == 1  # not downloaded twice


def test_corrupted_cache_is_refetched_online_and_rejected_offline(server, manifest, monkeypatch):
    server.put_file(REPO, FILE, CONTENT)
    path = hub.resolve(NAME, manifest=manifest)
    blob = path.resolve()
    blob.chmod(0o644)
    blob.write_bytes(b"garbage")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError) as info:
        hub.resolve(NAME, manifest=manifest)
    text = one_line(info)
    assert str(blob) in text and f"autogen hub download {NAME}" in text
    monkeypatch.delenv("HF_HUB_OFFLINE")
    healed = hub.resolve(NAME, manifest=manifest)
    assert healed.read_bytes() == CONTENT
    assert server.count("GET") == 2


def test_download_always_asks_the_hub_and_repairs_the_cache(server, manifest, monkeypatch):
    server.put_file(REPO, FILE, CONTENT)
    path = hub.download(NAME, manifest=manifest)
    assert path.read_bytes() == CONTENT
    heads = server.count("HEAD")
    path.resolve().chmod(0o644)
    path.resolve().write_bytes(b"x" * len(CONTENT))
    again = hub.download(NAME, manifest=manifest)
    assert again.read_bytes() == CONTENT
    assert server.count("HEAD") > heads
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.download(NAME, manifest=manifest).read_bytes() == CONTENT  # offline: the verified cache


def test_download_skips_bundled_copy(server, manifest):
    server.put_file(REPO, FILE, CONTENT)
    (hub.bundled_dir() / FILE).write_bytes(CONTENT)
    path = hub.download(NAME, manifest=manifest)
    assert hub.hf_cache_dir() in path.parents and server.count("GET") == 1


def test_lfs_redirect_uses_linked_headers_and_drops_auth_off_hub(server, manifest, monkeypatch):
    server.lfs_redirect = True
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    server.put_file(REPO, FILE, CONTENT)
    path = hub.resolve(NAME, manifest=manifest)
    assert path.read_bytes() == CONTENT
    assert path.resolve().name == manifest.get(NAME).sha256  # blob named after X-Linked-Etag
    head = next(h for m, p, h in server.requests if m == "HEAD")
    cdn_get = [h for m, p, h in server.requests if m == "GET" and p.startswith("/cdn/")]
    assert head.get("authorization") == "Bearer hf_test_token"
    assert len(cdn_get) == 1 and "authorization" not in cdn_get[0]


def test_unknown_name_suggests_close_names(manifest, server):
    with pytest.raises(UnknownNameError) as info:
        hub.resolve("pixelcnn-mnist", manifest=manifest)
    assert "pixelcnnpp-mnist" in one_line(info)
    assert server.requests == []


def test_bundled_file_wins_and_is_verified(server, manifest):
    server.put_file(REPO, FILE, CONTENT)
    shipped = hub.bundled_dir() / FILE
    shipped.write_bytes(CONTENT)
    assert hub.resolve(NAME, manifest=manifest) == shipped
    assert hub.cache_status(manifest.get(NAME)) == "bundled"
    assert server.requests == []
    shipped.write_bytes(b"tampered")
    with pytest.raises(WeightsError) as info:
        hub.resolve(NAME, manifest=manifest)
    text = one_line(info)
    assert str(shipped) in text and "reinstall" in text


def test_hf_ref_with_revision_and_path(server):
    server.put_file("someone/extra", "sub/w.safetensors", b"v1")
    server.put_file("someone/extra", "sub/w.safetensors", b"v2", branch="v2")
    server.put_file("someone/extra", "model.safetensors", b"default file")
    assert hub.resolve("hf://someone/extra@v2/sub/w.safetensors").read_bytes() == b"v2"
    assert hub.resolve("hf://someone/extra/sub/w.safetensors").read_bytes() == b"v1"
    assert hub.resolve("hf://someone/extra").read_bytes() == b"default file"
    commit = server.lookup("someone/extra", "v2")[0]
    assert hub.resolve(f"hf://someone/extra@{commit}/sub/w.safetensors").read_bytes() == b"v2"
    # online, a branch is re-checked (HEAD) and a newer commit fetched; offline, the cache alone answers
    server.put_file("someone/extra", "sub/w.safetensors", b"v2 again", branch="v2")
    assert hub.resolve("hf://someone/extra@v2/sub/w.safetensors").read_bytes() == b"v2 again"
    seen = len(server.requests)
    assert hub.resolve("hf://someone/extra@v2/sub/w.safetensors", offline=True).read_bytes() == b"v2 again"
    server.stop()  # unreachable hub: huggingface_hub falls back to the cached file
    assert hub.resolve("hf://someone/extra@v2/sub/w.safetensors").read_bytes() == b"v2 again"
    assert len(server.requests) == seen
    with pytest.raises(OfflineError) as info:
        hub.resolve("hf://someone/extra@v9", offline=True)
    assert "hf://someone/extra@v9" in one_line(info)


@pytest.mark.parametrize(
    "ref", ["hf://", "hf://org", "hf://org/", "hf://org@x/repo", "hf://org/repo@", "hf://o/r/../x"]
)
def test_bad_hf_refs_are_usage_errors(ref):
    with pytest.raises(UsageError):
        hub.parse_hf_ref(ref)


def test_parse_hf_ref():
    assert hub.parse_hf_ref("hf://a/b") == hub.HfRef(
        repo_id="a/b", revision="main", filename="model.safetensors"
    )
    assert hub.parse_hf_ref("hf://a/b@dev/x/y.safetensors") == hub.HfRef(
        repo_id="a/b", revision="dev", filename="x/y.safetensors"
    )


def test_hub_errors_are_one_clear_line(server):
    server.put_file("someone/extra", "model.safetensors", b"x")
    cases = {
        "hf://someone/missing": "repository someone/missing not found",
        "hf://someone/extra@nope": "revision 'nope' not found",
        "hf://someone/extra/absent.safetensors": "file 'absent.safetensors' not found",
    }
    for ref, expected in cases.items():
        with pytest.raises(WeightsError) as info:
            hub.resolve(ref)
        assert expected in one_line(info) and not isinstance(info.value, OfflineError)
    server.bare_404 = True  # an HF_ENDPOINT that is not a hub
    with pytest.raises(WeightsError) as info:
        hub.resolve("hf://someone/other")
    text = one_line(info)
    assert "HTTP 404" in text and "HF_ENDPOINT" in text and not isinstance(info.value, OfflineError)


def test_existing_and_missing_paths(tmp_path, manifest, server):
    ckpt = tmp_path / "mine.safetensors"
    ckpt.write_bytes(b"anything")  # no manifest check for plain paths
    assert hub.resolve(str(ckpt), manifest=manifest) == ckpt
    assert hub.resolve(ckpt) == ckpt
    with pytest.raises(WeightsError) as info:
        hub.resolve(str(tmp_path / "absent.safetensors"), manifest=manifest)
    assert "no such file" in one_line(info)
    with pytest.raises(WeightsError, match="no such file"):
        hub.resolve("absent.safetensors", manifest=manifest)
    with pytest.raises(WeightsError, match="folder"):
        hub.resolve(str(tmp_path) + os.sep)
    assert server.requests == []


# --------------------------------------------------------------------------------------------- push


def test_push_then_resolve_round_trip(server, tmp_path):
    ckpt = tmp_path / "made-mnist.safetensors"
    ckpt.write_bytes(b"pushed weights")
    url = hub.push(ckpt, "me/made", token="hf_write")
    assert url.startswith(f"{server.endpoint}/me/made/commit/")
    commit = url.rsplit("/", 1)[-1]
    assert server.lookup("me/made", "main")[0] == commit
    posts = [(p, h) for m, p, h in server.requests if m == "POST"]
    assert [p.split("/")[-2] if "models" in p else p for p, _ in posts] == [
        "/api/repos/create",
        "preupload",
        "commit",
    ]
    assert all(h.get("authorization") == "Bearer hf_write" for _, h in posts)
    # again, into an existing repo (create_repo answers 409) and onto a new branch
    ckpt.write_bytes(b"second version")
    hub.push(ckpt, "me/made", revision="dev", endpoint=server.endpoint)
    assert hub.resolve("hf://me/made/made-mnist.safetensors").read_bytes() == b"pushed weights"
    assert hub.resolve("hf://me/made@dev/made-mnist.safetensors").read_bytes() == b"second version"


def test_push_errors(tmp_path, server, monkeypatch):
    with pytest.raises(WeightsError, match="no such file"):
        hub.push(tmp_path / "absent.safetensors", "me/x")
    ckpt = tmp_path / "w.safetensors"
    ckpt.write_bytes(b"w")
    with pytest.raises(UsageError):
        hub.push(ckpt, "no-org")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError):
        hub.push(ckpt, "me/x")
    assert server.requests == []


# --------------------------------------------------------------------------------------------- manifest


def test_manifest_lookup_and_defaults(manifest):
    assert manifest.names() == ["made-mnist", NAME]
    entry = manifest.get(NAME)
    assert (
        entry.name == NAME
        and entry.hub.revision == "main"
        and entry.metrics["test_nll_bits_per_dim"] == 0.99
    )
    assert manifest.default_for("pixelcnnpp") is entry
    assert manifest.default_for("made").name == "made-mnist"
    assert manifest.default_for("nade") is None


def test_manifest_errors(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="does not exist"):
        hub.load_manifest(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        hub.load_manifest(bad)
    with pytest.raises(WeightsError, match=f"checkpoints.{NAME}.sha256") as info:
        hub.load_manifest(write_manifest(tmp_path / "m1.json", {NAME: entry_dict(sha256="abc")}))
    one_line(info)
    with pytest.raises(WeightsError, match="file"):
        hub.load_manifest(
            write_manifest(tmp_path / "m2.json", {NAME: entry_dict(file="../evil.safetensors")})
        )
    twice = {NAME: entry_dict(), "other": entry_dict()}
    with pytest.raises(WeightsError, match="default_for"):
        hub.load_manifest(write_manifest(tmp_path / "m3.json", twice))
    (tmp_path / "m4.json").write_text(json.dumps({"format": 2, "checkpoints": {}}))
    with pytest.raises(WeightsError, match="format"):
        hub.load_manifest(tmp_path / "m4.json")
    # no manifest anywhere: empty, and names say so
    monkeypatch.setattr(hub, "manifest_candidates", lambda: [tmp_path / "nowhere.json"])
    empty = hub.load_manifest()
    with pytest.raises(UnknownNameError, match="no published checkpoints"):
        empty.get(NAME)


def test_manifest_default_location_prefers_package_dir(tmp_path, monkeypatch):
    here = Path(hub.__file__).resolve()
    assert hub.manifest_candidates() == [
        here.parent / "weights_manifest.json",
        here.parents[1] / "weights_manifest.json",
    ]
    pkg, root = tmp_path / "pkg.json", tmp_path / "root.json"
    write_manifest(root, {"only-root": entry_dict()})
    monkeypatch.setattr(hub, "manifest_candidates", lambda: [pkg, root])
    assert hub.load_manifest().names() == ["only-root"]
    write_manifest(pkg, {"in-package": entry_dict()})
    assert hub.load_manifest().names() == ["in-package"]


# ------------------------------------------------------------------------------------- hashing, imports


def test_sha256_file_and_verify(tmp_path):
    data = os.urandom(3 << 20)  # several chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    assert hub.sha256_file(path) == good
    hub.verify_sha256(path, good.upper(), "weights 'x'")
    with pytest.raises(WeightsError) as info:
        hub.verify_sha256(path, "0" * 64, "weights 'x'")
    text = one_line(info)
    assert str(path) in text and good in text and "0" * 64 in text and "delete" in text


def test_env_is_read_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c1"))
    assert hub.hf_cache_dir() == tmp_path / "c1"
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.hf_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_OFFLINE", "yes")
    assert hub.is_offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not hub.is_offline()


def test_importing_hub_is_light():
    code = "import sys, autogen_cli.hub; print('torch' in sys.modules, 'huggingface_hub' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
