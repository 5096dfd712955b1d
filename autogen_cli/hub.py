"""Published checkpoints: the weights manifest, finding weights on disk or on the Hugging Face hub, push.

`resolve(ref)` turns what the user typed into a local `.safetensors` path:

- an existing file path -> that file (the checkpoint loader checks its own payload hash);
- `hf://org/repo[@revision][/filename]` -> that file from the hub (default `model.safetensors`);
- a manifest name -> the file bundled in the package, else the Hugging Face cache, else a download
  with `huggingface_hub.hf_hub_download`; the manifest's sha256 is checked whatever the source.

`HF_ENDPOINT`, `HF_HUB_OFFLINE`, `HF_TOKEN`, `HF_HOME` and `HF_HUB_CACHE` are read when a function is
called, not when a module is imported (huggingface_hub freezes its own copies at import), and the values
are passed to huggingface_hub explicitly. huggingface_hub is imported lazily; torch is never imported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import (
    AutogenError,
    OfflineError,
    UnknownNameError,
    UsageError,
    WeightsError,
    suggest,
)

MANIFEST_NAME = "weights_manifest.json"
DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_HF_FILENAME = "model.safetensors"
_TRUE = {"1", "ON", "YES", "TRUE"}
_SHA256_RE = re.compile(r"[0-9a-f]{64}")

CacheStatus = Literal["bundled", "cached", "remote"]


# --------------------------------------------------------------------------------------------- manifest


class HubLocation(BaseModel):
    """Where a published checkpoint lives on the hub."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    repo_id: str
    revision: str = "main"
    filename: str

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, value: str) -> str:
        if value.count("/") != 1 or not all(value.split("/")):
            raise ValueError(f"repo_id must look like 'org/name', got {value!r}")
        return value


class ManifestEntry(BaseModel):
    """One named, published checkpoint."""

    model_config = ConfigDict(extra="ignore", frozen=True, protected_namespaces=())

    name: str = ""  # filled in from the manifest key
    model: str
    dataset: str
    file: str
    sha256: str
    size: int = Field(ge=0)
    hub: HubLocation
    metrics: dict[str, float] = Field(default_factory=dict)
    anchor: str | None = None
    command: str
    description: str | None = None
    default_for: str | None = None

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256_RE.fullmatch(value):
            raise ValueError("sha256 must be 64 hex digits")
        return value

    @field_validator("file")
    @classmethod
    def _file(cls, value: str) -> str:
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"file must be a bare file name, got {value!r}")
        return value

    def url(self, endpoint: str | None = None) -> str:
        """Plain https address of the file on the hub (for people downloading by hand)."""
        return _resolve_url(endpoint or _endpoint(), self.hub.repo_id, self.hub.revision, self.hub.filename)


class Manifest(BaseModel):
    """`weights_manifest.json`: every named checkpoint published for autogen."""

    model_config = ConfigDict(extra="ignore")

    format: Literal[1] = 1
    checkpoints: dict[str, ManifestEntry] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_and_defaults(self) -> Manifest:
        defaults: dict[str, str] = {}
        for key, entry in list(self.checkpoints.items()):
            if entry.name and entry.name != key:
                raise ValueError(f"checkpoint {key!r} has a different name field {entry.name!r}")
            if not entry.name:
                self.checkpoints[key] = entry.model_copy(update={"name": key})
            if entry.default_for:
                if entry.default_for in defaults:
                    raise ValueError(
                        f"both {defaults[entry.default_for]!r} and {key!r} "
                        f"are default_for {entry.default_for!r}"
                    )
                defaults[entry.default_for] = key
        return self

    def names(self) -> list[str]:
        return sorted(self.checkpoints)

    def get(self, name: str) -> ManifestEntry:
        entry = self.checkpoints.get(name)
        if entry is not None:
            return entry
        if not self.checkpoints:
            raise UnknownNameError(
                f"unknown checkpoint '{name}': no published checkpoints are listed in {MANIFEST_NAME}; "
                "pass the path of a .safetensors file instead"
            )
        raise UnknownNameError(f"unknown checkpoint '{name}'.{suggest(name, self.checkpoints)}")

    def default_for(self, model_name: str) -> ManifestEntry | None:
        for entry in self.checkpoints.values():
            if entry.default_for == model_name:
                return entry
        return None


def manifest_candidates() -> list[Path]:
    """Where the manifest is looked for: inside the package (wheel), then the repository root (checkout)."""
    here = Path(__file__).resolve()
    return [here.parent / MANIFEST_NAME, here.parents[1] / MANIFEST_NAME]


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Read and validate the weights manifest.

    With no `path`, the first of `manifest_candidates()` that exists is read; when none exists (a fresh
    checkout before anything was published) the manifest is empty. An explicit `path` must exist.
    """
    if path is None:
        found = next((p for p in manifest_candidates() if p.is_file()), None)
        if found is None:
            return Manifest()
        path = found
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WeightsError(
            f"weights manifest {path} does not exist; pass an existing manifest file"
        ) from None
    except OSError as exc:
        raise WeightsError(f"cannot read weights manifest {path}: {_one_line(exc)}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WeightsError(
            f"weights manifest {path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix or reinstall it"
        ) from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "top level"
        raise WeightsError(
            f"weights manifest {path} is invalid at {where}: {err['msg']} ({exc.error_count()} error(s)); "
            "fix or reinstall it"
        ) from None


def bundled_dir() -> Path:
    """Folder of weights shipped inside the package."""
    return Path(__file__).resolve().parent / "weights"


# --------------------------------------------------------------------------------------------- hashing


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str, what: str, *, hint: str | None = None) -> None:
    """Raise WeightsError unless the file's sha256 is `expected`.

    `what` names the thing for the message ("weights 'pixelcnnpp-mnist'");
    `hint` replaces the default advice.
    """
    path = Path(path)
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise WeightsError(f"{what}: cannot read {path}: {_one_line(exc)}") from None
    expected = expected.strip().lower()
    if actual != expected:
        advice = hint or f"delete {path} and download it again"
        raise WeightsError(
            f"{what}: {path} is corrupted or not the published file (sha256 {actual}, expected {expected}); "
            f"{advice}"
        )


# --------------------------------------------------------------------------------------------- environment


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in _TRUE


def is_offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), read now."""
    return _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, following HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME as they are now."""

    def expand(value: str) -> Path:
        return Path(os.path.expandvars(os.path.expanduser(value)))

    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return expand(os.environ[var])
    if os.environ.get("HF_HOME"):
        return expand(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return expand(xdg) / "huggingface" / "hub"


def _resolve_url(endpoint: str, repo_id: str, revision: str, filename: str) -> str:
    from urllib.parse import quote

    return f"{endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(filename)}"


def _one_line(exc: BaseException | str) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------- references


class HfRef(BaseModel):
    """A parsed `hf://org/repo[@revision][/filename]` reference."""

    model_config = ConfigDict(frozen=True)

    repo_id: str
    revision: str = "main"
    filename: str = DEFAULT_HF_FILENAME


def parse_hf_ref(ref: str) -> HfRef:
    """Parse `hf://org/repo[@revision][/path/in/repo]`."""
    if not ref.startswith("hf://"):
        raise UsageError(f"'{ref}' is not an hf:// reference; write hf://org/repo[@revision][/filename]")
    parts = ref[len("hf://") :].strip("/").split("/")
    bad = UsageError(f"bad hub reference '{ref}': write hf://org/repo[@revision][/filename]")
    if len(parts) < 2 or not parts[0] or not parts[1] or "@" in parts[0]:
        raise bad
    name, at, revision = parts[1].partition("@")
    filename = "/".join(parts[2:])
    if not name or (at and not revision) or any(p in ("", ".", "..") for p in parts[2:]):
        raise bad
    return HfRef(
        repo_id=f"{parts[0]}/{name}", revision=revision or "main", filename=filename or DEFAULT_HF_FILENAME
    )


def looks_like_path(ref: str) -> bool:
    return ref.endswith(".safetensors") or "/" in ref or os.sep in ref


# --------------------------------------------------------------------------------------------- resolve


def resolve(
    ref: str | os.PathLike, *, manifest: Manifest | None = None, offline: bool | None = None
) -> Path:
    """Turn a path, an hf:// reference or a manifest name into a local checkpoint file.

    `offline=None` reads HF_HUB_OFFLINE now. Offline, nothing but the local disk is touched.
    """
    if offline is None:
        offline = is_offline()
    text = os.fspath(ref)
    if not text.strip():
        raise UsageError(
            "empty checkpoint reference: give a checkpoint name, a .safetensors path or hf://org/repo"
        )
    if text.startswith("hf://"):
        return _resolve_hf_ref(parse_hf_ref(text), text, offline=offline)

    path = Path(text).expanduser()
    if path.is_file():
        return path
    if isinstance(ref, os.PathLike) or looks_like_path(text):
        if path.is_dir():
            raise WeightsError(f"{path} is a folder; pass the .safetensors checkpoint file inside it")
        raise WeightsError(
            f"no such file: {path}; check the path, or give a checkpoint name from `autogen models`"
        )

    manifest = manifest if manifest is not None else load_manifest()
    return _resolve_entry(manifest.get(text), offline=offline)


def _offline_error(
    what: str, url: str, retry_cmd: str | None, why: str = "HF_HUB_OFFLINE=1"
) -> OfflineError:
    how = f"run {retry_cmd} online" if retry_cmd else "run again online"
    return OfflineError(
        f"{what} are not cached and the hub cannot be reached ({why}); {how}, "
        f"or download {url} and pass its path"
    )


def _resolve_hf_ref(hf: HfRef, ref: str, *, offline: bool) -> Path:
    """No manifest hash pins an hf:// file, so online huggingface_hub checks the revision for a newer commit
    (one HEAD request; it falls back to the cache when the hub is unreachable). Offline: the cache only."""
    what = f"weights '{ref}'"
    url = _resolve_url(_endpoint(), hf.repo_id, hf.revision, hf.filename)
    if offline:
        cached = _from_cache(hf.repo_id, hf.filename, hf.revision)
        if cached is None:
            raise _offline_error(what, url, None)
        return cached
    return _hf_download(
        hf.repo_id, hf.filename, hf.revision, what=what, url=url, retry_cmd=None, force=False
    )


def _download_cmd(entry: ManifestEntry) -> str:
    return f"`autogen hub download {entry.name}`"


def _resolve_entry(entry: ManifestEntry, *, offline: bool, bundled: bool = True) -> Path:
    """Bundled file -> HF cache -> hub download; the manifest sha256 is checked for each."""
    what = f"weights '{entry.name}'"
    if bundled:
        shipped = bundled_dir() / entry.file
        if shipped.is_file():
            verify_sha256(
                shipped,
                entry.sha256,
                what,
                hint=f"reinstall autogen, or delete {shipped} to use the hub copy",
            )
            return shipped

    cached = _from_cache(entry.hub.repo_id, entry.hub.filename, entry.hub.revision)
    if cached is not None:
        if offline:
            hint = f"delete {cached.resolve()} or run {_download_cmd(entry)} online to fetch it again"
            verify_sha256(cached, entry.sha256, what, hint=hint)
            return cached
        if sha256_file(cached) == entry.sha256:
            return cached
    if offline:
        raise _offline_error(what, entry.url(), _download_cmd(entry))
    # a corrupted cached copy is replaced (force_download) rather than handed back by huggingface_hub
    return _fetch_entry(entry, force=cached is not None, retry=False)


def _fetch_entry(entry: ManifestEntry, *, force: bool, retry: bool) -> Path:
    what = f"weights '{entry.name}'"
    url = entry.url()
    args = (entry.hub.repo_id, entry.hub.filename, entry.hub.revision)
    path = _hf_download(*args, what=what, url=url, retry_cmd=_download_cmd(entry), force=force)
    if retry and not force and sha256_file(path) != entry.sha256:
        # huggingface_hub trusts a blob already in its cache: fetch once more, overwriting it
        path = _hf_download(*args, what=what, url=url, retry_cmd=_download_cmd(entry), force=True)
    hint = (
        f"the file at {url} differs from the one this autogen release published; check HF_ENDPOINT and the "
        f"revision, update autogen, or delete {path.resolve()}"
    )
    verify_sha256(path, entry.sha256, what, hint=hint)
    return path


def download(name: str, *, manifest: Manifest | None = None) -> Path:
    """Fetch a published checkpoint into the Hugging Face cache (even when bundled) and verify it.

    Online the hub is always asked, so a stale or corrupted cached copy is replaced. Offline (HF_HUB_OFFLINE)
    an intact cached copy is returned, otherwise OfflineError.
    """
    manifest = manifest if manifest is not None else load_manifest()
    entry = manifest.get(name)
    if is_offline():
        return _resolve_entry(entry, offline=True, bundled=False)
    return _fetch_entry(entry, force=False, retry=True)


def cache_status(entry: ManifestEntry) -> CacheStatus:
    """'bundled' (shipped in the package), 'cached' (in the HF cache) or 'remote'.

    Presence only, no hashing (the table of `autogen models` stays fast)."""
    if (bundled_dir() / entry.file).is_file():
        return "bundled"
    if _from_cache(entry.hub.repo_id, entry.hub.filename, entry.hub.revision) is not None:
        return "cached"
    return "remote"


# --------------------------------------------------------------------------------------------- hub calls


def _from_cache(repo_id: str, filename: str, revision: str) -> Path | None:
    """The cached file for repo/revision/filename, without any network access (and without huggingface_hub's
    telemetry header building, which may itself reach the network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=str(hf_cache_dir()), revision=revision)
    except (OSError, ValueError):
        return None
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def _hf_download(
    repo_id: str, filename: str, revision: str, *, what: str, url: str, retry_cmd: str | None, force: bool
) -> Path:
    import huggingface_hub

    endpoint = _endpoint()
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            cache_dir=str(hf_cache_dir()),
            endpoint=endpoint,
            token=_token(),
            force_download=force,
            local_files_only=is_offline(),  # huggingface_hub read HF_HUB_OFFLINE at import; tell it again
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes one actionable line
        raise _hub_error(
            exc,
            what=what,
            url=url,
            repo_id=repo_id,
            revision=revision,
            filename=filename,
            endpoint=endpoint,
            retry_cmd=retry_cmd,
        ) from None
    return Path(path)


def _hub_error(
    exc: BaseException,
    *,
    what: str,
    url: str,
    repo_id: str,
    revision: str,
    filename: str,
    endpoint: str,
    retry_cmd: str | None,
) -> AutogenError:
    """Map a huggingface_hub / httpx / OS failure to one actionable line."""
    from huggingface_hub import errors as hf

    if isinstance(exc, AutogenError):
        return exc
    chain = _cause_chain(exc)
    how = f"run {retry_cmd} online" if retry_cmd else "run again online"
    if any(isinstance(e, hf.OfflineModeIsEnabled) for e in chain) or (
        isinstance(exc, hf.LocalEntryNotFoundError) and is_offline()
    ):
        return _offline_error(what, url, retry_cmd)
    for e in chain:
        if isinstance(e, hf.GatedRepoError):
            return WeightsError(
                f"{what}: repository {repo_id} on {endpoint} is gated; "
                "accept its terms on the hub and set HF_TOKEN"
            )
        if isinstance(e, hf.RepositoryNotFoundError):
            return WeightsError(
                f"{what}: repository {repo_id} not found on {endpoint} (or it is private: set HF_TOKEN); "
                "check the repo id and HF_ENDPOINT"
            )
        if isinstance(e, hf.RevisionNotFoundError):
            return WeightsError(
                f"{what}: revision '{revision}' not found in {repo_id} on {endpoint}; check the revision"
            )
        if isinstance(e, hf.RemoteEntryNotFoundError):
            return WeightsError(
                f"{what}: file '{filename}' not found in {repo_id}@{revision} on {endpoint}; "
                "check the file name"
            )
        if isinstance(e, hf.FileMetadataError):
            return WeightsError(
                f"{what}: {endpoint} did not answer like a Hugging Face hub for {url}; check HF_ENDPOINT"
            )
        if isinstance(e, hf.HfHubHTTPError) and e.response is not None:
            status = e.response.status_code
            if status in (401, 403):
                return WeightsError(
                    f"{what}: the hub refused access (HTTP {status}) to {url}; "
                    "set HF_TOKEN to a token with access"
                )
            return WeightsError(
                f"{what}: the hub answered HTTP {status} for {url}; "
                "check HF_ENDPOINT, the repo id and revision, "
                "or try again later"
            )
    if any(isinstance(e, _transport_errors()) for e in chain):
        return _offline_error(what, url, retry_cmd, why=f"no connection to {endpoint}")
    if isinstance(exc, hf.LocalEntryNotFoundError):
        return _offline_error(what, url, retry_cmd, why=f"no connection to {endpoint}")
    if isinstance(exc, OSError) and "Consistency check failed" in str(exc):
        return WeightsError(f"{what}: the download of {url} was cut short; {how} to try again")
    if isinstance(exc, OSError):
        return WeightsError(f"{what}: could not store the download of {url}: {_one_line(exc)}")
    return WeightsError(f"{what}: download of {url} failed: {_one_line(exc)}")


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level exception types of whichever HTTP client this huggingface_hub uses."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                         ("requests", "ConnectionError"), ("requests", "Timeout")):
        try:
            errors.append(getattr(__import__(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def push(
    path: str | os.PathLike,
    repo_id: str,
    *,
    revision: str | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    path_in_repo: str | None = None,
) -> str:
    """Upload a checkpoint file to a hub model repo (created if missing); returns the commit URL."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"no such file: {path}; pass the .safetensors checkpoint to push")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UsageError(f"bad repo id '{repo_id}': write org/name")
    endpoint = (endpoint or _endpoint()).rstrip("/")
    token = token or _token()
    if is_offline():
        raise OfflineError(
            f"cannot push {path.name} to {repo_id} while HF_HUB_OFFLINE=1; unset it and run again"
        )
    import huggingface_hub

    api = huggingface_hub.HfApi(endpoint=endpoint, token=token)
    target = path_in_repo or path.name
    url = _resolve_url(endpoint, repo_id, revision or "main", target)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, repo_type="model", branch=revision, exist_ok=True)
        info = api.upload_file(
            path_or_fileobj=str(path),
            path_in_repo=target,
            repo_id=repo_id,
            repo_type="model",
            revision=revision,
            commit_message=f"Upload {target} with autogen",
        )
    except Exception as exc:  # noqa: BLE001
        err = _push_error(exc, repo_id=repo_id, endpoint=endpoint, url=url)
        raise err from None
    return str(getattr(info, "commit_url", info))


def _push_error(exc: BaseException, *, repo_id: str, endpoint: str, url: str) -> AutogenError:
    from huggingface_hub import errors as hf

    chain = _cause_chain(exc)
    for e in chain:
        if isinstance(e, hf.OfflineModeIsEnabled):
            return OfflineError(f"cannot push to {repo_id}: offline mode is on (HF_HUB_OFFLINE); unset it")
        if isinstance(e, hf.RepositoryNotFoundError):
            return WeightsError(
                f"cannot push to {repo_id} on {endpoint}: repository not found or not writable; "
                "set HF_TOKEN to a token with write access"
            )
        if isinstance(e, hf.RevisionNotFoundError):
            return WeightsError(
                f"cannot push to {repo_id} on {endpoint}: no such branch; create it or omit --revision"
            )
        if isinstance(e, hf.HfHubHTTPError) and e.response is not None:
            status = e.response.status_code
            if status in (401, 403):
                return WeightsError(
                    f"cannot push to {repo_id} on {endpoint}: access refused (HTTP {status}); "
                    "set HF_TOKEN to a token with write access"
                )
            return WeightsError(f"cannot push to {repo_id} on {endpoint}: the hub answered HTTP {status}")
        if isinstance(e, _transport_errors()):
            return OfflineError(f"cannot push to {repo_id}: no connection to {endpoint}; check the network")
    return WeightsError(f"cannot push {url}: {_one_line(exc)}")
