"""Estimator files: ``STEM.npz`` (arrays, read with ``allow_pickle=False``) + ``STEM.json``.

The JSON holds the format and schema version, the method, parameter names, the prior mapping,
the dimensions, the architecture and training settings, the seed, the number of simulations,
the training history and the SHA-256 of the npz. Loading rebuilds the network from the settings
(nothing is executed from the files) and puts the saved arrays in it, checking every shape.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..emulator._io import _sha256
from ..emulator._io import model_paths as _paths
from ..evidence._whiten import Whitening
from ._estimator import Estimator, Regression, stack_regressions
from ._nets import NetConfig, template

__all__ = ["EstimatorFileError", "load_estimator", "save_estimator"]

FORMAT = "cosmoemu-sbi-estimator"
#: 2: one linear stage (regression) per ensemble member, ``(K, ...)`` arrays
SCHEMA_VERSION = 2


class EstimatorFileError(ValueError):
    """An estimator file is missing, corrupt, or of another format or version."""


def _arrays(tree) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree) if eqx.is_array(leaf)]


def save_estimator(est: Estimator, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``est`` to ``STEM.npz`` and ``STEM.json`` (``path``: the stem or either file).

    Returns:
        The two paths written.
    """
    npz, js = _paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, a in enumerate(_arrays(est.params)):
        arrays[f"params/{i}"] = a
    for i, a in enumerate(_arrays(est.static)):
        arrays[f"static/{i}"] = a
    for name, w in (("theta", est.theta_whitening), ("x", est.x_whitening)):
        arrays[f"{name}_whitening/mean"] = np.asarray(w.mean, np.float64)
        arrays[f"{name}_whitening/inv_chol"] = np.asarray(w.inv_chol, np.float64)
    if est.regression is not None:
        reg = est.regression if est.regression.stacked else stack_regressions(
            [est.regression] * est.n_members)
        for name in ("coef", "intercept", "inv_chol", "log_det"):
            arrays[f"regression/{name}"] = np.asarray(getattr(reg, name), np.float64)
    tmp = npz.with_name(npz.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, npz)
    manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **est.summary(),
                "whitening_log_det": {"theta": est.theta_whitening.log_det,
                                      "x": est.x_whitening.log_det},
                "npz_sha256": _sha256(npz)}
    js.write_text(json.dumps(manifest, indent=1))
    return npz, js


def _fill(tree, saved: list[np.ndarray], what: str, lead: tuple[int, ...] = ()):
    leaves, treedef = jax.tree.flatten(tree)
    out, i = [], 0
    for leaf in leaves:
        if eqx.is_array(leaf):
            if i >= len(saved):
                raise EstimatorFileError(f"{what}: the file has {len(saved)} arrays, the "
                                         "network needs more")
            want = (*lead, *np.shape(leaf))
            if saved[i].shape != want:
                raise EstimatorFileError(f"{what} array {i} has shape {saved[i].shape}, the "
                                         f"network needs {want}")
            out.append(jnp.asarray(saved[i], dtype=leaf.dtype))
            i += 1
        else:
            out.append(leaf)
    if i != len(saved):
        raise EstimatorFileError(f"{what}: the file has {len(saved)} arrays, the network {i}")
    return jax.tree.unflatten(treedef, out)


def read_checked(path: str | os.PathLike, fmt: str, schema: int,
                 what: str) -> tuple[dict[str, Any], dict[str, np.ndarray], Callable]:
    """Read ``STEM.json`` + ``STEM.npz`` of an SBI file: both exist, the JSON is of format
    ``fmt`` and schema ``schema``, the npz matches its checksum (never unpickled).

    Returns:
        ``(manifest, arrays, group)``: ``group(prefix)`` lists the arrays ``prefix/0``,
        ``prefix/1``, ... in order.

    Raises:
        EstimatorFileError: naming the file and what is wrong.
    """
    npz, js = _paths(path)
    for p in (npz, js):
        if not p.is_file():
            raise EstimatorFileError(f"{what} file '{p}' does not exist")
    try:
        meta = json.loads(js.read_text())
    except json.JSONDecodeError as err:
        raise EstimatorFileError(f"'{js}' is not valid JSON: {err}") from err
    if meta.get("format") != fmt or meta.get("schema_version") != schema:
        raise EstimatorFileError(f"'{js}' is not a {fmt} file of schema {schema} "
                                 f"(format {meta.get('format')!r}, schema "
                                 f"{meta.get('schema_version')!r})")
    if _sha256(npz) != meta.get("npz_sha256"):
        raise EstimatorFileError(f"'{npz}' does not match the checksum in '{js}' (a changed "
                                 "or swapped file)")
    with np.load(npz, allow_pickle=False) as f:
        arrays = dict(f)

    def group(prefix: str) -> list[np.ndarray]:
        keys = sorted((k for k in arrays if k.startswith(prefix + "/")),
                      key=lambda k: int(k.split("/")[1]))
        return [arrays[k] for k in keys]

    return meta, arrays, group


def load_estimator(path: str | os.PathLike) -> Estimator:
    """Read an estimator written by :func:`save_estimator`.

    Raises:
        EstimatorFileError: missing files, another format or schema version, a checksum or
            shape that does not match.
    """
    meta, arrays, group = read_checked(path, FORMAT, SCHEMA_VERSION, "estimator")
    config = NetConfig(**meta["config"])
    method, d, n, seed = meta["method"], int(meta["theta_dim"]), int(meta["x_dim"]), meta["seed"]
    params0, static0 = template(method, config, d, n, int(seed))
    static = _fill(static0, group("static"), "static")
    params = _fill(params0, group("params"), "params", lead=(int(meta["members"]),))
    ws = {}
    for name in ("theta", "x"):
        ws[name] = Whitening(mean=arrays[f"{name}_whitening/mean"],
                             inv_chol=arrays[f"{name}_whitening/inv_chol"],
                             log_det=float(meta["whitening_log_det"][name]))
    regression = None
    if meta.get("regression"):
        regression = Regression(*(arrays[f"regression/{k}"] for k in
                                  ("coef", "intercept", "inv_chol", "log_det")))
        k = int(meta["members"])
        if regression.coef.shape != (k, n, d) or regression.log_det.shape != (k,):
            raise EstimatorFileError(f"regression arrays of shape {regression.coef.shape}, "
                                     f"{regression.log_det.shape}; expected ({k}, {n}, {d}), "
                                     f"({k},)")
    return Estimator(
        method=method, names=tuple(meta["names"]), prior=meta["prior"],
        theta_whitening=ws["theta"], x_whitening=ws["x"], params=params, static=static,
        config=config, seed=int(seed), n_simulations=int(meta["n_simulations"]),
        history=tuple(meta["history"]), fit_seconds=float(meta["fit_seconds"]),
        regression=regression,
    )
