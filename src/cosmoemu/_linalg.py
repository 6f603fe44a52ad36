"""Small float64 linear-algebra helpers shared by priors and likelihoods."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

__all__ = ["gaussian_factors"]


def gaussian_factors(cov: np.ndarray, who: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    """Cholesky factor, whitening matrix and log-normalisation of a Gaussian covariance.

    Args:
        cov: symmetric positive definite ``(n, n)``, float64.
        who: a prefix for error messages (e.g. ``"GaussianLikelihood: "``).

    Returns:
        ``(L, W, ln_norm)`` with ``cov = L Lᵀ``, ``W = L⁻¹`` (so ``|W r|²`` is the χ²) and
        ``ln_norm = −½ n ln 2π − ½ ln det cov``.

    Raises:
        ValueError: ``cov`` is not symmetric (to 1e-10 relative) or not positive definite.
    """
    n = cov.shape[0]
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=0.0):
        raise ValueError(f"{who}cov is not symmetric")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{who}cov is not positive definite") from err
    whitening = scipy.linalg.solve_triangular(chol, np.eye(n), lower=True)
    log_norm = float(-0.5 * n * math.log(2 * math.pi) - np.sum(np.log(np.diag(chol))))
    return chol, whitening, log_norm
