"""The idx format of MNIST / Fashion-MNIST, raw or gzip-compressed.

Header: two zero bytes, a type byte (0x08 = uint8), a dimension count, then one big-endian
uint32 per dimension; the data follows. Labels are 0x0801 (1 dim), images 0x0803 (3 dims).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from autogen_cli.errors import DataError

LABELS_MAGIC = 0x0801
IMAGES_MAGIC = 0x0803
GZIP_MAGIC = b"\x1f\x8b"


def find(directory: Path, name: str) -> Path | None:
    """``directory/name`` or ``directory/name.gz``, whichever exists (raw first)."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it starts with the gzip magic (whatever its name)."""
    data = Path(path).read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path} is a corrupt gzip file ({e}); delete it and download it again.") from e
    return data


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Read an idx file into a uint8 array (writable, owns its memory), checking header and size."""
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path} is not an idx file (only {len(data)} bytes).")
    got = int.from_bytes(data[:4], "big")
    if magic is not None and got != magic:
        raise DataError(f"{path} is not an idx file of the expected kind: magic 0x{got:08x}, "
                        f"expected 0x{magic:08x}; delete it and download it again.")
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise DataError(f"{path} is not a uint8 idx file (magic 0x{got:08x}).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path} is truncated (header cut short).")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        raise DataError(f"{path} has {len(data)} bytes but its header {dims} says {expected}: "
                        f"the file is truncated or corrupt; delete it and download it again.")
    return np.frombuffer(bytearray(memoryview(data)[header:]), np.uint8).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write a uint8 array as idx (gzip when ``compress`` or the name ends in .gz). For tests and tools."""
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
