"""Chain files: write ours, read ours, Cobaya's and GetDist's, hand chains to GetDist.

Files written for output root ``ROOT``:

* ``ROOT.1.txt``, ``ROOT.2.txt``, … one per chain; a header line
  ``#  weight  minuslogpost  <sampled names>  <derived names>`` then one row per draw
  (weight 1 for NUTS draws; ``minuslogpost = −(ln L + ln π)`` with the prior normalised in the
  physical parameters; values in ``%.10e``);
* ``ROOT.paramnames``: GetDist's name/LaTeX list, derived names ending in ``*``;
* ``ROOT.input.yaml``: the config that produced them (when given).

:func:`read_chains` reads two layouts, both one text file per chain, of any lengths:

- **Cobaya / cosmoemu**: ``ROOT.1.txt``, ``ROOT.2.txt``, … with the header above; the sampled
  parameters are those of ``ROOT.paramnames`` whose names do not end in ``*`` or, without that
  file, those with a ``prior`` in ``ROOT.updated.yaml`` (Cobaya) or ``ROOT.input.yaml``.
- **GetDist**: ``ROOT_1.txt``, ``ROOT_2.txt``, … (or a single ``ROOT.txt``) without a header,
  columns ``weight, -log(posterior), <parameters in ROOT.paramnames order>``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ._chains import Chains

__all__ = ["read_chains", "to_getdist", "write_chains"]

logger = logging.getLogger(__name__)

_FMT = "%.10e"
_COBAYA = re.compile(r"^(?P<root>.+)\.(?P<n>\d+)\.txt$")
_GETDIST = re.compile(r"^(?P<root>.+)_(?P<n>\d+)\.txt$")


# ----------------------------------------------------------------------------------- writing
def write_chains(
    root: str | Path, chains: Chains, config: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ``ROOT.N.txt`` (N = 1…), ``ROOT.paramnames`` and ``ROOT.input.yaml``.

    Existing chain files of this root with higher numbers are removed, so a root never mixes
    two runs. Chains of unequal length are written as they are. Returns the paths written.
    """
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    for old in root.parent.glob(root.name + ".*.txt"):
        if re.fullmatch(re.escape(root.name) + r"\.\d+\.txt", old.name):
            old.unlink()
    header = "  ".join(("weight", "minuslogpost", *chains.all_names))
    written = []
    for c, values in enumerate(chains.values):
        table = np.column_stack([chains.weights[c], chains.minuslogpost[c], values])
        path = root.parent / f"{root.name}.{c + 1}.txt"
        np.savetxt(path, table, fmt=_FMT, header=header, comments="#  ")
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


# ----------------------------------------------------------------------------------- reading
def _find_root(path: Path) -> Path:
    """The chain root: ``path`` itself, the root of a chain file, or the one root in a folder."""
    if path.is_dir():
        roots = set()
        for f in path.iterdir():
            for pattern in (_COBAYA, _GETDIST):
                m = pattern.match(f.name)
                if m:
                    roots.add(m["root"])
            if f.suffix == ".paramnames":
                roots.add(f.stem)
        if not roots:
            raise FileNotFoundError(
                f"no chain files in folder '{path}' (expected ROOT.1.txt, ROOT_1.txt or "
                "ROOT.paramnames)"
            )
        if len(roots) > 1:
            raise ValueError(
                f"folder '{path}' holds chains of several roots ({', '.join(sorted(roots))}); "
                f"give the root of one, e.g. '{path / sorted(roots)[0]}'"
            )
        return path / roots.pop()
    if path.is_file():
        for pattern in (_COBAYA, _GETDIST):
            m = pattern.match(path.name)
            if m:
                logger.info("reading every chain of root '%s'", m["root"])
                return path.with_name(m["root"])
    return path


def _chain_files(root: Path) -> tuple[list[Path], str]:
    def numbered(pattern: re.Pattern) -> list[Path]:
        found = []
        if root.parent.is_dir():
            for f in root.parent.iterdir():
                m = pattern.match(f.name)
                if m and m["root"] == root.name:
                    found.append((int(m["n"]), f))
        return [f for _, f in sorted(found)]

    cobaya, getdist = numbered(_COBAYA), numbered(_GETDIST)
    if cobaya and getdist:
        raise ValueError(
            f"root '{root}' has chain files of both layouts ({cobaya[0].name} and "
            f"{getdist[0].name}); move one set away"
        )
    if cobaya:
        return cobaya, "cobaya"
    if getdist:
        return getdist, "getdist"
    single = root.with_name(root.name + ".txt")
    if single.is_file():
        return [single], "getdist"
    raise FileNotFoundError(
        f"no chains found for root '{root}': expected {root.name}.1.txt (Cobaya/cosmoemu), "
        f"{root.name}_1.txt or {root.name}.txt (GetDist) in '{root.parent}'"
    )


def _read_paramnames(root: Path) -> list[tuple[str, bool, str]] | None:
    """``[(name, derived, label), ...]`` from ``ROOT.paramnames``, or None when there is none."""
    path = root.with_name(root.name + ".paramnames")
    if not path.is_file():
        return None
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(None, 1)
        name = parts[0].rstrip("*")
        out.append((name, parts[0].endswith("*"),
                    parts[1].strip() if len(parts) > 1 else name))
    return out


def _from_yaml(root: Path) -> tuple[list[str], dict[str, str]] | None:
    """Sampled parameters (those with a ``prior``) and LaTeX labels from Cobaya's YAML."""
    for suffix in (".updated.yaml", ".input.yaml"):
        path = root.with_name(root.name + suffix)
        if path.is_file():
            params = (yaml.safe_load(path.read_text()) or {}).get("params") or {}
            sampled = [k for k, v in params.items() if isinstance(v, dict) and "prior" in v]
            labels = {k: str(v["latex"]) for k, v in params.items()
                      if isinstance(v, dict) and "latex" in v}
            return sampled, labels
    return None


def _header(path: Path) -> list[str] | None:
    with path.open() as f:
        first = f.readline()
    return first[1:].split() if first.startswith("#") else None


def read_chains(
    root: str | Path, *, params: Sequence[str] | None = None, burn_in: float = 0.0
) -> Chains:
    """Read posterior chains written by cosmoemu, Cobaya or GetDist, each with its own length.

    Args:
        root: the chain root (``chains/run`` for ``chains/run.1.txt``…), one chain file of it,
            or a folder that holds the chains of a single root.
        params: the sampled parameters, by name and in this order (every other column is
            derived); by default those the files name as sampled (see the module docstring).
        burn_in: fraction of each chain's rows to drop from its start (default 0: cosmoemu's
            chains are written after warm-up).

    Returns:
        :class:`Chains`: every row of every file, weights as written (any non-negative
        numbers), ``sources`` the file names.

    Raises:
        FileNotFoundError: no chains at ``root``.
        ValueError: an ambiguous root, unreadable or inconsistent files, unknown parameter
            names, or no way to tell sampled from derived parameters.
    """
    root = _find_root(Path(root))
    files, layout = _chain_files(root)
    paramnames = _read_paramnames(root)
    labels = {n: label for n, _, label in paramnames or ()}
    sampled = None
    if layout == "cobaya":
        columns = _header(files[0])
        if columns is None:
            raise ValueError(f"'{files[0]}' has no '# weight minuslogpost ...' header line")
        if columns[:2] != ["weight", "minuslogpost"]:
            raise ValueError(f"'{files[0]}': the header must start with 'weight minuslogpost', "
                             f"got '{' '.join(columns[:2])}'")
        names = columns[2:]
        if paramnames is not None:
            sampled = [n for n, derived, _ in paramnames if not derived and n in names]
        else:
            from_yaml = _from_yaml(root)
            if from_yaml is not None:
                sampled, labels = from_yaml
    else:
        if paramnames is None:
            raise FileNotFoundError(
                f"GetDist chains need '{root.name}.paramnames' next to them in '{root.parent}'")
        names = [n for n, _, _ in paramnames]
        sampled = [n for n, derived, _ in paramnames if not derived]
    if params is not None:
        sampled = list(params)
    if sampled is None:
        raise ValueError(
            f"cannot tell sampled from derived parameters of '{root}': there is no "
            f"{root.name}.paramnames or {root.name}.updated.yaml; pass params=[...] "
            f"(columns: {', '.join(names)})")
    if not sampled:
        raise ValueError(f"no sampled parameters found for '{root}'")

    tables, kept = [], []
    for f in files:
        if layout == "cobaya" and _header(f) != columns:
            raise ValueError(f"'{f}' has a different header from '{files[0]}'")
        try:
            data = np.loadtxt(f, comments="#", ndmin=2, dtype=np.float64)
        except ValueError as err:
            raise ValueError(f"'{f}' is not a table of numbers: {err}") from err
        if data.shape[0] == 0:
            logger.warning("chain file '%s' is empty; skipped", f)
            continue
        if data.shape[1] != 2 + len(names):
            raise ValueError(
                f"'{f}' has {data.shape[1]} columns, expected {2 + len(names)} "
                f"(weight, -log posterior and {len(names)} parameters)")
        tables.append(data)
        kept.append(f.name)
    if not tables:
        raise ValueError(f"every chain file of '{root}' is empty")
    logger.info("read %d chains of '%s' (%s layout)", len(tables), root, layout)
    chains = Chains(
        names=tuple(names),
        samples=[t[:, 2:] for t in tables],
        minuslogpost=[t[:, 1] for t in tables],
        weights=[t[:, 0] for t in tables],
        labels=labels,
        sources=tuple(kept),
    )
    return chains.select(sampled).drop_burn_in(burn_in)


# ----------------------------------------------------------------------------------- GetDist
def to_getdist(chains: Chains, params: Sequence[str] | None = None, **settings: Any):
    """A ``getdist.MCSamples`` of the chains (one GetDist chain per chain, any lengths).

    Args:
        chains: the draws.
        params: names to include (default all).
        settings: passed to GetDist as ``settings`` (e.g. ``smooth_scale_2D``).
    """
    from getdist import MCSamples

    names = list(params or chains.all_names)
    idx = [chains.all_names.index(n) for n in names]
    with contextlib.redirect_stdout(io.StringIO()):  # GetDist prints "Removed no burn in"
        return MCSamples(
            samples=[v[:, idx] for v in chains.values],
            weights=list(chains.weights),
            loglikes=list(chains.minuslogpost),
            names=names,
            labels=[chains.labels.get(n, n) for n in names],
            settings=settings or None,
            ignore_rows=0,
        )
