"""Amortised-posterior files: ``STEM.npz`` (arrays, no pickle) + ``STEM.json``.

The JSON holds the format and schema version, parameter names, the box, the noise level, the
data shape, the settings (:class:`~cosmoemu.sbi.AmortisedConfig`), the seed, the number of
simulations, the training history and times, and the SHA-256 of the npz. Loading rebuilds the
networks from the settings and the seed (nothing is executed from the files) and puts the saved
arrays in them, checking every shape.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..emulator._io import _sha256
from ..emulator._io import model_paths as _paths
from ._amortised import AmortisedConfig, AmortisedPosterior, _templates
from ._io import EstimatorFileError, _arrays, _fill, read_checked

__all__ = ["load_amortised", "save_amortised"]

FORMAT = "cosmoemu-sbi-amortised-posterior"
#: 2: the centre of the residual map clipped to [r, 1 - r] (was [1e-4, 1 - 1e-4])
SCHEMA_VERSION = 2
_VECTORS = ("low", "high", "pca_mean", "pca_basis", "c_scale", "p_mean", "p_std", "r_scale")


def save_amortised(post: AmortisedPosterior, path: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``post`` to ``STEM.npz`` and ``STEM.json`` (``path``: the stem or either file).

    Returns:
        The two paths written.
    """
    npz, js = _paths(path)
    npz.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: np.asarray(getattr(post, name), np.float64) for name in _VECTORS}
    for group, tree in (("mlp", post.mlp_params), ("flow", post.flow_params),
                        ("flow_static", post.flow_static)):
        for i, a in enumerate(_arrays(tree)):
            arrays[f"{group}/{i}"] = a
    tmp = npz.with_name(npz.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, npz)
    manifest = {"format": FORMAT, "schema_version": SCHEMA_VERSION, **post.summary(),
                "npz_sha256": _sha256(npz)}
    js.write_text(json.dumps(manifest, indent=1))
    return npz, js


def load_amortised(path: str | os.PathLike) -> AmortisedPosterior:
    """Read a posterior written by :func:`save_amortised`.

    Raises:
        EstimatorFileError: missing files, another format or schema version, a checksum or
            shape that does not match.
    """
    npz, _ = _paths(path)
    meta, arrays, group = read_checked(path, FORMAT, SCHEMA_VERSION, "amortised-posterior")
    config = AmortisedConfig(**meta["config"])
    names = tuple(meta["names"])
    d, seed = len(names), int(meta["seed"])
    mp0, ms, fp0, fs0 = _templates(config, d, seed)
    x_shape = tuple(int(v) for v in meta["x_shape"])
    want = {"low": (d,), "high": (d,), "pca_mean": (int(np.prod(x_shape)),),
            "pca_basis": (config.n_components, int(np.prod(x_shape))),
            "c_scale": (config.n_components,), "p_mean": (d,), "p_std": (d,),
            "r_scale": (d,)}
    for name, shape in want.items():
        if name not in arrays or arrays[name].shape != shape:
            got = arrays[name].shape if name in arrays else "missing"
            raise EstimatorFileError(f"'{npz}': array {name!r} is {got}, expected {shape}")
    return AmortisedPosterior(
        names=names, low=arrays["low"], high=arrays["high"], sigma=float(meta["sigma"]),
        x_shape=x_shape, pca_mean=arrays["pca_mean"], pca_basis=arrays["pca_basis"],
        c_scale=arrays["c_scale"], p_mean=arrays["p_mean"], p_std=arrays["p_std"],
        r_scale=arrays["r_scale"], mlp_params=_fill(mp0, group("mlp"), "mlp"), mlp_static=ms,
        flow_params=_fill(fp0, group("flow"), "flow"),
        flow_static=_fill(fs0, group("flow_static"), "flow_static"), config=config,
        seed=seed, n_simulations=int(meta["n_simulations"]), history=meta["history"],
        fit_seconds={k: float(v) for k, v in meta["fit_seconds"].items()},
    )
