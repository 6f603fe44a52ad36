"""Figures a seismologist expects: traces per receiver, and the hypocentre in map view and depth
sections with the receivers.

Both functions return the Matplotlib figure (``matplotlib`` is imported lazily, Agg-safe) and
write it when given a path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["plot_hypocentre", "plot_traces"]

_COMPONENTS = ("East", "North", "Up")


def _finish(fig: Any, title: str | None, path: str | os.PathLike | None) -> Any:
    """Title, layout and (when a path is given) the file."""
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_traces(
    observed: ArrayLike,
    model: ArrayLike,
    times: ArrayLike,
    *,
    sigma: float | None = None,
    receivers: Sequence[int] | None = None,
    labels: tuple[str, str] = ("observed", "emulated"),
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Observed and model traces, and their residual, one row per receiver, one column per
    component.

    Args:
        observed: ``(n_rec, 3, n_t)`` traces, mm (noisy data or a reference simulation).
        model: ``(n_rec, 3, n_t)`` traces, mm (the emulator at a hypocentre).
        times: ``(n_t,)`` seconds.
        sigma: the noise level (mm); drawn as a ±sigma band around the residual.
        receivers: which receivers to draw (default: all).
        labels: legend names of ``observed`` and ``model``.
        title: figure title.
        path: where to save the figure (png/pdf), or None.

    Returns:
        The Matplotlib figure.

    Raises:
        ValueError: shapes that do not match.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    obs, mod, t = np.asarray(observed), np.asarray(model), np.asarray(times)
    if obs.shape != mod.shape or obs.ndim != 3 or obs.shape[1] != 3 or obs.shape[2] != t.size:
        raise ValueError(f"observed and model must both be (n_receivers, 3, n_t={t.size}); got "
                         f"{obs.shape} and {mod.shape}")
    rows = list(range(obs.shape[0])) if receivers is None else list(receivers)
    fig, axes = plt.subplots(len(rows), 3, figsize=(11, 1.25 * len(rows) + 0.8), sharex=True,
                             squeeze=False)
    res = obs - mod
    for i, j in enumerate(rows):
        for c in range(3):
            ax = axes[i, c]
            ax.plot(t, obs[j, c], color="0.55", lw=1.0, label=labels[0])
            ax.plot(t, mod[j, c], color="C0", lw=0.9, label=labels[1])
            ax.plot(t, res[j, c], color="C3", lw=0.8, label="residual")
            if sigma is not None:
                ax.axhspan(-sigma, sigma, color="C3", alpha=0.08, lw=0)
            if c == 0:
                ax.set_ylabel(f"rec {j}\n[mm]", fontsize=8)
            if i == 0:
                ax.set_title(_COMPONENTS[c], fontsize=9)
            ax.tick_params(labelsize=7)
    axes[-1, 1].set_xlabel("time [s]")
    axes[0, 2].legend(fontsize=7, loc="upper right")
    return _finish(fig, title, path)


def plot_hypocentre(
    samples: ArrayLike,
    receivers: ArrayLike,
    *,
    truth: ArrayLike | None = None,
    box: dict[str, tuple[float, float]] | None = None,
    other: ArrayLike | None = None,
    labels: tuple[str, str] = ("posterior", "other"),
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """The hypocentre posterior in map view (with the receivers and the prior box) and in two
    depth sections (East-depth, North-depth, depth down), plus a zoom on the posterior.

    Args:
        samples: ``(n, 3)`` draws of (x East, y North, depth), km.
        receivers: ``(n_rec, 2)`` receiver (East, North), km.
        truth: the true hypocentre ``(3,)``, if known.
        box: ``{"x": (lo, hi), "y": ..., "depth": ...}``, drawn as the prior box.
        other: ``(m, 3)`` draws of a second posterior to overlay (e.g. the exact simulator's or
            the amortised one), or None.
        labels: legend names of ``samples`` and ``other``.
        title: figure title.
        path: where to save the figure, or None.

    Returns:
        The Matplotlib figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    s = np.asarray(samples, np.float64)
    rec = np.asarray(receivers, np.float64)
    if s.ndim != 2 or s.shape[1] != 3:
        raise ValueError(f"samples must be (n, 3) = (x, y, depth) km, got {s.shape}")
    sets = [(s, "C0", labels[0])]
    if other is not None:
        sets.append((np.asarray(other, np.float64), "C1", labels[1]))
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.0))
    ax = axes[0]
    ax.scatter(rec[:, 0], rec[:, 1], marker="v", s=50, color="k", label="receivers")
    for j, (xr, yr) in enumerate(rec):
        ax.annotate(str(j), (xr, yr), textcoords="offset points", xytext=(4, 4), fontsize=7)
    if box is not None:
        (x0, x1), (y0, y1) = box["x"], box["y"]
        ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="0.6", lw=0.8,
                label="prior box")
    for arr, col, lab in sets:
        ax.scatter(arr[:, 0], arr[:, 1], s=2, color=col, alpha=0.3, label=lab)
    if truth is not None:
        ax.scatter(*np.asarray(truth)[:2], marker="*", s=120, color="C3", label="truth")
    ax.set_xlabel("East [km]")
    ax.set_ylabel("North [km]")
    ax.set_aspect("equal")
    ax.set_title("map view", fontsize=9)
    ax.legend(fontsize=6, loc="best", framealpha=0.7, markerscale=0.8)
    pairs = [(0, 1, "East [km]", "North [km]", "map view (zoom)"),
             (0, 2, "East [km]", "depth [km]", "East-depth section"),
             (1, 2, "North [km]", "depth [km]", "North-depth section")]
    for ax, (i, j, xl, yl, name) in zip(axes[1:], pairs, strict=True):
        for arr, col, lab in sets:
            ax.scatter(arr[:, i], arr[:, j], s=2, color=col, alpha=0.3, label=lab)
        if truth is not None:
            tr = np.asarray(truth)
            ax.scatter(tr[i], tr[j], marker="*", s=120, color="C3", label="truth")
        if j == 2:
            ax.invert_yaxis()
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    return _finish(fig, title, path)
