"""Reading posterior chains written by cosmoemu, Cobaya or GetDist.

Two layouts, both with one text file per chain:

- **Cobaya / cosmoemu**: ``ROOT.1.txt``, ``ROOT.2.txt``, ... with a header line
  ``#  weight  minuslogpost  <names...>``; the sampled parameters are those of ``ROOT.paramnames``
  whose names do not end in ``*`` or, without that file, those with a ``prior`` in
  ``ROOT.updated.yaml`` (Cobaya).
- **GetDist**: ``ROOT_1.txt``, ``ROOT_2.txt``, ... (or a single ``ROOT.txt``) without a header,
  columns ``weight, -log(posterior), <parameters in ROOT.paramnames order>``.

In both, the second column must be :math:`-(\\ln L + \\ln \\pi)` with the prior normalised in
the sampled parameters: the harmonic-mean identity needs that normalisation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .._errors import unknown_name_message
from ._chains import Chains, as_chains

__all__ = ["read_chains"]

logger = logging.getLogger(__name__)

_COBAYA = re.compile(r"^(?P<root>.+)\.(?P<n>\d+)\.txt$")
_GETDIST = re.compile(r"^(?P<root>.+)_(?P<n>\d+)\.txt$")


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
                "give the root of one, e.g. "
                f"'{path / sorted(roots)[0]}'"
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


def _read_paramnames(root: Path) -> list[tuple[str, bool]] | None:
    """``[(name, derived), ...]`` from ``ROOT.paramnames``, or None when there is none."""
    path = root.with_name(root.name + ".paramnames")
    if not path.is_file():
        return None
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = line.split()[0]
        out.append((name.rstrip("*"), name.endswith("*")))
    return out


def _sampled_from_yaml(root: Path) -> list[str] | None:
    """Sampled parameters (those with a ``prior``) from Cobaya's ``ROOT.updated.yaml``."""
    import yaml

    for suffix in (".updated.yaml", ".input.yaml"):
        path = root.with_name(root.name + suffix)
        if path.is_file():
            info = yaml.safe_load(path.read_text()) or {}
            params = info.get("params") or {}
            return [k for k, v in params.items() if isinstance(v, dict) and "prior" in v]
    return None


def _header(path: Path) -> list[str] | None:
    with path.open() as f:
        first = f.readline()
    if first.startswith("#"):
        return first[1:].split()
    return None


def read_chains(
    root: str | Path, *, params: Sequence[str] | None = None, burn_in: float = 0.0
) -> Chains:
    """Read posterior chains, keeping only the sampled parameters.

    Args:
        root: the chain root (``chains/run`` for ``chains/run.1.txt``...), one chain file of it,
            or a folder that holds the chains of a single root.
        params: the parameters to keep, by name; by default the sampled (non-derived) ones.
        burn_in: fraction of each chain's rows to drop from its start (default 0: cosmoemu's
            chains are written after warm-up).

    Returns:
        The chains, each with its own length; weights are the integer repeat counts of the
        first column (non-integer weights are refused).

    Raises:
        FileNotFoundError: no chains at ``root``.
        ValueError: ambiguous root, unreadable or inconsistent files, unknown parameter names,
            non-integer weights.
    """
    root = _find_root(Path(root))
    files, layout = _chain_files(root)
    paramnames = _read_paramnames(root)
    if layout == "cobaya":
        columns = _header(files[0])
        if columns is None:
            raise ValueError(f"'{files[0]}' has no '# weight minuslogpost ...' header line")
        if columns[:2] != ["weight", "minuslogpost"]:
            raise ValueError(
                f"'{files[0]}': the header must start with 'weight minuslogpost', "
                f"got '{' '.join(columns[:2])}'"
            )
        names = columns[2:]
        if params is None and paramnames is not None:
            params = [n for n, derived in paramnames if not derived]
        if params is None:
            params = _sampled_from_yaml(root)
    else:
        if paramnames is None:
            raise FileNotFoundError(
                f"GetDist chains need '{root.name}.paramnames' next to them in '{root.parent}'"
            )
        names = [n for n, _ in paramnames]
        if params is None:
            params = [n for n, derived in paramnames if not derived]
    if params is None:
        raise ValueError(
            f"cannot tell sampled from derived parameters of '{root}': there is no "
            f"{root.name}.paramnames or {root.name}.updated.yaml; pass params=[...] "
            f"(columns: {', '.join(names)})"
        )
    params = list(params)
    if not params:
        raise ValueError(f"no sampled parameters found for '{root}'")
    for p in params:
        if p not in names:
            raise ValueError(unknown_name_message("parameter", p, names))
    idx = [2 + names.index(p) for p in params]

    samples, logpost, weights, kept = [], [], [], []
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
                f"(weight, -log posterior and {len(names)} parameters)"
            )
        samples.append(data[:, idx])
        logpost.append(-data[:, 1])
        weights.append(data[:, 0])
        kept.append(f)
    if not samples:
        raise ValueError(f"every chain file of '{root}' is empty")
    logger.info("read %d chains of '%s' (%s layout): %s", len(files), root, layout, params)
    try:
        chains = as_chains(samples, logpost, weights, names=params)
    except ValueError as err:
        used = ", ".join(f"{j}: {f.name}" for j, f in enumerate(kept))
        raise ValueError(f"{err} (chains: {used})") from err
    return chains.drop_burn_in(burn_in)
