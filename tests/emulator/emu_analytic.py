"""Analytic family of damped oscillations used to test emulators (known truth)."""

from __future__ import annotations

import numpy as np

NAMES = ("A", "gamma", "omega", "phi")
BOX = {"A": (0.5, 2.0), "gamma": (0.2, 1.0), "omega": (1.0, 2.0), "phi": (0.0, 1.0)}
X_GRID = np.linspace(0.0, 3.0, 60)


def damped(theta: np.ndarray) -> np.ndarray:
    """y(x) = A exp(-gamma x) (1 + 0.5 sin(omega x + phi)); theta (..., 4) -> (..., 60)."""
    a, g, w, p = (theta[..., i : i + 1] for i in range(4))
    return a * np.exp(-g * X_GRID) * (1.0 + 0.5 * np.sin(w * X_GRID + p))


def sample_box(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in BOX.values()])
    hi = np.array([b[1] for b in BOX.values()])
    return lo + (hi - lo) * rng.random((n, len(BOX)))
