"""Principal components of (standardised) outputs: by SVD, or streamed for big data sets.

The number of components is chosen by count or by a reconstruction tolerance: the smallest
``k`` whose maximum absolute reconstruction error over the training samples and modes is below
``tol`` (in the units of the features handed in, e.g. standard deviations, or sigma_ell when
the features were scaled by an error model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ._transforms import PCA

__all__ = ["PCAFit", "fit_pca", "fit_pca_streaming", "reconstruction_error"]


@dataclass(frozen=True)
class PCAFit:
    """Result of a PCA fit.

    Attributes:
        pca: the :class:`~cosmoemu.emulator.PCA` step with ``n_components`` rows.
        explained_variance: variance fraction of every kept component, shape ``(k,)``.
        max_error: max absolute reconstruction error on the fitting data (feature units).
        rms_error: root-mean-square reconstruction error on the fitting data (feature units).
    """

    pca: PCA
    explained_variance: np.ndarray
    max_error: float
    rms_error: float

    def summary(self) -> dict[str, float | int]:
        return {
            "n_components": self.pca.n_components,
            "explained_variance": float(self.explained_variance.sum()),
            "max_reconstruction_error": self.max_error,
            "rms_reconstruction_error": self.rms_error,
        }


def reconstruction_error(
    chunks: Iterable[np.ndarray], components: np.ndarray, ks: Iterable[int]
) -> dict[int, tuple[float, float]]:
    """Max and RMS reconstruction error of ``chunks`` with the first ``k`` components, per ``k``.

    Args:
        chunks: arrays ``(n_i, n_modes)`` of (centred) features.
        components: ``(k_max, n_modes)`` orthonormal rows.
        ks: component counts to test.

    Returns:
        ``{k: (max_abs_error, rms_error)}``.
    """
    ks = sorted(set(int(k) for k in ks))
    vmax = dict.fromkeys(ks, 0.0)
    ssq = dict.fromkeys(ks, 0.0)
    count = 0
    for x in chunks:
        x = np.asarray(x, np.float64)
        proj = x @ components.T
        count += x.size
        for k in ks:
            resid = x - proj[:, :k] @ components[:k]
            vmax[k] = max(vmax[k], float(np.abs(resid).max(initial=0.0)))
            ssq[k] += float(np.sum(resid**2))
    return {k: (vmax[k], float(np.sqrt(ssq[k] / max(count, 1)))) for k in ks}


def _choose(
    components: np.ndarray,
    variance: np.ndarray,
    chunks_fn,
    n_components: int | None,
    tol: float | None,
) -> PCAFit:
    k_max = components.shape[0]
    if (n_components is None) == (tol is None):
        raise ValueError("give exactly one of n_components (a count) or tol (max error)")
    if n_components is not None:
        if not 1 <= n_components <= k_max:
            raise ValueError(f"n_components must be in [1, {k_max}], got {n_components}")
        k = int(n_components)
        err = reconstruction_error(chunks_fn(), components, [k])[k]
    else:
        if tol <= 0:
            raise ValueError(f"tol must be > 0, got {tol}")
        # bisection on k: the error is non-increasing in k
        lo, hi = 1, k_max
        errs = reconstruction_error(chunks_fn(), components, [hi])
        if errs[hi][0] > tol:
            k, err = hi, errs[hi]
        else:
            while lo < hi:
                mid = (lo + hi) // 2
                errs.update(reconstruction_error(chunks_fn(), components, [mid]))
                if errs[mid][0] <= tol:
                    hi = mid
                else:
                    lo = mid + 1
            k, err = lo, errs[lo]
    total = variance.sum()
    frac = variance[:k] / total if total > 0 else np.zeros(k)
    return PCAFit(PCA(np.asarray(components[:k])), frac, err[0], err[1])


def fit_pca(
    features: np.ndarray, n_components: int | None = None, tol: float | None = None
) -> PCAFit:
    """PCA by singular value decomposition of centred features held in memory.

    Args:
        features: ``(n_samples, n_modes)``, already centred (e.g. standardised).
        n_components: keep this many components, or
        tol: keep the fewest components with max reconstruction error <= ``tol``.

    Returns:
        :class:`PCAFit`; ``explained_variance`` relative to the total variance.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (n_samples, n_modes), got shape {x.shape}")
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    return _choose(vt, s**2, lambda: [x], n_components, tol)


def fit_pca_streaming(
    chunks_fn, n_modes: int, n_components: int | None = None, tol: float | None = None
) -> PCAFit:
    """PCA from streamed chunks: accumulate the ``(n_modes, n_modes)`` scatter matrix in float64.

    Args:
        chunks_fn: callable returning a fresh iterable of centred ``(n_i, n_modes)`` arrays (it
            is called again to measure reconstruction errors).
        n_modes: number of modes (columns).
        n_components, tol: as :func:`fit_pca`.
    """
    scatter = np.zeros((n_modes, n_modes))
    for x in chunks_fn():
        x = np.asarray(x, np.float64)
        scatter += x.T @ x
    evals, evecs = np.linalg.eigh(scatter)
    order = np.argsort(evals)[::-1]
    evals = np.clip(evals[order], 0.0, None)
    components = evecs[:, order].T
    # fix the sign convention as SVD-independent: largest |entry| of each row positive
    signs = np.sign(components[np.arange(n_modes), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    return _choose(components, evals, chunks_fn, n_components, tol)
