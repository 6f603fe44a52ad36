"""The mode of a log-density and the Laplace metric there: saddle-free Newton with backtracking.

Hessians are central differences of gradients; every evaluation is one call of one compiled,
batched value-and-gradient function (the NUTS driver reuses it for the chains' starting points).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["batch_size", "evaluate", "find_mode"]

logger = logging.getLogger(__name__)


@eqx.filter_jit
def _values_and_grads(logdensity, points):
    return jax.vmap(jax.value_and_grad(logdensity))(points)


def batch_size(d: int, num_chains: int) -> int:
    """One batch shape for every value-and-gradient call (mode search and chain starts)."""
    return max(2 * d + 1, num_chains)


def evaluate(logdensity, points: np.ndarray, batch: int, dtype):
    """Values ``(m,)`` and gradients ``(m, d)`` at ``points`` ``(m, d)``, m <= batch.

    The points are padded to ``batch`` rows, so every call with the same ``batch`` runs one
    compiled function.
    """
    m = len(points)
    padded = np.concatenate([points, np.repeat(points[:1], batch - m, axis=0)])
    values, grads = _values_and_grads(logdensity, jnp.asarray(padded, dtype))
    return values[:m], grads[:m]


def _local_fit(logdensity, u: np.ndarray, h: np.ndarray, dtype, batch: int):
    """Value, gradient and central-difference Hessian (steps ``h``) at ``u``, float64 numpy.

    The 2d + 1 gradients are one batched call of one compiled function: cheaper to compile than
    forward-over-reverse autodiff, and in float32 as accurate (≈1e-4 relative at h ≈ σ/10).
    """
    d = len(u)
    points = np.concatenate([u[None], u + np.diag(h), u - np.diag(h)])
    values, grads = (np.asarray(a, np.float64)
                     for a in evaluate(logdensity, points, batch, dtype))
    hess = (grads[1 : d + 1] - grads[d + 1 :]).T / (2.0 * h)
    return values[0], grads[0], 0.5 * (hess + hess.T)


def _newton_step(grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Saddle-free Newton step for maximising: (step, inverse of |−H|, Newton decrement²)."""
    lam, vec = np.linalg.eigh(-hess)
    if not np.all(np.isfinite(lam)):
        raise FloatingPointError("the Hessian of the log-density is not finite")
    floor = 1e-10 * max(np.max(np.abs(lam)), 1e-300)
    lam = np.maximum(np.abs(lam), floor)
    inv = (vec / lam) @ vec.T
    step = inv @ grad
    return step, inv, float(grad @ step)


def find_mode(
    logdensity: Callable[[jax.Array], jax.Array],
    u0: jax.Array,
    max_steps: int = 100,
    tol: float = 1e-3,
    scale: np.ndarray | None = None,
    batch: int | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximise ``logdensity`` from ``u0`` ``(d,)`` by saddle-free Newton with backtracking.

    Each iteration takes the Newton step with the Hessian's eigenvalues replaced by their
    absolute values (always an ascent direction), halving it until the log-density increases.
    It stops when the Newton decrement gᵀ|H|⁻¹g (twice the expected gain in log-density)
    falls below ``tol``. Hessians are central differences of gradients with steps of a tenth of
    the current Laplace width (``scale``/100 at the start); one compiled, batched
    value-and-gradient function serves every evaluation.

    Args:
        logdensity: log-density of ``u`` ``(d,)``.
        u0: starting point ``(d,)``.
        max_steps: most Newton iterations.
        tol: Newton-decrement tolerance.
        scale: rough scale of each coordinate for the first difference steps (default 1).
        batch: batch size of the compiled value-and-gradient function (default 2d + 1).

    Returns:
        (mode ``(d,)``, inverse of −Hessian there ``(d, d)``, iterations), float64 numpy.
        At a non-maximum the inverse uses absolute eigenvalues (always positive definite).

    Raises:
        FloatingPointError: the log-density is not finite at ``u0``.
    """
    dtype = jnp.asarray(u0).dtype
    u = np.asarray(u0, np.float64)
    batch = batch or 2 * len(u) + 1
    h = 0.01 * (np.ones_like(u) if scale is None else np.asarray(scale, np.float64))
    value, grad, hess = _local_fit(logdensity, u, h, dtype, batch)
    if not np.isfinite(value):
        raise FloatingPointError(f"log-density is not finite at the starting point {u}")
    k = 0
    for k in range(1, max_steps + 1):  # noqa: B007 - k is reported
        step, inv, decrement = _newton_step(grad, hess)
        h = 0.1 * np.sqrt(np.diag(inv))
        if decrement < tol:
            break
        # a Newton step longer than 10 Laplace widths is cut back first
        t = min(1.0, 10.0 / math.sqrt(decrement))
        for _ in range(30):
            trial = _local_fit(logdensity, u + t * step, h, dtype, batch)
            if np.isfinite(trial[0]) and trial[0] >= value - 1e-6 * abs(value):
                break
            t *= 0.5
        else:
            logger.warning("mode search: no ascent along the Newton direction at %s", u)
            break
        u = u + t * step
        value, grad, hess = trial
    # the metric from differences at a tenth of the final widths
    value, grad, hess = _local_fit(logdensity, u, 0.1 * np.sqrt(np.diag(inv)), dtype, batch)
    _, inv, decrement = _newton_step(grad, hess)
    lam = np.linalg.eigvalsh(-hess)
    if lam.min() <= 0:
        logger.warning("the Hessian at the mode is not negative definite (eigenvalues of -H: "
                       "%s); its absolute values make the metric", lam)
    if decrement >= tol:
        logger.warning("mode search stopped after %d steps with Newton decrement %.3g", k,
                       decrement)
    return u, inv, k
