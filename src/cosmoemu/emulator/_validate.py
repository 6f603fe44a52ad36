"""Accuracy of emulators against held-out spectra: the numbers, the bands and the report.

The metric is the one a survey cares about. For CMB spectra ``tt``, ``te`` and ``ee`` it is
:math:`|C_\\ell^{emu} - C_\\ell^{true}| / \\sigma_\\ell` with the SO-like error model of
:func:`~cosmoemu.emulator.cmb_sigma` (f_sky 0.4, 6 μK-arcmin, 1.4' beam); for ``pp`` and
derived parameters it is the relative error. Per cosmology the figure of merit is the maximum
over modes; the report gives its percentiles over cosmologies and, per mode, the 68/95/99 %
bands.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._emulator import Emulator
from ._error_models import cmb_sigma

__all__ = [
    "PLANCK_2018_MEAN",
    "PLANCK_2018_SIGMA",
    "AccuracyResult",
    "emulator_errors",
    "in_planck_region",
    "validate_emulators",
]

log = logging.getLogger(__name__)

# Planck 2018 TT,TE,EE+lowE+lensing means and 1-sigma (Planck 2018 VI, Table 2)
PLANCK_2018_MEAN = {
    "omega_b": 0.02237,
    "omega_cdm": 0.1200,
    "h": 0.6736,
    "tau_reio": 0.0544,
    "n_s": 0.9649,
    "ln10^{10}A_s": 3.044,
}
PLANCK_2018_SIGMA = {
    "omega_b": 0.00015,
    "omega_cdm": 0.0012,
    "h": 0.0054,
    "tau_reio": 0.0073,
    "n_s": 0.0042,
    "ln10^{10}A_s": 0.014,
}
CMB_METRIC = ("tt", "te", "ee")
PERCENTILES = (50, 68, 95, 99, 100)


def in_planck_region(params: np.ndarray, names: Sequence[str], n_sigma: float = 5.0) -> np.ndarray:
    """``True`` for rows within ``n_sigma`` of the Planck 2018 mean in every parameter."""
    mu = np.array([PLANCK_2018_MEAN[n] for n in names])
    sd = np.array([PLANCK_2018_SIGMA[n] for n in names])
    return np.all(np.abs(np.asarray(params) - mu) <= n_sigma * sd, axis=-1)


@dataclass
class AccuracyResult:
    """Errors of one emulator on one data set.

    Attributes:
        name: emulator name.
        quantity: what it emulates (``tt``, ``pp``, ``derived``...).
        metric: ``"sigma"`` (|Δ|/σ_ℓ) or ``"relative"``.
        modes: mode labels, ``(n_modes,)``.
        errors: ``(n_samples, n_modes)`` in metric units.
        params: ``(n_samples, n_params)``.
    """

    name: str
    quantity: str
    metric: str
    modes: np.ndarray
    errors: np.ndarray
    params: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_per_sample(self) -> np.ndarray:
        return self.errors.max(axis=1)

    def percentiles(self, rows: np.ndarray | None = None) -> dict[str, float]:
        mx = self.max_per_sample if rows is None else self.max_per_sample[rows]
        if mx.size == 0:
            return {}
        return {f"p{p}": float(np.percentile(mx, p)) for p in PERCENTILES}

    def bands(self) -> dict[int, np.ndarray]:
        """Per-mode percentiles over samples: ``{68: (n_modes,), 95: ..., 99: ...}``."""
        return {p: np.percentile(self.errors, p, axis=0) for p in (68, 95, 99)}


def _metric_of(quantity: str) -> str:
    return "sigma" if quantity in CMB_METRIC else "relative"


def emulator_errors(
    emu: Emulator,
    params: np.ndarray,
    truth: np.ndarray,
    quantity: str,
    cls_truth: Mapping[str, np.ndarray] | None = None,
    name: str = "",
) -> AccuracyResult:
    """Errors of ``emu`` on ``params`` against ``truth`` ``(n, n_modes)``.

    Args:
        emu: the emulator.
        params: ``(n, n_params)`` in ``emu.parameters`` order.
        truth: ``(n, n_modes)`` true outputs.
        quantity: ``tt``/``te``/``ee`` (metric |Δ|/σ_ℓ), else the relative error.
        cls_truth: true ``tt``, ``te``, ``ee`` (raw C_ell) for σ_ℓ; ``te`` needs all three.
    """
    pred = emu.predict_numpy(params)
    if _metric_of(quantity) == "sigma":
        cls = dict(cls_truth or {})
        cls.setdefault(quantity, truth)
        sigma = cmb_sigma(quantity, np.asarray(emu.modes, float), cls)
        err = np.abs(pred - truth) / sigma
    else:
        err = np.abs(pred / truth - 1.0)
    return AccuracyResult(
        name or quantity, quantity, _metric_of(quantity), emu.modes, err, np.asarray(params)
    )


def _plot(result: AccuracyResult, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6))
    b = result.bands()
    if result.quantity == "derived" or result.modes.dtype.kind in "US":
        x = np.arange(len(result.modes))
        for p, c in zip((99, 95, 68), ("C3", "C1", "C0"), strict=True):
            ax.bar(x, b[p], color=c, label=f"{p}%")
        ax.set_xticks(x, [str(m) for m in result.modes], rotation=30)
        ax.set_yscale("log")
    else:
        ell = result.modes
        for p, c in zip((99, 95, 68), ("C3", "C1", "C0"), strict=True):
            ax.fill_between(ell, 0, b[p], color=c, alpha=0.85, lw=0, label=f"{p}% of cosmologies")
        ax.set_xscale("log")
        ax.set_xlabel(r"$\ell$")
        ax.set_xlim(ell.min(), ell.max())
        ax.set_ylim(0, None)
    if result.metric == "sigma":
        ax.set_ylabel(r"$|\Delta C_\ell| / \sigma_\ell$")
        for t, ls in ((0.1, "--"), (0.05, ":")):
            ax.axhline(t, color="k", ls=ls, lw=0.8)
    else:
        ax.set_ylabel("relative error")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _timing(emu: Emulator) -> dict[str, float]:
    import jax

    lo, hi = np.array([emu.box[p] for p in emu.parameters]).T
    x1 = ((lo + hi) / 2).astype(np.float32)
    xb = (lo + (hi - lo) * np.random.default_rng(0).random((10_000, len(lo)))).astype(np.float32)
    f = jax.jit(lambda x: emu.predict(x, policy="nan"))
    out = {}
    for label, x in (("batch1_ms", x1), ("batch1e4_per_s", xb)):
        jax.block_until_ready(f(x))
        reps = 200 if x.ndim == 1 else 3
        t0 = time.perf_counter()
        for _ in range(reps):
            r = f(x)
        jax.block_until_ready(r)
        dt = (time.perf_counter() - t0) / reps
        out[label] = dt * 1e3 if x.ndim == 1 else len(x) / dt
    return out


def validate_emulators(
    emulators: Sequence[str | os.PathLike],
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    label: str | None = None,
    planck_sigma: float = 5.0,
    timing: bool = True,
) -> tuple[Path, list[AccuracyResult]]:
    """Accuracy report of emulators against a data store: markdown page + one PNG each.

    Args:
        emulators: names (``lcdm_cmb_tt``) or model paths.
        data: a data store holding the quantities the emulators emulate.
        out_dir: where ``<label>.md`` and ``<label>_<emulator>.png`` go.
        label: report name (default: the store's directory name).
        planck_sigma: also report the subset within this many sigma of Planck 2018.
        timing: measure prediction time (batch 1 and 10^4).

    Returns:
        The markdown path and the per-emulator results.
    """
    from ..data import open_store
    from ._registry import load_emulator

    store = open_store(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = label or Path(data).resolve().name
    params_all = store.params()
    cache: dict[str, np.ndarray] = {}

    def load(q: str) -> np.ndarray:
        if q not in cache:
            cache[q] = store.load(q)
        return cache[q]

    results, lines = [], []
    lines.append(f"# Emulator accuracy on `{label}`\n")
    lines.append(f"Data: `{data}`, {len(store)} cosmologies (never used in training).\n")
    for e in emulators:
        emu = load_emulator(e)
        name = Path(str(e)).name
        tokens = [t for t in reversed(name.split("_")) if t in store.quantities]
        quantity = emu.metadata.get("quantity") or (tokens[0] if tokens else "?")
        if quantity not in store.quantities:
            raise ValueError(
                f"emulator '{e}' emulates '{quantity}', which '{data}' does not "
                f"hold (it has {', '.join(store.quantities)})"
            )
        cols = [store.param_names.index(p) for p in emu.parameters]
        x = params_all[:, cols]
        inside = np.asarray(emu.in_box(x))
        if not inside.any():
            log.warning("no cosmology of '%s' lies inside %s's box or region; %s skipped",
                        data, name, name)
            continue
        if not inside.all():
            log.warning(
                "%d of %d cosmologies lie outside %s's box; skipped",
                (~inside).sum(),
                len(inside),
                name,
            )
        truth = load(quantity)
        if quantity == "derived":
            names = [str(m) for m in store.modes("derived")]
            truth = truth[:, [names.index(str(m)) for m in emu.modes]]
        cls = {q: load(q)[inside] for q in CMB_METRIC if q in store.quantities}
        res = emulator_errors(emu, x[inside], truth[inside], quantity, cls, name)
        results.append(res)
        planck = (
            in_planck_region(x[inside], emu.parameters, planck_sigma)
            if all(p in PLANCK_2018_MEAN for p in emu.parameters)
            else np.zeros(len(res.params), bool)
        )
        png = out / f"{label}_{name}.png"
        _plot(res, png, f"{name} on {label} ({len(res.params)} cosmologies)")
        unit = "σ_ℓ" if res.metric == "sigma" else "relative"
        lines.append(f"## {name} ({quantity}, error in {unit})\n")
        lines.append(f"![{name}]({png.name})\n")
        lines.append("| cosmologies | n | median | 68 % | 95 % | 99 % | max |")
        lines.append("|---|---|---|---|---|---|---|")
        for what, rows in (("all", None), (f"within {planck_sigma:g}σ of Planck 2018", planck)):
            pc = res.percentiles(rows)
            if pc:
                n = len(res.params) if rows is None else int(rows.sum())
                vals = " | ".join(f"{pc[k]:.3g}" for k in ("p50", "p68", "p95", "p99", "p100"))
                lines.append(f"| {what} | {n} | {vals} |")
        lines.append(
            "\n(per cosmology: the maximum error over all modes; percentiles over cosmologies)\n"
        )
        if quantity == "derived":
            p99 = np.percentile(res.errors, 99, axis=0)
            lines.append("| output | 99 % relative error |\n|---|---|")
            lines += [f"| {m} | {v:.2e} |" for m, v in zip(res.modes, p99, strict=True)]
            lines.append("")
        if timing:
            t = _timing(emu)
            res.extra["timing"] = t
            lines.append(
                f"Timing (this machine, after jit): {t['batch1_ms']:.3f} ms per "
                f"prediction at batch 1; {t['batch1e4_per_s']:.3g} predictions/s at "
                "batch 10^4.\n"
            )
    md = out / f"{label}.md"
    md.write_text("\n".join(lines) + "\n")
    return md, results
