"""Reading a store for training: stream chunks, or load one quantity; failed rows never appear.

Reads stores written by ``cosmoemu generate`` and the shared CAMB data set, which has the same
chunk keys but no manifest (everything is inferred from the chunks). Nothing reads the whole
set at once: :meth:`Store.iter_chunks` yields one chunk at a time, and :meth:`Store.load`
reads one quantity, optionally into a caller's array (e.g. ``np.memmap``).

An unreadable chunk raises :class:`StoreError` naming the file. A store with design rows in no
chunk (an unfinished run, or a deleted chunk) opens with a warning that gives the count and the
missing file names (:attr:`Store.missing_chunks`); only the present samples are read.

Example::

    store = open_store("cmb_lcdm_camb")
    x = store.params()                      # (n, n_par) float64
    tt = store.load("tt")                   # (n, n_ell) float64, ell = store.modes("tt")
    for batch in store.iter_chunks(["tt", "derived"], shuffle=True, seed=0):
        ...                                 # batch["params"], batch["tt"], batch["derived"]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import unknown_name_message
from ._layout import MANIFEST, chunk_path, list_chunks
from ._request import PK_QUANTITIES, ArraySpec

__all__ = ["Store", "StoreError", "open_store"]

log = logging.getLogger(__name__)


class StoreError(ValueError):
    """A store's file is unreadable (corrupt, truncated) or inconsistent with the others."""


@contextlib.contextmanager
def _open_chunk(path: Path) -> Iterator[Any]:
    """``np.load`` of a chunk; a corrupt or truncated file raises :class:`StoreError` naming it."""
    try:
        f = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise StoreError(_corrupt(path, err)) from err
    try:
        with f:
            yield f
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise StoreError(_corrupt(path, err)) from err
    except ValueError as err:
        if "zip" in str(err).lower() or "pickle" in str(err).lower():
            raise StoreError(_corrupt(path, err)) from err
        raise


def _corrupt(path: Path, err: BaseException) -> str:
    return (f"chunk '{path}' is unreadable ({type(err).__name__}: {err}): the file is corrupt "
            "or truncated. Move it aside and run the same `cosmoemu generate` command again to "
            "recompute its rows.")


@dataclass(frozen=True)
class _Chunk:
    path: Path
    start: int  # first design row
    n: int  # rows in the chunk, failed ones included
    valid: np.ndarray  # positions of the successful rows inside the chunk


def open_store(path: str | Path) -> Store:
    """Open a store directory (a ``cosmoemu generate`` output or the shared CAMB layout).

    Raises:
        FileNotFoundError: no such directory.
        StoreError: a chunk is unreadable (the message names it) or disagrees with the others.
        ValueError: the directory holds neither chunks nor a manifest.
    """
    return Store(path)


class Store:
    """Read access to a chunked store. Rows are the successful samples, in design order.

    Args:
        path: the store directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"store '{self.path}' is not a directory")
        mpath = self.path / MANIFEST
        self.manifest: dict[str, Any] | None = (
            json.loads(mpath.read_text()) if mpath.exists() else None
        )
        # outputs declared by a non-cosmological backend (described in the manifest only)
        self._arrays: dict[str, ArraySpec] = {
            spec["name"]: ArraySpec.from_json(spec)
            for spec in (self.manifest or {}).get("request", {}).get("arrays", [])
        }
        self._chunks: list[_Chunk] = []
        meta: dict[str, np.ndarray] = {}
        for start, cpath in list_chunks(self.path):
            with _open_chunk(cpath) as f:
                if "params" not in f.files:
                    raise StoreError(f"chunk '{cpath}' holds no 'params' array: it is not a "
                                     "cosmoemu chunk")
                n = len(f["params"])
                ok = f["ok"] if "ok" in f.files else np.ones(n, bool)
                here = {k: f[k] for k in ("names", "order", "ell", "derived_names", "k", "z")
                        if k in f.files}
                keys = set(f.files)
            if not meta:
                meta = here
                self._keys = keys
            else:
                for k, v in meta.items():
                    if k not in here or not np.array_equal(here[k], v):
                        raise StoreError(f"{cpath}: '{k}' differs from the first chunk's")
            self._chunks.append(_Chunk(cpath, start, n, np.flatnonzero(ok)))
        if not self._chunks:
            if self.manifest is None:
                raise ValueError(f"'{self.path}' holds no chunk_*.npz and no {MANIFEST}")
            meta, self._keys = self._meta_from_manifest(self.manifest)
        self._meta = meta
        counts = [len(c.valid) for c in self._chunks]
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.missing_chunks: tuple[str, ...] = ()
        gaps = self._gaps()
        if gaps:
            n_rows = sum(b - a for a, b in gaps)
            self.missing_chunks = tuple(self._gap_names(gaps))
            shown = ", ".join(self.missing_chunks[:8]) + (
                f" and {len(self.missing_chunks) - 8} more" if len(self.missing_chunks) > 8
                else "")
            log.warning(
                "store '%s' is incomplete: %d design rows are in no chunk (missing %s). Only "
                "the %d samples present are used; run the `cosmoemu generate` command that made "
                "it again to compute the rest.", self.path, n_rows, shown, self.n_samples)

    def _gaps(self) -> list[tuple[int, int]]:
        """``[start, stop)`` design-row ranges in no chunk (only those between chunks, and
        before the first, when the store has no manifest to say how many rows it should have)."""
        gaps, row = [], 0
        for c in self._chunks:
            if c.start > row:
                gaps.append((row, c.start))
            row = max(row, c.start + c.n)
        if self.manifest is not None:
            total = int(self.manifest["design"]["n_samples"])
            if total > row:
                gaps.append((row, total))
        return gaps

    def _gap_names(self, gaps: list[tuple[int, int]]) -> list[str]:
        size = (int(self.manifest["chunk_size"]) if self.manifest is not None
                else self._chunks[0].n if self._chunks else 0)
        names = []
        for a, b in gaps:
            if size and a % size == 0 and (b % size == 0 or self.manifest is not None):
                names += [chunk_path(self.path, s).name for s in range(a, b, size)]
            else:
                names.append(f"rows {a}..{b - 1}")
        return names

    @staticmethod
    def _meta_from_manifest(m: dict[str, Any]) -> tuple[dict[str, np.ndarray], set[str]]:
        req = m["request"]
        meta = {"names": np.array(m["parameters"]["names"])}
        keys = {spec["name"] for spec in req.get("arrays", [])}
        if req.get("cmb"):
            meta["order"] = np.array(req["cmb"])
            meta["ell"] = np.arange(2, req["lmax"] + 1)
            keys.add("spectra")
        if req.get("derived"):
            meta["derived_names"] = np.array(req["derived"])
            keys.add("derived")
        if req.get("pk"):
            meta["k"], meta["z"] = np.array(req["k"]), np.array(req["z"])
            keys.update(req["pk"])
        return meta, keys

    # ---- description ----

    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names, in column order of :meth:`params`."""
        return tuple(str(n) for n in self._meta["names"])

    @property
    def n_samples(self) -> int:
        """Number of successful samples (failed ones are never returned)."""
        return int(self._offsets[-1])

    def __len__(self) -> int:
        return self.n_samples

    @property
    def quantities(self) -> tuple[str, ...]:
        """Stored quantities, e.g. ``("tt", "te", "ee", "pp", "derived")``."""
        out = [str(q) for q in self._meta.get("order", ())]
        if "derived" in self._keys:
            out.append("derived")
        out += [q for q in PK_QUANTITIES if q in self._keys]
        out += [q for q in self._arrays if q in self._keys]
        return tuple(out)

    @property
    def box(self) -> dict[str, tuple[float, float]] | None:
        """The design box ``{name: (low, high)}`` the samples were drawn from (recorded by
        ``cosmoemu generate``), or None for a store without a manifest. Pass it as
        ``train_emulator(..., box=store.box)``."""
        if self.manifest is None:
            return None
        p = self.manifest["parameters"]
        return {str(n): (float(lo), float(hi))
                for n, lo, hi in zip(p["names"], p["low"], p["high"], strict=True)}

    def fingerprint(self) -> str:
        """An identity of the store's samples, recorded by ``cosmoemu train`` so that
        ``cosmoemu validate`` can tell the training store: the design's sha256 for a store
        with a manifest, else the sha256 of the present samples' design rows and parameters."""
        if self.manifest is not None:
            return "design:" + str(self.manifest["design"]["sha256"])
        h = hashlib.sha256()
        h.update(json.dumps(self.param_names).encode())
        h.update(np.ascontiguousarray(self.design_rows, np.int64).tobytes())
        h.update(np.ascontiguousarray(self.params(), np.float64).tobytes())
        return "samples:" + h.hexdigest()

    @property
    def redshifts(self) -> np.ndarray | None:
        """Redshifts of the P(k, z) quantities (``None`` without them)."""
        return self._meta.get("z")

    def _check(self, q: str) -> None:
        if q not in self.quantities:
            raise ValueError(unknown_name_message("quantity", q, self.quantities))

    def modes(self, q: str) -> np.ndarray:
        """The modes of quantity ``q``: ell for CMB spectra, names for ``derived``, k [1/Mpc]
        for P(k, z); for a declared array, the values of its last axis (e.g. times)."""
        self._check(q)
        if q in self._arrays:
            return np.array(self._arrays[q].axes[-1].values)
        if q == "derived":
            return self._meta["derived_names"].astype(str)
        if q in PK_QUANTITIES:
            return self._meta["k"]
        return self._meta["ell"]

    def axes(self, q: str) -> tuple[tuple[str, np.ndarray, str], ...]:
        """The named axes of ``q`` per sample, ``(name, values, units)`` each: ``ell`` for CMB
        spectra, ``name`` for ``derived``, ``(z, k [1/Mpc])`` for P(k, z); a declared array's
        own axes (e.g. ``(receiver, component, t [s])`` for seismic traces)."""
        self._check(q)
        if q in self._arrays:
            return tuple((a.name, np.array(a.values), a.units) for a in self._arrays[q].axes)
        if q in PK_QUANTITIES:
            return (("z", self._meta["z"], ""), ("k", self._meta["k"], "1/Mpc"))
        return (("name" if q == "derived" else "ell", self.modes(q), ""),)

    def units(self, q: str) -> str:
        """Units of ``q``: C_ell raw and dimensionless, P(k) in Mpc^3; the derived parameters
        each have their own (``rstar``, ``rdrag`` in Mpc, ``age`` in Gyr); a declared array's
        units as its backend gives them."""
        self._check(q)
        if q in self._arrays:
            return self._arrays[q].units
        if q in PK_QUANTITIES:
            return "Mpc^3"
        return "mixed (per output)" if q == "derived" else "dimensionless"

    def shape(self, q: str) -> tuple[int, ...]:
        """Per-sample shape of ``q``: ``(n_modes,)``, ``(n_z, n_k)`` for P(k, z), or a declared
        array's shape."""
        self._check(q)
        if q in self._arrays:
            return self._arrays[q].shape
        if q in PK_QUANTITIES:
            return (len(self._meta["z"]), len(self._meta["k"]))
        return (len(self.modes(q)),)

    @property
    def design_rows(self) -> np.ndarray:
        """Design row of each sample, shape ``(n_samples,)`` int64."""
        if not self._chunks:
            return np.empty(0, np.int64)
        return np.concatenate([c.start + c.valid for c in self._chunks]).astype(np.int64)

    def missing_rows(self) -> np.ndarray | None:
        """Design rows in no chunk yet (an unfinished run); ``None`` without a manifest."""
        if self.manifest is None:
            return None
        present = np.zeros(int(self.manifest["design"]["n_samples"]), bool)
        for c in self._chunks:
            present[c.start:c.start + c.n] = True
        return np.flatnonzero(~present)

    # ---- reading ----

    def _read(self, chunk: _Chunk, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with _open_chunk(chunk.path) as f:
            spectra = None
            order = [str(o) for o in self._meta.get("order", ())]
            for q in keys:
                if q in order:
                    if spectra is None:
                        spectra = f["spectra"][chunk.valid]
                    out[q] = spectra[:, order.index(q)].astype(np.float64)
                else:
                    out[q] = f[q][chunk.valid].astype(
                        np.int64 if q == "region" else np.float64
                    )
        return out

    def _rows(self, rows: Any) -> np.ndarray:
        n = self.n_samples
        if rows is None:
            return np.arange(n)
        if isinstance(rows, slice):
            return np.arange(n)[rows]
        idx = np.asarray(rows)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"boolean rows must have shape ({n},), got {idx.shape}")
            return np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"rows must lie in [0, {n}), got {idx.min()}..{idx.max()}")
        return idx

    def _gather(self, key: str, shape: tuple[int, ...], rows: Any, out: np.ndarray | None,
                dtype: Any = np.float64) -> np.ndarray:
        idx = self._rows(rows)
        if out is None:
            out = np.empty((len(idx), *shape), dtype=dtype)
        elif out.shape != (len(idx), *shape):
            raise ValueError(f"out has shape {out.shape}, expected {(len(idx), *shape)}")
        which = np.searchsorted(self._offsets, idx, side="right") - 1
        for c in np.unique(which):
            sel = which == c
            data = self._read(self._chunks[c], [key])[key]
            out[sel] = data[idx[sel] - self._offsets[c]]
        return out

    def params(self, rows: Any = None) -> np.ndarray:
        """Parameter values, shape ``(n, n_par)`` float64.

        Args:
            rows: sample indices (ints, a slice or a boolean mask); ``None`` for all.
        """
        return self._gather("params", (len(self.param_names),), rows, None)

    def region(self, rows: Any = None) -> np.ndarray:
        """Design index (in the union of designs) of each sample, shape ``(n,)`` int64."""
        if "region" not in self._keys:
            return np.zeros(len(self._rows(rows)), np.int64)
        return self._gather("region", (), rows, None, dtype=np.int64)

    def load(self, quantity: str, rows: Any = None, out: np.ndarray | None = None) -> np.ndarray:
        """One quantity for some or all samples, as float64.

        Args:
            quantity: one of :attr:`quantities`.
            rows: sample indices (ints, a slice or a boolean mask); ``None`` for all.
            out: optional array to fill (e.g. an ``np.memmap`` for sets larger than memory),
                shape ``(n, *shape(quantity))``.

        Returns:
            Shape ``(n, n_modes)`` (``(n, n_z, n_k)`` for P(k, z)); C_ell raw and
            dimensionless, P(k) in Mpc^3.
        """
        self._check(quantity)
        return self._gather(quantity, self.shape(quantity), rows, out)

    def iter_chunks(
        self,
        quantities: Sequence[str] | None = None,
        *,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Stream the store one chunk at a time.

        Args:
            quantities: which quantities (default: all).
            shuffle: visit the chunks in a random order (rows within a chunk keep their order).
            seed: seed for that order.

        Yields:
            Dicts with ``"params"`` (m, n_par), ``"rows"`` (m,) sample indices,
            ``"design_rows"`` (m,) and each quantity (m, ...) float64; failed rows left out.
        """
        quantities = list(self.quantities if quantities is None else quantities)
        for q in quantities:
            self._check(q)
        order = np.arange(len(self._chunks))
        if shuffle:
            order = np.random.default_rng(seed).permutation(order)
        for c in order:
            chunk = self._chunks[c]
            if not len(chunk.valid):
                continue
            batch = self._read(chunk, ["params", *quantities])
            batch["rows"] = np.arange(self._offsets[c], self._offsets[c + 1])
            batch["design_rows"] = chunk.start + chunk.valid
            yield batch

    def failures(self) -> list[dict[str, Any]]:
        """Failed rows: ``{"row": design row, "params": {name: value}, "error": message}``."""
        out = []
        for chunk in self._chunks:
            with _open_chunk(chunk.path) as f:
                if "ok" not in f.files or f["ok"].all():
                    continue
                ok, err, params = f["ok"], f["error"], f["params"]
            for i in np.flatnonzero(~ok):
                out.append({"row": int(chunk.start + i),
                            "params": dict(zip(self.param_names, map(float, params[i]),
                                               strict=True)),
                            "error": str(err[i])})
        return out

    def __repr__(self) -> str:
        return (f"Store('{self.path}', n_samples={self.n_samples}, "
                f"params={self.param_names}, quantities={self.quantities})")
