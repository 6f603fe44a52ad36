"""Reading the shipped Planck 2018 plik_lite arrays (bins, weights, data, covariance)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .._linalg import unpack_upper

__all__ = ["PlikLiteData", "load_plik_lite_data"]

_DEFAULT_FILE = "planck2018_plik_lite/plik_lite_v22.npz"


@dataclass(frozen=True)
class PlikLiteData:
    """The plik_lite arrays, float64 numpy, exactly as published.

    Attributes:
        n_bins: bins per spectrum, ``(215, 199, 199)`` for TT, TE, EE.
        plmin: first multipole of the high-ell bins (30).
        ell_ranges: per spectrum, ``(n_bins, 2)`` int array of first and last ell of each bin.
        weights: per spectrum, a list of per-bin weight arrays on C_ell (each sums to 1).
        cl_binned: ``(613,)`` binned C_ell [μK²], TT then TE then EE.
        cov: ``(613, 613)`` covariance of ``cl_binned`` [μK⁴].
        low_ell_ranges: ``(2, 2)`` first and last ell of the two low-ell TT bins (2–15, 16–29).
        low_weights: list of two weight arrays.
        low_cl_binned: ``(2,)`` binned low-ell C_ell^TT [μK²].
        low_sigma: ``(2,)`` their Gaussian errors [μK²].
    """

    n_bins: tuple[int, int, int]
    plmin: int
    ell_ranges: tuple[np.ndarray, np.ndarray, np.ndarray]
    weights: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]
    cl_binned: np.ndarray
    cov: np.ndarray
    low_ell_ranges: np.ndarray
    low_weights: list[np.ndarray]
    low_cl_binned: np.ndarray
    low_sigma: np.ndarray


def load_plik_lite_data(path: str | Path | None = None) -> PlikLiteData:
    """Load the plik_lite arrays from the package data (or from ``path``, an npz of that layout).

    Args:
        path: an npz written by ``scripts/convert_plik_lite.py``; default the shipped file.

    Returns:
        The arrays, with bin ranges turned into multipoles.

    Raises:
        FileNotFoundError: the file is missing (names the path and how to restore it).
    """
    if path is None:
        ref = resources.files("cosmoemu.likelihoods").joinpath("data", _DEFAULT_FILE)
        path = Path(str(ref))
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"plik_lite data file '{path}' is missing; reinstall cosmoemu or regenerate it with "
            "scripts/convert_plik_lite.py from the Planck 2018 plik_lite files"
        )
    with np.load(path, allow_pickle=False) as f:
        a = {k: f[k] for k in f.files}
    n_bins = tuple(int(n) for n in a["n_bins"])
    plmin, plmax = (int(v) for v in a["plmin_plmax"])
    n_ell = plmax - plmin + 1
    n_max = len(a["blmin"]) // 3
    ranges, weights = [], []
    for s, nb in enumerate(n_bins):
        lo = a["blmin"][s * n_max : s * n_max + nb]
        hi = a["blmax"][s * n_max : s * n_max + nb]
        ranges.append(np.stack([lo - s * n_ell + plmin, hi - s * n_ell + plmin], axis=1))
        weights.append([a["bweight"][i : j + 1] for i, j in zip(lo, hi, strict=True)])
    cov = unpack_upper(a["cov_upper"])
    low_plmin = int(a["low_plmin"][0])
    low_ranges = np.stack([a["low_blmin"], a["low_blmax"]], axis=1) + low_plmin
    low_weights = [a["low_bweight"][i : j + 1] for i, j in zip(a["low_blmin"], a["low_blmax"],
                                                               strict=True)]
    return PlikLiteData(
        n_bins=n_bins,
        plmin=plmin,
        ell_ranges=tuple(ranges),
        weights=tuple(weights),
        cl_binned=a["cl_binned"],
        cov=cov,
        low_ell_ranges=low_ranges,
        low_weights=low_weights,
        low_cl_binned=a["low_cl_binned"],
        low_sigma=a["low_sigma_binned"],
    )
