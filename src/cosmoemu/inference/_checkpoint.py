"""Checkpoints of a NUTS run: resume a killed run from its last finished block.

A checkpoint is two files beside the output, ``STEM.npz`` and ``STEM.json`` (``cosmoemu
sample`` uses ``STEM = ROOT.checkpoint`` for output root ``ROOT``):

* ``STEM.npz`` (read with ``allow_pickle=False``) holds every array of the run so far: the
  chains' :class:`~cosmoemu.inference.NUTSState` (``state/…``), the metric (``metric``, and the
  Laplace one, ``laplace_metric``, that ``adapt_metric`` shrinks towards), the mode, the warmup
  draws ``adapt_metric`` needs (``warmup_draws``), the draws and statistics of every finished
  sampling block (``draws/…``, steps × chains × …), caller's arrays (``extra/…``), and the
  metadata below as a JSON string (``meta``). It alone is read when resuming.
* ``STEM.json`` is the same metadata, readable: the run's identity, blocks done, phase
  (``warmup``, ``sampling``, ``finished``), divergences, timings so far, array shapes.

Both are rewritten after every block (and once after the mode search) through a temp file and
``os.replace``: a run killed mid-write leaves the previous checkpoint whole. The npz is renamed
first and carries the metadata itself, so a kill between the two renames cannot pair new arrays
with old metadata. The file is rewritten whole each time: for 4 chains × 37 parameters ×
1,000 draws in float32 through :func:`sample_posterior` (draws, physical values, statistics) it
is 1.3 MB, written in 8–115 ms (median 24 ms, two fsyncs included) on a loaded 2-core CPU; the
driver's ``timings["checkpoint"]`` is the run's total.

The identity of a run (:meth:`Checkpoint.identity`) is the :class:`NUTSConfig`, the PRNG key,
the dimension, the dtype and the caller's ``tag`` (:func:`sample_posterior` adds a hash of the
posterior's arrays and its parameter names; ``cosmoemu sample`` the config). A checkpoint of
another run is refused (:class:`CheckpointMismatch`, naming what differs): resuming it would
mix two runs. Changing ``max_draws`` changes every block's key, so a run cannot be extended
through its checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._nuts import NUTSConfig

__all__ = ["Checkpoint", "CheckpointMismatch", "array_digest"]

logger = logging.getLogger(__name__)

FORMAT = "cosmoemu.nuts_checkpoint"
VERSION = 1


class CheckpointMismatch(ValueError):
    """A checkpoint exists but belongs to another run (or cannot be read)."""


def array_digest(tree: Any) -> str:
    """SHA-256 of every array leaf of ``tree`` (dtype, shape and bytes, in leaf order)."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        if not isinstance(leaf, np.ndarray | jax.Array):
            continue
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _key_identity(key: jax.Array) -> dict[str, Any]:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return {"impl": str(jax.random.key_impl(key)),
                "data": np.asarray(jax.random.key_data(key)).tolist()}
    return {"impl": "raw", "data": np.asarray(key).tolist()}


def _differences(saved: Any, now: Any, path: str = "", limit: int = 8) -> list[str]:
    """Dotted paths where two JSON-like values differ, with both values (shortened)."""
    if isinstance(saved, dict) and isinstance(now, dict):
        out: list[str] = []
        for k in list(saved) + [k for k in now if k not in saved]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in saved:
                out.append(f"{sub}: absent in the checkpoint")
            elif k not in now:
                out.append(f"{sub}: only in the checkpoint")
            else:
                out += _differences(saved[k], now[k], sub, limit)
            if len(out) >= limit:
                break
        return out[:limit]
    if saved == now:
        return []

    def short(v: Any) -> str:
        text = json.dumps(v)
        return text if len(text) <= 60 else text[:57] + "..."

    return [f"{path}: {short(saved)} in the checkpoint, {short(now)} now"]


def _describe(diff: list[str]) -> list[str]:
    """The differences in words: the seed, the dimension, NUTS settings, the caller's tag."""
    out = []
    for line in diff:
        if line.startswith("key"):
            out.append("the seed (PRNG key) differs")
        elif line.startswith("num_dims"):
            out.append("the number of parameters: " + line.split(": ", 1)[1])
        elif line.startswith("config."):
            out.append("NUTS setting " + line.removeprefix("config."))
        else:
            out.append(line.removeprefix("tag."))
    return list(dict.fromkeys(out))


class Checkpoint:
    """Where a run's checkpoint lives and which run it belongs to.

    Args:
        stem: ``STEM`` of ``STEM.npz`` and ``STEM.json`` (a trailing ``.npz`` or ``.json`` is
            dropped).
        tag: JSON-ready mapping added to the run's identity (what the sampler cannot see:
            the posterior, the config).
        restart: ignore an existing checkpoint: it is deleted at the first :meth:`load`.
        announce: called with one line when a run resumes (default: ``logger.info``).

    Attributes:
        extra: arrays saved with every write under ``extra/`` (set them before sampling).
        loaded: after a successful :meth:`load`, its ``{"meta", "arrays", "extra"}``.
    """

    def __init__(self, stem: str | Path, *, tag: Mapping[str, Any] | None = None,
                 restart: bool = False,
                 announce: Callable[[str], None] | None = None) -> None:
        stem = Path(stem)
        if stem.suffix in (".npz", ".json"):
            stem = stem.with_suffix("")
        self.stem = stem
        self.tag = json.loads(json.dumps(dict(tag or {}), sort_keys=True, default=str))
        self.restart = restart
        self.announce = announce or logger.info
        self.extra: dict[str, np.ndarray] = {}
        self.loaded: dict[str, Any] | None = None

    @property
    def npz_path(self) -> Path:
        return self.stem.with_name(self.stem.name + ".npz")

    @property
    def json_path(self) -> Path:
        return self.stem.with_name(self.stem.name + ".json")

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.stem)!r})"

    def exists(self) -> bool:
        return self.npz_path.exists()

    def identity(self, config: NUTSConfig, key: jax.Array, num_dims: int,
                 dtype: Any) -> dict[str, Any]:
        """What a checkpoint must match to be resumed: settings, key, dimension, dtype, tag."""
        return {"num_dims": int(num_dims), "dtype": np.dtype(dtype).name,
                "config": dataclasses.asdict(config), "key": _key_identity(key),
                "tag": self.tag}

    def _refuse(self, why: str) -> CheckpointMismatch:
        return CheckpointMismatch(
            f"checkpoint {self.npz_path} {why}. Delete it (and {self.json_path.name}) to start "
            "afresh, or write this run elsewhere (another output root; `cosmoemu sample "
            "--restart` overwrites it)")

    def load(self, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        """The saved run, or None when there is none (or ``restart``).

        Returns:
            ``{"meta": dict, "arrays": {name: array}, "extra": {name: array}}``, also kept in
            :attr:`loaded`: a second call returns it without reading again (and without
            checking ``identity``) until ``loaded`` is reset, which the sampler does when it
            takes the run over.

        Raises:
            CheckpointMismatch: the file belongs to another run, or is not a checkpoint.
        """
        if self.loaded is not None:
            return self.loaded
        if self.restart:
            self.remove()
            self.restart = False
            return None
        if not self.npz_path.exists():
            return None
        try:
            with np.load(self.npz_path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            meta = json.loads(str(arrays.pop("meta")))
        except Exception as err:
            raise self._refuse(f"cannot be read ({type(err).__name__}: {err})") from err
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise self._refuse(f"is not a version-{VERSION} NUTS checkpoint "
                               f"(format {meta.get('format')!r}, version {meta.get('version')})")
        now = json.loads(json.dumps(dict(identity), sort_keys=True))
        diff = _differences(meta["identity"], now)
        if diff:
            raise self._refuse("belongs to a different run: " + "; ".join(_describe(diff)))
        extra = {k.removeprefix("extra/"): v for k, v in arrays.items() if k.startswith("extra/")}
        self.loaded = {"meta": meta, "arrays": arrays, "extra": extra}
        return self.loaded

    def save(self, identity: Mapping[str, Any], meta: Mapping[str, Any],
             arrays: Mapping[str, np.ndarray]) -> int:
        """Write ``STEM.npz`` then ``STEM.json`` atomically; returns the npz's size in bytes.

        Args:
            identity: from :meth:`identity`.
            meta: JSON-ready run progress (blocks done, phase, timings, …).
            arrays: the run's arrays (names with ``/``; :attr:`extra` is added).
        """
        from ..data._layout import write_atomic

        arrays = {**{k: np.asarray(v) for k, v in arrays.items()},
                  **{f"extra/{k}": np.asarray(v) for k, v in self.extra.items()}}
        meta = {"format": FORMAT, "version": VERSION, "identity": dict(identity), **meta,
                "arrays": {k: f"{v.dtype.name} {list(v.shape)}" for k, v in arrays.items()}}
        text = json.dumps(meta, indent=1, default=str)
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.npz_path, lambda f: np.savez(f, meta=np.asarray(text), **arrays))
        write_atomic(self.json_path, lambda f: f.write((text + "\n").encode()))
        return self.npz_path.stat().st_size

    def remove(self) -> None:
        """Delete the checkpoint's files (those that exist)."""
        for path in (self.npz_path, self.json_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
