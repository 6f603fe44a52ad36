"""A multivariate Gaussian likelihood in named parameters (test problems, external priors)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .._config import check_keys, get
from .._errors import ConfigError
from .._linalg import gaussian_factors
from ._base import register_likelihood

__all__ = ["GaussianLikelihood"]


class GaussianLikelihood(eqx.Module):
    """Normalised Gaussian log-likelihood of named parameters.

    .. math::

        \\ln L(x) = -\\tfrac12 (x-\\mu)^T C^{-1} (x-\\mu) - \\tfrac12 \\ln\\det(2\\pi C)

    Being normalised in ``x``, a posterior made of this likelihood and a prior that is wide
    compared with it has a known evidence (≈ 1/prior volume for a uniform prior), which makes it a
    test problem for samplers and evidence estimators.

    Args:
        params: names of the parameters, in the order of ``mean``.
        mean: shape ``(n,)``.
        cov: shape ``(n, n)`` symmetric positive definite; a 1-d ``(n,)`` array is read as the
            diagonal of variances.

    Raises:
        ValueError: shapes disagree, names repeat, or ``cov`` is not positive definite.
    """

    params: tuple[str, ...] = eqx.field(static=True)
    mean: np.ndarray
    whitening: np.ndarray
    log_norm: float = eqx.field(static=True)

    def __init__(self, params: Sequence[str], mean: ArrayLike, cov: ArrayLike) -> None:
        params = tuple(str(p) for p in params)
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        cov = np.asarray(cov, dtype=np.float64)
        n = len(params)
        if len(set(params)) != n:
            raise ValueError(f"GaussianLikelihood: repeated parameter names in {params}")
        if mean.shape != (n,):
            raise ValueError(f"GaussianLikelihood: mean has {mean.size} values for {n} params")
        if cov.ndim == 1:
            cov = np.diag(cov)
        if cov.shape != (n, n):
            raise ValueError(f"GaussianLikelihood: cov has shape {cov.shape}, expected ({n}, {n})")
        _, self.whitening, self.log_norm = gaussian_factors(cov, "GaussianLikelihood: ")
        self.params = params
        self.mean = mean

    @property
    def cov(self) -> np.ndarray:
        """The covariance, float64 numpy ``(n, n)``."""
        inv_l = np.asarray(self.whitening)
        return np.linalg.inv(inv_l.T @ inv_l)

    def __call__(self, x: ArrayLike) -> jax.Array:
        """Log-likelihood of ``x``, shape ``(..., n)`` in ``params`` order → shape ``(...)``."""
        x = jnp.asarray(x)
        dtype = jnp.result_type(x.dtype, jnp.float32)
        r = (x - jnp.asarray(self.mean, dtype)) @ jnp.asarray(self.whitening, dtype).T
        return -0.5 * jnp.sum(r * r, axis=-1) + jnp.asarray(self.log_norm, dtype)

    @property
    def products(self) -> dict[str, dict]:
        """None: a Gaussian reads parameters only."""
        return {}

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names read by :meth:`from_values` (the parameters, :attr:`params`)."""
        return self.params

    def from_values(self, values: Mapping[str, ArrayLike]) -> jax.Array:
        """Log-likelihood of a mapping ``name -> value`` (scalars or equal batch shapes)."""
        missing = [p for p in self.params if p not in values]
        if missing:
            raise KeyError(f"GaussianLikelihood needs parameters {missing}, got {sorted(values)}")
        return self(jnp.stack([jnp.asarray(values[p]) for p in self.params], axis=-1))


def _from_config(cfg: Mapping[str, Any], where: str) -> GaussianLikelihood:
    check_keys(cfg, ("params", "mean", "cov"), where)
    params = get(cfg, "params", list, where=where)
    try:
        return GaussianLikelihood(params, np.asarray(get(cfg, "mean", list, where=where), float),
                                  np.asarray(get(cfg, "cov", list, where=where), float))
    except ValueError as err:
        raise ConfigError(where, str(err)) from err


register_likelihood("gaussian", _from_config)
