r"""The linear Gaussian model as an SBI test problem, with its analytic evidence.

:math:`x_i = \theta_i + n_i`, :math:`n_i \sim \mathcal{N}(0, 1)`, prior
:math:`\theta_i \sim \mathcal{N}(0, s^2)`, :math:`i = 1..D`:

.. math::

    \ln Z(x) = \ln p(x) = \sum_i \left[-\frac{x_i^2}{2(1 + s^2)}
        - \frac12 \ln\big(2\pi(1 + s^2)\big)\right].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..evidence._problems import linear_gaussian_ln_z

__all__ = ["linear_gaussian_ln_z", "linear_gaussian_prior", "linear_gaussian_simulations"]


def linear_gaussian_prior(dim: int, prior_sigma: float = 1.0, name: str = "theta"
                          ) -> dict[str, Any]:
    """The prior mapping ``{name: {shape: dim, prior: norm(0, prior_sigma)}}`` (columns
    ``name_1 … name_dim``)."""
    return {name: {"shape": int(dim),
                   "prior": {"dist": "norm", "loc": 0.0, "scale": float(prior_sigma)}}}


def linear_gaussian_simulations(n: int, dim: int, prior_sigma: float = 1.0, seed: int = 0
                                ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of θ from the prior and their data: ``theta`` and ``x``, both ``(n, dim)``."""
    rng = np.random.default_rng(seed)
    theta = prior_sigma * rng.standard_normal((n, dim))
    return theta, theta + rng.standard_normal((n, dim))
