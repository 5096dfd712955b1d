"""Downloading one file: urllib, a rich progress bar, temp file + fsync + rename, sha256 check.

No network here is the normal case: every failure is quick (``TIMEOUT`` seconds at most per
socket operation) and ``AUTOGEN_OFFLINE=1`` skips trying at all.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from autogen_cli.errors import DataError
from autogen_cli.files import fsync_dir, new_file_mode

TIMEOUT = 10.0
CHUNK = 1 << 20


class DownloadFailed(Exception):
    """The file could not be fetched (offline, DNS, HTTP error, timeout...)."""


def offline() -> bool:
    return os.environ.get("AUTOGEN_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def file_sha256(path: Path, *, content: bool = False) -> str:
    """sha256 of a file; with ``content=True`` of its decompressed bytes when it is gzip."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        gz = content and f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str | Path, sha256: str | None = None, *, content: bool = False,
             timeout: float = TIMEOUT, progress: bool = True) -> Path:
    """Fetch ``url`` into ``dest`` atomically and return ``dest``.

    ``sha256`` (when given) is checked before the file is moved into place; with ``content=True``
    it is the hash of the decompressed bytes of a gzip file (repackagers recompress .gz files).
    Raises DownloadFailed when the file cannot be fetched and DataError on a checksum mismatch.
    """
    dest = Path(dest)
    if offline():
        raise DownloadFailed("AUTOGEN_OFFLINE is set")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    os.fchmod(fd, new_file_mode())
    try:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "autogen"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0) or None
                _copy(resp, out, total, dest.name, progress)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:  # URLError, HTTPError, socket.timeout, ConnectionError are all OSError
            raise DownloadFailed(f"{url}: {getattr(e, 'reason', None) or e}") from e
        if sha256 is not None:
            got = file_sha256(tmp, content=content)
            if got != sha256.lower():
                what = "content sha256" if content else "sha256"
                raise DataError(f"Download of {url} refused: {what} is {got}, expected {sha256}; "
                                f"{dest} was not written.")
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy(resp, out, total, label, progress):
    if not progress:
        while chunk := resp.read(CHUNK):
            out.write(chunk)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"download {label}", total=total)
        while chunk := resp.read(CHUNK):
            out.write(chunk)
            bar.advance(task, len(chunk))

