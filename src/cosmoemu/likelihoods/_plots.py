"""Data against model for tomographic two-point statistics, in the triangle layout of the field.

One panel per pair (i, j), i ≤ j, panel (row j, column i) of an n × n lower triangle, the data
with 1σ error bars (the covariance's diagonal) and one or more model curves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_tomographic"]


def plot_tomographic(
    x: Sequence[float],
    data: np.ndarray,
    sigma: np.ndarray,
    models: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    xlabel: str,
    ylabel: str,
    scale: Sequence[float] | None = None,
    log_x: bool = False,
    title: str | None = None,
) -> Path:
    """Draw every pair's data (error bars) and model curves to ``path`` (PNG).

    Args:
        x: abscissa per point within a pair ``(n_x,)`` (ℓ, COSEBIs mode n, θ …).
        data: ``(n_pairs, n_x)``, pairs i ≤ j row-major.
        sigma: 1σ errors, same shape.
        models: label → ``(n_pairs, n_x)`` curves.
        path: output file.
        xlabel, ylabel: axis labels (``ylabel`` includes any ``scale`` factor).
        scale: factor per point ``(n_x,)`` applied to data, errors and models (e.g. ℓ(ℓ+1)/2π).
        log_x: logarithmic abscissa.
        title: figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(x, np.float64)
    data, sigma = np.asarray(data, np.float64), np.asarray(sigma, np.float64)
    n_pairs = data.shape[0]
    n = int(round((np.sqrt(8 * n_pairs + 1) - 1) / 2))
    if n * (n + 1) // 2 != n_pairs or data.shape != sigma.shape or data.shape[1] != x.size:
        raise ValueError(f"data {data.shape}, sigma {sigma.shape} and x {x.shape} do not form "
                         "(n_pairs, n_x) tomographic arrays")
    factor = np.ones_like(x) if scale is None else np.asarray(scale, np.float64)
    fig, axes = plt.subplots(n, n, figsize=(1.9 * n + 1, 1.6 * n + 1), sharex=True,
                             squeeze=False)
    pair = 0
    for i in range(n):
        for j in range(n):
            if j < i:
                axes[j, i].set_visible(False)
    for i in range(n):
        for j in range(i, n):
            ax = axes[j, i]
            ax.errorbar(x, data[pair] * factor, sigma[pair] * factor, fmt="o", ms=2.5,
                        color="k", elinewidth=0.8, label="data")
            for k, (label, curve) in enumerate(models.items()):
                ax.plot(x, np.asarray(curve)[pair] * factor, color=f"C{k}", lw=1.2,
                        label=label)
            ax.axhline(0.0, color="0.7", lw=0.5)
            ax.text(0.05, 0.85, f"{i + 1}-{j + 1}", transform=ax.transAxes, fontsize=8)
            if log_x:
                ax.set_xscale("log")
            ax.tick_params(labelsize=6)
            if j == n - 1:
                ax.set_xlabel(xlabel, fontsize=8)
            if i == 0:
                ax.set_ylabel(ylabel, fontsize=8)
            pair += 1
    axes[n - 1, 0].legend(fontsize=6, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
