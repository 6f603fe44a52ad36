"""Creating a store, checking one to resume, and writing chunks (the driver alone writes).

Resuming: the manifest of an existing store must describe the same run (parameters, fixed
values, design, backend and its version, settings, request, chunk size, dtype); then every chunk
already on disk is kept and only the missing chunks are computed. Failed rows are recomputed
only on request (``retry_failed``).

A writer holds the store's lock (:mod:`._lock`) from creation to :meth:`StoreWriter.close`, so
a second ``cosmoemu generate`` on the same store refuses instead of computing everything again.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._config import check_writable_dir
from .._errors import ConfigError
from ._genconfig import GenerateConfig
from ._layout import (
    DESIGN,
    FAILURES,
    MANIFEST,
    chunk_path,
    list_chunks,
    remove_stale_temps,
    save_json,
    save_npz,
    write_atomic,
)
from ._lock import store_lock
from ._tasks import ChunkResult

__all__ = ["StoreWriter", "SCHEMA_VERSION"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# manifest fields that must agree for a run to resume into an existing store
_IDENTITY = ("parameters", "fixed", "design", "backend", "request", "chunk_size", "dtype")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def design_hash(params: np.ndarray) -> str:
    """sha256 of the design's float64 bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(params, dtype=np.float64).tobytes()).hexdigest()


class StoreWriter:
    """The store of one run: created or checked, then filled chunk by chunk.

    Args:
        cfg: the checked config.
        params: the design, shape ``(N, n_par)``.
        region: design index per row, shape ``(N,)``.

    Raises:
        ConfigError: the output path is not writable, is not a store, or holds a different run.
        StoreLocked: another run is writing the store.
    """

    def __init__(self, cfg: GenerateConfig, params: np.ndarray, region: np.ndarray) -> None:
        self.cfg, self.params, self.region = cfg, params, region
        self.root = Path(cfg.output)
        self.starts = list(range(0, len(params), cfg.chunk_size))
        self._check_writable()
        self._lock = contextlib.ExitStack()
        self._lock.enter_context(store_lock(self.root))
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the store's lock (the writer writes nothing more)."""
        self._lock.close()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> None:
        cfg, params, region = self.cfg, self.params, self.region
        self.manifest = self._manifest()
        existing = self.root / MANIFEST
        if existing.exists():
            self._check_same_run(json.loads(existing.read_text()))
        else:
            if list_chunks(self.root):
                raise ConfigError(
                    "output", f"'{self.root}' holds chunk files but no {MANIFEST}; it was not "
                    "made by `cosmoemu generate` (or the manifest was removed): use a new "
                    "directory",
                )
            save_npz(self.root / DESIGN, {"params": params, "region": region,
                                          "names": np.array(cfg.box.names)})
            save_json(existing, self.manifest)
        removed = remove_stale_temps(self.root)
        if removed:
            log.info("removed %d temp files of a killed run", removed)

    # ---- set-up ----

    def _check_writable(self) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise ConfigError("output", f"'{root}' exists and is not a directory")
        check_writable_dir(root, "output", "directory")

    def _manifest(self) -> dict[str, Any]:
        cfg = self.cfg
        cls = cfg.backend_class
        return _jsonable({
            "format": "cosmoemu.store",
            "schema_version": SCHEMA_VERSION,
            "parameters": {"names": cfg.box.names, "low": cfg.box.low, "high": cfg.box.high},
            "fixed": cfg.fixed,
            "design": {
                "recipe": [spec.to_json() for spec in cfg.designs],
                "n_samples": len(self.params),
                "sha256": design_hash(self.params),
                "file": DESIGN,
            },
            "backend": {"name": cfg.backend, "target": cfg.target, "version": cls.version(),
                        "settings": cfg.settings},
            "request": cfg.request.to_json(),
            "quantities": cfg.request.quantities,
            "chunk_size": cfg.chunk_size,
            "dtype": cfg.dtype,
            "timeout": cfg.timeout,
            "config": cfg.raw,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "environment": {"cosmoemu": __version__, "python": platform.python_version(),
                            "numpy": np.__version__, "scipy": _version("scipy"),
                            "platform": platform.platform()},
        })

    def _check_same_run(self, old: dict[str, Any]) -> None:
        if old.get("format") != "cosmoemu.store":
            raise ConfigError("output",
                              f"'{self.root / MANIFEST}' is not a cosmoemu store manifest")
        differ = [key for key in _IDENTITY if old.get(key) != self.manifest[key]]
        if differ:
            detail = "; ".join(
                f"{key}: store has {json.dumps(old.get(key))[:200]}, config gives "
                f"{json.dumps(self.manifest[key])[:200]}" for key in differ
            )
            raise ConfigError(
                "output",
                f"'{self.root}' holds a different run ({', '.join(differ)} differ), so it cannot "
                f"be resumed with this config — use a new output directory. {detail}",
            )
        self.manifest = old

    # ---- progress ----

    def rows_of(self, start: int) -> np.ndarray:
        """Design rows of the chunk starting at ``start``."""
        return np.arange(start, min(start + self.cfg.chunk_size, len(self.params)))

    def scan(self) -> dict[int, np.ndarray]:
        """Chunk start -> ``ok`` mask, for every valid chunk on disk.

        A chunk whose rows do not match the design is moved aside (``.bad``), never deleted,
        and is computed again.
        """
        done: dict[int, np.ndarray] = {}
        for start, path in list_chunks(self.root):
            rows = self.rows_of(start) if start in self.starts else None
            try:
                with np.load(path, allow_pickle=False) as f:
                    params = f["params"]
                    ok = f["ok"] if "ok" in f.files else np.ones(len(params), bool)
                good = rows is not None and np.array_equal(params, self.params[rows])
            except (OSError, ValueError, KeyError) as err:
                log.warning("cannot read %s: %s", path, err)
                good = False
            if good:
                done[start] = np.asarray(ok, bool)
            else:
                aside = path.with_name(path.name + ".bad")
                log.warning("%s does not match the design; moved to %s", path.name, aside.name)
                os.replace(path, aside)
        return done

    def pending(self, retry_failed: bool = False) -> list[tuple[int, np.ndarray]]:
        """``(start, rows)`` still to compute: missing chunks, and failed rows if asked."""
        done = self.scan()
        out = []
        for start in self.starts:
            rows = self.rows_of(start)
            if start not in done:
                out.append((start, rows))
            elif retry_failed and not done[start].all():
                out.append((start, rows[~done[start]]))
        return out

    # ---- writing ----

    def write(self, result: ChunkResult) -> None:
        """Write (or, for retried rows, update) the chunk of ``result`` atomically."""
        start, cfg = result.start, self.cfg
        rows = self.rows_of(start)
        path = chunk_path(self.root, start)
        if len(result.rows) == len(rows) and np.array_equal(result.rows, rows):
            arrays = self._empty(rows)
        else:
            with np.load(path, allow_pickle=False) as f:
                arrays = {key: f[key] for key in f.files}
        pos = np.searchsorted(rows, result.rows)
        arrays["ok"][pos] = result.ok
        arrays["error"] = arrays["error"].astype(object)
        arrays["error"][pos] = result.errors
        arrays["error"] = np.array([str(e) for e in arrays["error"]])
        arrays["seconds"][pos] = result.seconds
        for key, value in result.values.items():
            dtype = np.float64 if key == "derived" else np.dtype(cfg.dtype)
            arrays[key] = arrays[key].astype(dtype)
            arrays[key][pos] = value.astype(dtype)
        save_npz(path, arrays)

    def _empty(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        req, n = self.cfg.request, len(rows)
        arrays: dict[str, np.ndarray] = {
            "params": self.params[rows],
            "names": np.array(self.cfg.box.names),
            "region": self.region[rows],
            "ok": np.zeros(n, bool),
            "error": np.array([""] * n),
            "seconds": np.zeros(n),
        }
        for key, shape in req.shapes().items():
            dtype = np.float64 if key == "derived" else np.dtype(self.cfg.dtype)
            arrays[key] = np.full((n, *shape), np.nan, dtype=dtype)
        if req.cmb:
            arrays["order"], arrays["ell"] = np.array(req.cmb), req.ell
        if req.derived:
            arrays["derived_names"] = np.array(req.derived)
        if req.pk:
            arrays["k"], arrays["z"] = np.array(req.k), np.array(req.z)
        return arrays

    def write_failures(self) -> int:
        """Rewrite ``failures.jsonl`` from the chunks; return the number of failed rows."""
        lines = []
        for start, path in list_chunks(self.root):
            with np.load(path, allow_pickle=False) as f:
                if "ok" not in f.files or f["ok"].all():
                    continue
                ok, err, params = f["ok"], f["error"], f["params"]
            for i in np.flatnonzero(~ok):
                lines.append(json.dumps({
                    "row": int(start + i), "chunk": path.name,
                    "params": dict(zip(self.cfg.box.names, map(float, params[i]), strict=True)),
                    "error": str(err[i]),
                }))
        path = self.root / FAILURES
        if lines or path.exists():
            text = "".join(line + "\n" for line in lines)
            write_atomic(path, lambda f: f.write(text.encode()))
        return len(lines)
