"""Whitening with the full covariance: the affine map that the flow sees its data through."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Whitening", "fit_whitening"]


@dataclass(frozen=True)
class Whitening:
    r"""The affine map :math:`x = L^{-1}(\theta - \mu)` with :math:`\Sigma = L L^\top`.

    .. math::

        \ln \varphi_\theta(\theta) = \ln \varphi_x\big(L^{-1}(\theta - \mu)\big)
            + \ln\lvert\det L^{-1}\rvert, \qquad
        \ln\lvert\det L^{-1}\rvert = -\sum_i \ln L_{ii}.

    Held in float64 NumPy; :meth:`apply` also traces under JAX (for autodiff checks).

    Attributes:
        mean: :math:`\mu`, shape ``(dim,)``.
        inv_chol: :math:`L^{-1}`, lower triangular, shape ``(dim, dim)``.
        log_det: :math:`\ln\lvert\det \partial x / \partial\theta\rvert`, a float.
    """

    mean: np.ndarray
    inv_chol: np.ndarray
    log_det: float

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return int(self.mean.shape[0])

    def apply(self, theta):
        """Whiten ``theta``, shape ``(..., dim)``: float64 NumPy in and out (JAX traces too)."""
        return (theta - self.mean) @ self.inv_chol.T


def fit_whitening(samples: np.ndarray) -> Whitening:
    """Mean and full-covariance Cholesky factor of ``samples``, shape ``(n, dim)``.

    Raises:
        ValueError: when the covariance is singular (a parameter that never moves, or two
            parameters that are exact linear combinations of each other).
    """
    samples = np.asarray(samples, dtype=np.float64)
    n, dim = samples.shape
    if n <= dim:
        raise ValueError(
            f"whitening needs more samples than parameters: got {n} samples of {dim} parameters"
        )
    mean = samples.mean(axis=0)
    cov = np.atleast_2d(np.cov(samples, rowvar=False))
    std = np.sqrt(np.diag(cov))
    if np.any(std <= 0) or not np.all(np.isfinite(std)):
        bad = [int(i) for i in np.flatnonzero(~(std > 0) | ~np.isfinite(std))]
        raise ValueError(
            f"parameters with zero or non-finite spread in the samples (columns {bad}); "
            "remove fixed parameters before estimating the evidence"
        )
    # Cholesky of the correlation matrix is better conditioned than that of the covariance.
    corr = cov / np.outer(std, std)
    try:
        chol_corr = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            "the sample covariance is singular: some parameters are exact linear combinations "
            "of others; pass only the independent (sampled) parameters"
        ) from err
    chol = std[:, None] * chol_corr
    inv_chol = np.linalg.solve(chol, np.eye(dim))
    inv_chol = np.tril(inv_chol)
    log_det = -float(np.sum(np.log(np.diag(chol))))
    return Whitening(mean=mean, inv_chol=inv_chol, log_det=log_det)
