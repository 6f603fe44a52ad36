"""The store's files on disk and how they are written (atomically: temp file, fsync, rename).

A store is a directory::

    manifest.json        config, design recipe and hash, backend name/version/settings, request
    design.npz           the whole design: params (N, n_par) float64, region (N,), names
    chunk_00000.npz      design rows 0..chunk_size-1
    chunk_00025.npz      ...  (NNNNN = first design row)
    failures.jsonl       one line per failed row (row, params, error), rewritten after each run

Chunk keys (the shared CAMB data set uses the same, without ``ok``/``error``/``seconds``):

=================  ===========================  ==============================================
``params``         (n, n_par) float64           design rows of the chunk
``names``          (n_par,) str                 parameter names
``region``         (n,) int64                   design index in the union
``ok``             (n,) bool                    false for failed rows (their data are NaN)
``error``          (n,) str                     the failure message ("" when ok)
``seconds``        (n,) float64                 backend seconds per row
``spectra``        (n, n_cmb, n_ell)            lensed C_ell and C_ell^phiphi, ``order``
``order``, ``ell``                              CMB names; multipoles 2..lmax
``derived``        (n, n_der) float64           ``derived_names``
``pk_lin``         (n, n_z, n_k)                linear P(k, z) [Mpc^3] on ``k`` [1/Mpc], ``z``
``pk_nonlin``      (n, n_z, n_k)                non-linear P(k, z)
any declared name  (n, *shape)                 an array declared by a non-cosmological backend
                                                (its axes and units are in the manifest)
=================  ===========================  ==============================================
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "MANIFEST",
    "DESIGN",
    "FAILURES",
    "CHUNK_RE",
    "chunk_path",
    "list_chunks",
    "write_atomic",
    "save_npz",
    "save_json",
    "remove_stale_temps",
]

MANIFEST = "manifest.json"
DESIGN = "design.npz"
FAILURES = "failures.jsonl"
CHUNK_RE = re.compile(r"^chunk_(\d+)\.npz$")
_TMP_RE = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]{8}\.(?P<host>.+)\.tmp$")


def chunk_path(root: Path, start: int) -> Path:
    """``root / chunk_NNNNN.npz`` for the chunk whose first design row is ``start``."""
    return root / f"chunk_{start:05d}.npz"


def list_chunks(root: Path) -> list[tuple[int, Path]]:
    """``(start, path)`` of every chunk file in ``root``, sorted by start."""
    out = []
    for path in root.iterdir():
        m = CHUNK_RE.match(path.name)
        if m:
            out.append((int(m.group(1)), path))
    return sorted(out)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temp file in the same directory, fsync, then rename.

    A reader sees the old file or the whole new one, never a partial one; a run killed
    mid-write leaves only a ``.*.tmp`` file, removed by :func:`remove_stale_temps`.
    """
    tmp = path.with_name(
        f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.{socket.gethostname()}.tmp"
    )
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write an uncompressed ``.npz`` (loadable with ``allow_pickle=False``)."""
    write_atomic(path, lambda f: np.savez(f, **arrays))


def save_json(path: Path, obj: Any) -> None:
    """Atomically write pretty JSON."""
    text = json.dumps(obj, indent=1, sort_keys=False) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))


def remove_stale_temps(root: Path) -> int:
    """Delete temp files left by dead processes of this host; return how many."""
    host, removed = socket.gethostname(), 0
    for path in root.iterdir():
        m = _TMP_RE.match(path.name)
        if not m or m.group("host") != host:
            continue
        pid = int(m.group("pid"))
        try:
            os.kill(pid, 0)
            continue  # still running (another run writing into this store)
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed
