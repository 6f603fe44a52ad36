"""Chains in the Cobaya/GetDist text format: write, read, and hand to GetDist.

Files for output root ``ROOT``:

* ``ROOT.1.txt``, ``ROOT.2.txt``, … one per chain; a header line
  ``#  weight  minuslogpost  <sampled names>  <derived names>`` then one row per draw
  (weight 1 for MCMC draws; ``minuslogpost = −(ln L + ln π)`` with the prior normalised in the
  physical parameters; values in ``%.10e``);
* ``ROOT.paramnames``: GetDist's name/LaTeX list, derived names ending in ``*``;
* ``ROOT.input.yaml``: the config that produced them (when given).
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["Chains", "write_chains", "read_chains", "to_getdist"]

_FMT = "%.10e"


@dataclass
class Chains:
    """Weighted draws of sampled and derived parameters, per chain.

    Attributes:
        names: sampled parameter names ``(n_sampled,)``.
        derived_names: derived parameter names.
        samples: ``(n_chains, n_draws, n_sampled)`` physical values.
        derived: ``(n_chains, n_draws, n_derived)``.
        minuslogpost: ``(n_chains, n_draws)`` −(ln L + ln π).
        weights: ``(n_chains, n_draws)`` (ones for MCMC).
        labels: name → LaTeX label (no $).
    """

    names: tuple[str, ...]
    derived_names: tuple[str, ...]
    samples: np.ndarray
    derived: np.ndarray
    minuslogpost: np.ndarray
    weights: np.ndarray
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names, self.derived_names = tuple(self.names), tuple(self.derived_names)
        self.samples = np.asarray(self.samples, np.float64)
        self.derived = np.asarray(self.derived, np.float64).reshape(
            *self.samples.shape[:2], len(self.derived_names)
        )
        self.minuslogpost = np.asarray(self.minuslogpost, np.float64)
        self.weights = np.asarray(self.weights, np.float64)
        shape = self.samples.shape[:2]
        if self.samples.shape[2:] != (len(self.names),):
            raise ValueError(f"samples {self.samples.shape} do not match {len(self.names)} names")
        for what in ("minuslogpost", "weights"):
            if getattr(self, what).shape != shape:
                raise ValueError(f"{what} has shape {getattr(self, what).shape}, expected {shape}")

    @property
    def all_names(self) -> tuple[str, ...]:
        return self.names + self.derived_names

    @property
    def values(self) -> np.ndarray:
        """Sampled and derived values side by side, ``(n_chains, n_draws, n_all)``."""
        return np.concatenate([self.samples, self.derived], axis=2)

    def column(self, name: str) -> np.ndarray:
        """Draws of one parameter, ``(n_chains, n_draws)``."""
        if name not in self.all_names:
            from .._errors import unknown_name_message

            raise KeyError(unknown_name_message("parameter", name, self.all_names))
        return self.values[:, :, self.all_names.index(name)]


def _root(root: str | Path) -> Path:
    return Path(root)


def write_chains(
    root: str | Path, chains: Chains, config: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ``ROOT.N.txt`` (N = 1…), ``ROOT.paramnames`` and ``ROOT.input.yaml``.

    Existing chain files of this root with higher numbers are removed, so a root never mixes
    two runs. Returns the paths written.
    """
    root = _root(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    for old in root.parent.glob(root.name + ".*.txt"):
        if re.fullmatch(re.escape(root.name) + r"\.\d+\.txt", old.name):
            old.unlink()
    header = "#  " + "  ".join(("weight", "minuslogpost", *chains.all_names))
    values = chains.values
    written = []
    for c in range(values.shape[0]):
        table = np.column_stack([chains.weights[c], chains.minuslogpost[c], values[c]])
        path = root.parent / f"{root.name}.{c + 1}.txt"
        np.savetxt(path, table, fmt=_FMT, header=header[1:].lstrip("#"), comments="#")
        written.append(path)
    lines = []
    for name in chains.all_names:
        star = "*" if name in chains.derived_names else ""
        lines.append(f"{name}{star}\t{chains.labels.get(name, name)}")
    pn = root.parent / f"{root.name}.paramnames"
    pn.write_text("\n".join(lines) + "\n")
    written.append(pn)
    if config is not None:
        cfg = root.parent / f"{root.name}.input.yaml"
        cfg.write_text(yaml.safe_dump(_plain(config), sort_keys=False))
        written.append(cfg)
    return written


def _plain(obj: Any) -> Any:
    """Config → YAML-safe builtins (numpy scalars/arrays become floats/lists)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def read_chains(root: str | Path) -> Chains:
    """Read chains written by :func:`write_chains` (or Cobaya files with the same columns).

    Raises:
        FileNotFoundError: no ``ROOT.N.txt`` file.
        ValueError: files with different columns or a malformed header.
    """
    root = _root(root)
    files = sorted(
        (p for p in root.parent.glob(root.name + ".*.txt")
         if re.fullmatch(re.escape(root.name) + r"\.\d+\.txt", p.name)),
        key=lambda p: int(p.name.rsplit(".", 2)[1]),
    )
    if not files:
        raise FileNotFoundError(f"no chain files '{root}.N.txt' found")
    columns = None
    tables = []
    for path in files:
        with path.open() as f:
            head = f.readline()
        if not head.startswith("#"):
            raise ValueError(f"{path}: first line must be the '#  weight  minuslogpost ...' header")
        cols = head[1:].split()
        if cols[:2] != ["weight", "minuslogpost"]:
            raise ValueError(f"{path}: header must start with weight, minuslogpost; got {cols[:2]}")
        if columns is not None and cols != columns:
            raise ValueError(f"{path}: columns {cols} differ from {files[0]}: {columns}")
        columns = cols
        tables.append(np.loadtxt(path, ndmin=2))
    lengths = [len(t) for t in tables]
    if len(set(lengths)) > 1:  # never truncate: that would drop draws silently
        raise ValueError(
            f"chains of '{root}' have unequal lengths {lengths}; this reader keeps chains as "
            "one (n_chains, n_draws) array. Read them with cosmoemu.harmonic_mean.read_chains "
            "(any lengths), or cut them to a common length yourself."
        )
    data = np.stack(tables)
    labels, derived = _read_paramnames(root)
    names = columns[2:]
    sampled = tuple(c for c in names if c not in derived)
    dnames = tuple(c for c in names if c in derived)
    idx = [names.index(c) + 2 for c in (*sampled, *dnames)]
    vals = data[:, :, idx]
    return Chains(
        names=sampled,
        derived_names=dnames,
        samples=vals[:, :, : len(sampled)],
        derived=vals[:, :, len(sampled):],
        minuslogpost=data[:, :, 1],
        weights=data[:, :, 0],
        labels=labels,
    )


def _read_paramnames(root: Path) -> tuple[dict[str, str], set[str]]:
    path = root.parent / f"{root.name}.paramnames"
    labels: dict[str, str] = {}
    derived: set[str] = set()
    if not path.is_file():
        return labels, derived
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 1)
        name = parts[0]
        if name.endswith("*"):
            name = name[:-1]
            derived.add(name)
        labels[name] = parts[1].strip() if len(parts) > 1 else name
    return labels, derived


def to_getdist(chains: Chains, params: Sequence[str] | None = None, **settings: Any):
    """A ``getdist.MCSamples`` of the chains (one GetDist chain per chain).

    Args:
        chains: the draws.
        params: names to include (default all).
        settings: passed to GetDist as ``settings`` (e.g. ``smooth_scale_2D``).
    """
    from getdist import MCSamples

    names = list(params or chains.all_names)
    idx = [chains.all_names.index(n) for n in names]
    vals = chains.values[:, :, idx]
    with contextlib.redirect_stdout(io.StringIO()):  # GetDist prints "Removed no burn in"
        return MCSamples(
            samples=list(vals),
            weights=list(chains.weights),
            loglikes=list(chains.minuslogpost),
            names=names,
            labels=[chains.labels.get(n, n) for n in names],
            settings=settings or None,
            ignore_rows=0,
        )
