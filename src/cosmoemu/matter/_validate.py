"""Accuracy of a :class:`MatterPower` against held-out P(k, z): the metrics, bands and report.

The truth is a store written by ``cosmoemu generate`` with ``pk_lin`` (and ``pk_nonlin``,
``derived`` with ``sigma8``) on a (z, k) grid. For every cosmology of the store the linear and
the non-linear spectra are predicted on the store's own grid, and the relative error
``|P_emu / P_CAMB - 1|`` is taken at every (z, k). The metric of one cosmology is the maximum of
that error over ``k_range[0] <= k <= k_range[1]`` (k in 1/Mpc) and ``z <= z_max``; the report
gives its 50/68/95/99th percentiles and maximum over cosmologies, for the linear and the
non-linear spectrum separately, and the same for ``|σ8_emu / σ8_CAMB - 1|``. The targets
(:data:`TARGETS`) apply to the 99th percentile.

Also per redshift: at each (z, k) the 68/95/99th percentiles over cosmologies of the error (the
"bands"), over the whole grid the emulators cover, plotted against k with ``k_range`` shaded.

What is compared is stated in the report, never assumed:

- cosmologies outside the emulators' box are not compared and are counted (linear: the transfer
  emulator's box; non-linear: the boost's too; σ8 as linear);
- those the models trained on (recorded in their provenance, as for ``validate_emulators``) are
  left out and counted;
- store grid points outside the emulators' (z, k) range are not compared (a note says how many);
- a prediction that is not finite inside the box is counted and left out of the percentiles.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..emulator._validate import training_rows
from ._model import PARAM_ALIASES, MatterPower, load_matter_power

__all__ = [
    "K_RANGE",
    "PERCENTILES",
    "TARGETS",
    "TARGET_PERCENTILE",
    "Z_MAX",
    "PkErrors",
    "PkValidation",
    "metric_mask",
    "parse_pk_model",
    "relative_errors",
    "validate_matter_power",
]

log = logging.getLogger(__name__)

K_RANGE = (1e-3, 5.0)
"""Default wavenumbers of the metric [1/Mpc], ``(k_min, k_max)``, edges included."""

Z_MAX = 3.0
"""Default largest redshift of the metric (included)."""

PERCENTILES = (50, 68, 95, 99)
"""Percentiles over cosmologies in the report (and the maximum)."""

BANDS = (68, 95, 99)
"""Percentiles over cosmologies at each (z, k)."""

TARGETS: dict[str, dict[str, float]] = {
    "lcdm": {"linear": 1e-3, "nonlinear": 2e-3, "sigma8": 5e-4},
    "w0wacdm": {"linear": 2e-3, "nonlinear": 3e-3},
}
"""Relative-error targets of the shipped models (issue 11), on the 99th percentile over
cosmologies of the per-cosmology maximum: model name -> {"linear", "nonlinear", "sigma8"}."""

TARGET_PERCENTILE = 99
"""The percentile over cosmologies that the targets apply to."""

PLOT_Z = (0.0, 0.5, 1.0, 2.0, 3.0)
"""Redshifts of the plot panels (the nearest store redshift of each)."""

_QUANTITY = {"linear": "pk_lin", "nonlinear": "pk_nonlin"}
_TITLE = {"linear": "linear P(k)", "nonlinear": "non-linear P(k)", "sigma8": "σ8"}
_BATCH = 256


@dataclass
class PkErrors:
    """Relative errors of one spectrum (linear or non-linear) on the compared cosmologies.

    Attributes:
        spectrum: ``"linear"`` or ``"nonlinear"`` (or another label, e.g. ``"boost"``, for
            errors made with :func:`relative_errors`).
        quantity: the store's product, ``"pk_lin"`` or ``"pk_nonlin"`` (or e.g.
            ``"pk_nonlin/pk_lin"``).
        z: redshifts compared, shape ``(n_z,)``.
        k: wavenumbers compared [1/Mpc], shape ``(n_k,)``.
        errors: ``|P_emu / P_true - 1|``, shape ``(n, n_z, n_k)``, one row per compared cosmology.
        rows: store sample index of each row, shape ``(n,)``.
        in_metric: ``(n_z, n_k)``, true where k is in ``k_range`` and z <= ``z_max``.
        n_outside_box: cosmologies outside the emulators' box (not compared).
        n_used_in_training: cosmologies the models trained on (not compared).
        n_nonfinite: cosmologies inside the box with a non-finite prediction (not compared).
    """

    spectrum: str
    quantity: str
    z: np.ndarray
    k: np.ndarray
    errors: np.ndarray
    rows: np.ndarray
    in_metric: np.ndarray
    n_outside_box: int = 0
    n_used_in_training: int = 0
    n_nonfinite: int = 0

    @property
    def per_cosmology(self) -> np.ndarray:
        """The metric of each cosmology: max error over the metric's (z, k), shape ``(n,)``."""
        return self.errors[:, self.in_metric].max(axis=1) if len(self.errors) else np.empty(0)

    def percentiles(self) -> dict[str, float]:
        """``{"p50", "p68", "p95", "p99", "max"}`` of :attr:`per_cosmology` (empty if none)."""
        return _percentiles(self.per_cosmology)

    def bands(self) -> dict[int, np.ndarray]:
        """``{68: (n_z, n_k), 95: ..., 99: ...}``: percentiles over cosmologies at each (z, k)."""
        if not len(self.errors):
            return {p: np.full(self.errors.shape[1:], np.nan) for p in BANDS}
        return {p: np.percentile(self.errors, p, axis=0) for p in BANDS}


@dataclass
class PkValidation:
    """What :func:`validate_matter_power` measured and wrote.

    Attributes:
        model: the model's name.
        linear: linear P(k) errors.
        nonlinear: non-linear P(k) errors, or None (no ``pk_nonlin`` in the store, or no boost).
        sigma8: ``|σ8_emu / σ8_true - 1|`` per compared cosmology ``(n,)``, or None (no σ8 in
            the store).
        summary: the JSON written (every figure of the report).
        report: the markdown path; ``json``: the JSON path; ``plots``: the PNG paths;
            ``bands``: the ``.npz`` of the bands (``z``, ``k`` and ``<spectrum>_p<P>`` arrays).
    """

    model: str
    linear: PkErrors
    nonlinear: PkErrors | None
    sigma8: np.ndarray | None
    summary: dict[str, Any]
    report: Path
    json: Path
    plots: list[Path] = field(default_factory=list)
    bands: Path | None = None


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    out = {f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES}
    out["max"] = float(values.max())
    return out


def parse_pk_model(spec: str) -> MatterPower:
    """A :class:`MatterPower` from a command-line spec.

    Args:
        spec: ``NAME`` (shipped: ``lcdm`` or ``w0wacdm``), or ``NAME=TRANSFER,BOOST`` (two
            emulators by shipped name or model path; the report names the model ``NAME`` and
            uses ``NAME``'s targets if it has some), or ``NAME=TRANSFER`` (linear only). A
            leading ``pk:`` is dropped.

    Raises:
        ValueError: an unknown model name, or an emulator that is neither shipped nor a file.
    """
    from ..emulator import load_emulator

    spec = spec.removeprefix("pk:")
    if "=" not in spec:
        return load_matter_power(spec)
    name, files = spec.split("=", 1)
    parts = [f for f in files.split(",") if f]
    if not name or not 1 <= len(parts) <= 2:
        raise ValueError(f"expected pk:NAME=TRANSFER,BOOST (or pk:NAME=TRANSFER for linear "
                         f"only); got 'pk:{spec}'")
    emus = [load_emulator(p) for p in parts]
    return MatterPower(emus[0], emus[1] if len(emus) == 2 else None, name=name)


def _store_values(mp: MatterPower, names: Sequence[str], params: np.ndarray,
                  nonlinear: bool, data: Any) -> dict[str, np.ndarray]:
    """Store columns by name, checked to give every input the spectrum needs."""
    values = {n: params[:, i] for i, n in enumerate(names)}
    missing = []
    for need in mp.parameters(nonlinear):
        if need not in values and not any(t == need and a in values
                                          for a, (t, _) in PARAM_ALIASES.items()):
            missing.append(need)
    if missing:
        raise ValueError(
            f"the {mp.name} {'non-linear' if nonlinear else 'linear'} P(k) takes "
            f"{', '.join(missing)}, which '{data}' does not vary (it has {', '.join(names)})")
    return values


def _inside(mp: MatterPower, values: Mapping[str, np.ndarray], nonlinear: bool) -> np.ndarray:
    """Rows inside the transfer emulator's box (and the boost's, for ``nonlinear``)."""
    vals = mp._values(values, nonlinear)
    emus = [mp.transfer, mp.boost] if nonlinear else [mp.transfer]
    inside = np.ones(len(next(iter(values.values()))), bool)
    for emu in emus:
        inside &= np.asarray(emu.in_box({n: vals[n] for n in emu.parameters}))  # type: ignore[union-attr]
    return inside


def _predict(mp: MatterPower, values: Mapping[str, np.ndarray], k: np.ndarray, z: np.ndarray,
             nonlinear: bool) -> np.ndarray:
    """P(k, z) [Mpc³] ``(n, n_z, n_k)`` float64, NaN for rows outside the box."""
    n = len(next(iter(values.values())))
    out = np.empty((n, z.size, k.size))
    for lo in range(0, n, _BATCH):
        batch = {name: v[lo:lo + _BATCH] for name, v in values.items()}
        out[lo:lo + _BATCH] = np.asarray(mp(batch, k, z, nonlinear=nonlinear, policy="nan"))
    return out


def _grid(mp: MatterPower, z: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                     list[str]]:
    """Indices of the store's z and k inside the emulators' range, and a note for the rest."""
    zi = np.flatnonzero((z >= -1e-9) & (z <= mp.z_grid[-1] * (1 + 1e-9) + 1e-12))
    ki = np.flatnonzero((k >= mp.k_grid[0] * (1 - 1e-9)) & (k <= mp.k_grid[-1] * (1 + 1e-9)))
    if not zi.size or not ki.size:
        raise ValueError(
            f"the store's grid (z {z.min():g}..{z.max():g}, k {k.min():g}..{k.max():g} /Mpc) "
            f"has no point in the {mp.name} emulators' range (z 0..{mp.z_grid[-1]:g}, k "
            f"{mp.k_grid[0]:g}..{mp.k_grid[-1]:g} /Mpc)")
    notes = []
    if zi.size < z.size:
        notes.append(f"{z.size - zi.size} of the store's {z.size} redshifts lie beyond the "
                     f"emulators' z <= {mp.z_grid[-1]:g} and are not compared")
    if ki.size < k.size:
        notes.append(f"{k.size - ki.size} of the store's {k.size} wavenumbers lie outside the "
                     f"emulators' {mp.k_grid[0]:g}..{mp.k_grid[-1]:g} /Mpc and are not compared")
    return zi, ki, notes


def metric_mask(z: np.ndarray, k: np.ndarray, k_range: tuple[float, float] = K_RANGE,
                z_max: float = Z_MAX) -> np.ndarray:
    """Where the metric looks on a (z, k) grid: ``(n_z, n_k)``, true where
    ``k_range[0] <= k <= k_range[1]`` [1/Mpc] and ``z <= z_max`` (edges included).

    Raises:
        ValueError: a bad ``k_range``, or no grid point in the metric's range.
    """
    k_lo, k_hi = (float(v) for v in k_range)
    if not 0 < k_lo < k_hi:
        raise ValueError(f"k_range must be (k_min, k_max) with 0 < k_min < k_max; got {k_range}")
    z, k = np.asarray(z, np.float64), np.asarray(k, np.float64)
    in_k = (k >= k_lo * (1 - 1e-9)) & (k <= k_hi * (1 + 1e-9))
    in_z = z <= z_max + 1e-9
    if not in_k.any() or not in_z.any():
        raise ValueError(
            f"no store point in the metric's k {k_lo:g}..{k_hi:g} /Mpc and z <= {z_max:g} "
            f"(compared: k {k.min():g}..{k.max():g} /Mpc, z {z.min():g}..{z.max():g})")
    return in_z[:, None] & in_k[None, :]


def relative_errors(spectrum: str, pred: np.ndarray, truth: np.ndarray, z: np.ndarray,
                    k: np.ndarray, in_metric: np.ndarray, *, inside: np.ndarray | None = None,
                    used: np.ndarray | None = None, quantity: str | None = None) -> PkErrors:
    """``|pred / truth - 1|`` per cosmology and (z, k), with the bookkeeping of the report.

    Args:
        spectrum: label of the errors (``"linear"``, ``"nonlinear"``, ``"boost"``...).
        pred, truth: ``(n, n_z, n_k)`` on the grid ``z``, ``k`` (NaN where not predicted).
        z, k: the grid [1/Mpc for k].
        in_metric: ``(n_z, n_k)`` from :func:`metric_mask`.
        inside: ``(n,)`` rows inside the emulators' box (default: all); the others are counted
            and not compared.
        used: ``(n,)`` rows the models trained on (default: none); counted, not compared.
        quantity: what ``truth`` is (default: the store product of ``spectrum``, ``pk_lin`` or
            ``pk_nonlin``; else the label).

    Returns:
        :class:`PkErrors` of the compared rows (inside, not used, finite prediction).
    """
    n = len(pred)
    inside = np.ones(n, bool) if inside is None else np.asarray(inside, bool)
    used = np.zeros(n, bool) if used is None else np.asarray(used, bool)
    err = np.abs(pred / truth - 1.0)
    finite = np.isfinite(err.reshape(len(err), -1)).all(axis=1)
    keep = inside & ~used & finite
    quantity = quantity or _QUANTITY.get(spectrum, spectrum)
    return PkErrors(
        spectrum, quantity, z, k, err[keep], np.flatnonzero(keep), in_metric,
        n_outside_box=int((~inside).sum()), n_used_in_training=int((inside & used).sum()),
        n_nonfinite=int((inside & ~used & ~finite).sum()))


def _timing(mp: MatterPower, values: Mapping[str, np.ndarray], k: np.ndarray, z: np.ndarray,
            nonlinear: bool) -> dict[str, float]:
    """Milliseconds per call at batch 1 and spectra per second at batch 1000, on (z, k)."""
    import jax

    row = {n: np.float32(v[0]) for n, v in values.items()}
    many = {n: np.full(1000, v[0], np.float32) for n, v in values.items()}
    f = jax.jit(lambda p: mp(p, k, z, nonlinear=nonlinear, policy="nan"))
    out = {}
    for label, p, reps in (("batch1_ms", row, 50), ("batch1000_per_s", many, 3)):
        jax.block_until_ready(f(p))
        t0 = time.perf_counter()
        for _ in range(reps):
            r = f(p)
        jax.block_until_ready(r)
        dt = (time.perf_counter() - t0) / reps
        out[label] = dt * 1e3 if label == "batch1_ms" else 1000 / dt
    return out


def _plot(errs: PkErrors, path: Path, title: str, k_range: tuple[float, float], z_max: float,
          target: float | None) -> None:
    """Bands vs k, one panel per redshift of :data:`PLOT_Z` (the nearest store z)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = errs.bands()
    shown = sorted({int(np.argmin(np.abs(errs.z - zz))) for zz in PLOT_Z
                    if errs.z.min() - 0.25 <= zz <= errs.z.max() + 0.25})
    ncol = min(3, len(shown))
    nrow = -(-len(shown) // ncol)
    fig, axs = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.4 * nrow), squeeze=False,
                            sharey=True)
    positive = np.concatenate([b[np.isfinite(b) & (b > 0)] for b in bands.values()])
    floor = max(positive.min() if positive.size else 1e-6, 1e-6) * 100 / 3
    top = (positive.max() if positive.size else 1e-3) * 100 * 2
    if target is not None:
        top = max(top, target * 100 * 2)
    for ax, i in zip(axs.flat, shown, strict=False):
        for p, c in zip((99, 95, 68), ("C3", "C1", "C0"), strict=True):
            ax.fill_between(errs.k, floor, np.maximum(bands[p][i] * 100, floor), color=c,
                            alpha=0.85, lw=0, label=f"{p}% of cosmologies")
        ax.axvspan(*k_range, color="0.92", zorder=0, label="k range of the metric")
        if target is not None:
            ax.axhline(target * 100, color="k", ls="--", lw=0.8,
                       label=f"target {target * 100:g} %")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(errs.k.min(), errs.k.max())
        ax.set_ylim(floor, top)
        ax.set_xlabel("k [1/Mpc]")
        zz = errs.z[i]
        ax.set_title(f"z = {zz:g}" + (f" (beyond z_max = {z_max:g})" if zz > z_max + 1e-9
                                      else ""), fontsize=9)
    for ax in axs[:, 0]:
        ax.set_ylabel(r"$|\Delta P / P|$ [%]")
    for ax in list(axs.flat)[len(shown):]:
        ax.set_visible(False)
    axs.flat[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    # fixed margins: tight_layout measures every log-axis tick label (seconds per figure)
    fig.subplots_adjust(left=0.22 / ncol, right=0.98, bottom=0.45 / (3.4 * nrow),
                        top=1 - 0.5 / (3.4 * nrow), wspace=0.15, hspace=0.35)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _n(count: int) -> str:
    return f"{count} cosmolog{'y' if count == 1 else 'ies'}"


def _pct(v: float) -> str:
    return f"{v * 100:.3g} %"


def validate_matter_power(
    model: str | MatterPower,
    data: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    label: str | None = None,
    k_range: tuple[float, float] = K_RANGE,
    z_max: float = Z_MAX,
    timing: bool = True,
    targets: Mapping[str, float] | None = None,
) -> PkValidation:
    """Accuracy report of P(k, z) emulators against a held-out store: markdown, JSON, plots.

    Predicts the linear and non-linear P(k, z) of every store cosmology on the store's (z, k)
    grid and compares with its ``pk_lin`` and ``pk_nonlin`` (and σ8 with ``derived``'s
    ``sigma8``). Metric per cosmology: the maximum of ``|P_emu / P_true - 1|`` over
    ``k_range[0] <= k <= k_range[1]`` and ``z <= z_max``; its 50/68/95/99th percentiles and
    maximum over cosmologies are reported, and checked against the targets at the 99th.
    Command line: ``cosmoemu validate pk:lcdm DATA`` (or ``pk:NAME=TRANSFER,BOOST``).

    Args:
        model: ``"lcdm"``, ``"w0wacdm"`` (the shipped emulators) or a :class:`MatterPower`.
        data: a store from ``cosmoemu generate`` with ``pk_lin`` (``pk_nonlin`` and
            ``derived`` with ``sigma8`` are compared when present); shape per sample
            ``(n_z, n_k)``, P in Mpc³, k in 1/Mpc.
        out_dir: where ``<label>.md``, ``<label>.json``, ``<label>_pk_lin.png``,
            ``<label>_pk_nonlin.png`` and ``<label>_pk_bands.npz`` go.
        label: report name (default: the store's directory name).
        k_range: ``(k_min, k_max)`` [1/Mpc] of the metric (edges included).
        z_max: largest redshift of the metric (included).
        timing: measure the prediction time on the store's grid (batch 1 and 1000).
        targets: relative-error targets ``{"linear", "nonlinear", "sigma8"}`` on the 99th
            percentile (any subset); default :data:`TARGETS` of the model's name, else none.

    Returns:
        A :class:`PkValidation` with the errors and the paths written.

    Raises:
        ValueError: an unknown model name; a store without ``pk_lin``, without a parameter
            the model takes, or whose grid misses the emulators' range or ``k_range``;
            a bad ``k_range``.
    """
    from ..data import open_store

    mp = load_matter_power(model)
    k_lo, k_hi = (float(v) for v in k_range)
    if not 0 < k_lo < k_hi:
        raise ValueError(f"k_range must be (k_min, k_max) with 0 < k_min < k_max; got {k_range}")
    store = open_store(data)
    if "pk_lin" not in store.quantities:
        raise ValueError(
            f"'{data}' holds no pk_lin (it has {', '.join(store.quantities) or 'nothing'}): "
            "validate P(k) emulators on a store generated with quantities [pk_lin, pk_nonlin, "
            "derived] (e.g. examples/generate_pk_lcdm_test.yaml)")
    targets = dict(TARGETS.get(mp.name, {}) if targets is None else targets)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    label = label or Path(data).resolve().name
    names, params = store.param_names, store.params()
    n = len(params)

    (_, z_all, _), (_, k_all, _) = store.axes("pk_lin")
    z_all, k_all = np.asarray(z_all, np.float64), np.asarray(k_all, np.float64)
    zi, ki, notes = _grid(mp, z_all, k_all)
    z, k = z_all[zi], k_all[ki]
    in_metric = metric_mask(z, k, (k_lo, k_hi), z_max)
    in_z, in_k = in_metric.any(axis=1), in_metric.any(axis=0)

    # cosmologies the models trained on, from their provenance
    used_lin, note_t = training_rows(mp.transfer, store)
    used_lin = np.zeros(n, bool) if used_lin is None else used_lin
    prov_notes = [f"transfer emulator: {note_t}"]
    do_nl = mp.boost is not None and "pk_nonlin" in store.quantities
    used_nl = used_lin
    if mp.boost is not None:
        used_b, note_b = training_rows(mp.boost, store)
        prov_notes.append(f"boost emulator: {note_b}")
        used_nl = used_lin | (np.zeros(n, bool) if used_b is None else used_b)
    if mp.boost is None:
        notes.append(f"the {mp.name} model has no boost emulator: non-linear P(k) not checked")
    elif "pk_nonlin" not in store.quantities:
        notes.append("the store holds no pk_nonlin: non-linear P(k) not checked")
    if store.manifest is not None and do_nl:
        notes.append(f"the store's non-linear model: "
                     f"{store.manifest['request'].get('nonlinear', 'unrecorded')}")
    if store.missing_chunks:
        notes.append(f"the store is incomplete: {len(store.missing_chunks)} chunk(s) missing; "
                     "only the samples present are used")

    idx = (slice(None), zi[:, None], ki[None, :])
    values = _store_values(mp, names, params, False, data)
    inside_lin = _inside(mp, values, False)
    pred = _predict(mp, values, k, z, nonlinear=False)
    linear = relative_errors("linear", pred, store.load("pk_lin")[idx], z, k, in_metric,
                             inside=inside_lin, used=used_lin)
    nonlinear = None
    if do_nl:
        values = _store_values(mp, names, params, True, data)
        inside_nl = _inside(mp, values, True)
        pred = _predict(mp, values, k, z, nonlinear=True)
        nonlinear = relative_errors("nonlinear", pred, store.load("pk_nonlin")[idx], z, k,
                                    in_metric, inside=inside_nl, used=used_nl)
    del pred

    s8_err, s8_counts = None, {}
    derived = store.modes("derived").tolist() if "derived" in store.quantities else []
    if "sigma8" in derived:
        truth = store.load("derived")[:, derived.index("sigma8")]
        values = _store_values(mp, names, params, False, data)
        emu = np.asarray(mp.sigma8(values, policy="nan"), np.float64)
        err = np.abs(emu / truth - 1.0)
        keep = inside_lin & ~used_lin & np.isfinite(err)
        s8_err = err[keep]
        s8_counts = {"n_outside_box": int((~inside_lin).sum()),
                     "n_used_in_training": int((inside_lin & used_lin).sum()),
                     "n_nonfinite": int((inside_lin & ~used_lin & ~np.isfinite(err)).sum())}
    else:
        notes.append("the store's derived parameters hold no sigma8: σ8 not checked")

    # ---- figures
    def worst(rows: np.ndarray, metric: np.ndarray) -> dict[str, Any] | None:
        if not metric.size:
            return None
        row = int(rows[np.argmax(metric)])
        return {"row": row, "params": dict(zip(names, params[row].tolist(), strict=True))}

    def block(errs: PkErrors | None, what: str) -> dict[str, Any] | None:
        if errs is None:
            return None
        pc = errs.percentiles()
        bands = errs.bands()
        target = targets.get(what)
        return {
            "quantity": errs.quantity, "n": len(errs.rows), "n_outside_box": errs.n_outside_box,
            "n_used_in_training": errs.n_used_in_training, "n_nonfinite": errs.n_nonfinite,
            "percentiles": pc, "target": target,
            "pass": None if target is None or not pc else bool(pc["p99"] < target),
            "worst": worst(errs.rows, errs.per_cosmology),
            "per_z": [{"z": float(zz), "in_metric": bool(in_z[i]),
                       **{f"p{p}": (float(np.nanmax(bands[p][i][in_k])) if len(errs.rows)
                                    else None) for p in BANDS}}
                      for i, zz in enumerate(z)],
        }

    s8_block = None
    if s8_err is not None:
        pc = _percentiles(s8_err)
        target = targets.get("sigma8")
        s8_block = {"n": int(s8_err.size), **s8_counts, "percentiles": pc, "target": target,
                    "pass": None if target is None or not pc else bool(pc["p99"] < target),
                    "worst": worst(np.flatnonzero(keep), s8_err)}
    summary: dict[str, Any] = {
        "model": mp.name, "data": str(data), "label": label, "n_samples": n,
        "metric": "per cosmology: max over k_range and z <= z_max of |P_emu / P_true - 1|; "
                  "percentiles over cosmologies",
        "k_range": [k_lo, k_hi], "z_max": float(z_max), "target_percentile": TARGET_PERCENTILE,
        "z": z.tolist(), "k": {"min": float(k.min()), "max": float(k.max()), "n": int(k.size)},
        "linear": block(linear, "linear"), "nonlinear": block(nonlinear, "nonlinear"),
        "sigma8": s8_block, "provenance": prov_notes, "notes": notes,
    }
    for spec, errs in (("linear", linear), ("nonlinear", nonlinear)):
        if errs is not None and not len(errs.rows):
            log.warning("%s: no cosmology compared for the %s P(k) (%d outside the box, %d "
                        "used in training)", mp.name, spec, errs.n_outside_box,
                        errs.n_used_in_training)
    if timing:
        t = {"linear": _timing(mp, values, k, z, False)}
        if nonlinear is not None:
            t["nonlinear"] = _timing(mp, _store_values(mp, names, params, True, data), k, z, True)
        summary["timing"] = t

    # ---- files
    plots = []
    for errs in (linear, nonlinear):
        if errs is None or not len(errs.rows):
            continue
        png = out / f"{label}_{errs.quantity}.png"
        _plot(errs, png, f"{_TITLE[errs.spectrum]} of {mp.name} on {label} "
              f"({len(errs.rows)} cosmologies)", (k_lo, k_hi), z_max, targets.get(errs.spectrum))
        plots.append(png)
    bands_path = out / f"{label}_pk_bands.npz"
    arrays = {"z": z, "k": k}
    for errs in (linear, nonlinear):
        if errs is not None:
            arrays.update({f"{errs.spectrum}_p{p}": b for p, b in errs.bands().items()})
    np.savez(bands_path, **arrays)
    summary["files"] = {"report": f"{label}.md", "plots": [p.name for p in plots],
                        "bands": bands_path.name}
    json_path = out / f"{label}.json"
    json_path.write_text(json.dumps(summary, indent=1) + "\n")
    md = out / f"{label}.md"
    md.write_text(_markdown(summary, plots))
    return PkValidation(mp.name, linear, nonlinear, s8_err, summary, md, json_path, plots,
                        bands_path)


def _markdown(s: Mapping[str, Any], plots: Sequence[Path]) -> str:
    k_lo, k_hi = s["k_range"]
    lines = [f"# P(k, z) accuracy of `{s['model']}` on `{s['label']}`\n",
             f"Data: `{s['data']}`, {s['n_samples']} cosmologies; compared on the store's grid "
             f"({len(s['z'])} z in {min(s['z']):g}..{max(s['z']):g}, {s['k']['n']} k in "
             f"{s['k']['min']:g}..{s['k']['max']:g} /Mpc).\n",
             f"Metric: per cosmology, the maximum of |P_emu / P_true − 1| over "
             f"{k_lo:g} ≤ k ≤ {k_hi:g} /Mpc and z ≤ {s['z_max']:g}; percentiles over "
             f"cosmologies. Targets apply to the {s['target_percentile']}th percentile.\n",
             "| | n | outside box | median | 68 % | 95 % | 99 % | max | target | |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for what in ("linear", "nonlinear", "sigma8"):
        b = s[what]
        if b is None:
            continue
        pc = b["percentiles"]
        vals = (" | ".join(_pct(pc[key]) for key in ("p50", "p68", "p95", "p99", "max"))
                if pc else " | ".join(["—"] * 5))
        target = "—" if b["target"] is None else f"< {b['target'] * 100:g} %"
        verdict = {None: "", True: "**pass**", False: "**FAIL**"}[b["pass"]]
        lines.append(f"| {_TITLE[what]} | {b['n']} | {b['n_outside_box']} | {vals} | {target} "
                     f"| {verdict} |")
    lines.append("")
    counted = []
    for what in ("linear", "nonlinear", "sigma8"):
        b = s[what]
        if b is None:
            continue
        if b["n_outside_box"]:
            counted.append(f"{_n(b['n_outside_box'])} outside the emulators' box for the "
                           f"{_TITLE[what]}: not compared")
        if b["n_used_in_training"]:
            counted.append(f"{_n(b['n_used_in_training'])} used in training ({_TITLE[what]}): "
                           "left out")
        if b["n_nonfinite"]:
            counted.append(f"{_n(b['n_nonfinite'])} with a non-finite {_TITLE[what]} inside the "
                           "box (a broken model): left out of the percentiles")
    for what in ("linear", "nonlinear", "sigma8"):
        b = s[what]
        if b is not None and b["worst"] is not None:
            p = ", ".join(f"{name} = {v:.5g}" for name, v in b["worst"]["params"].items())
            counted.append(f"worst {_TITLE[what]}: sample {b['worst']['row']} ({p}), "
                           f"{_pct(b['percentiles']['max'])}")
    for text in counted + list(s["provenance"]) + list(s["notes"]):
        lines.append(f"- {text[0].upper()}{text[1:]}.")
    lines.append("")
    for png in plots:
        lines.append(f"![{png.stem}]({png.name})\n")
    have = [w for w in ("linear", "nonlinear") if s[w] is not None and s[w]["n"]]
    if have:
        lines.append(f"Per redshift: the largest over {k_lo:g} ≤ k ≤ {k_hi:g} /Mpc of the "
                     "68/95/99 % bands (percentiles over cosmologies at each k); the full bands "
                     f"are in `{s['files']['bands']}`.\n")
        head = " | ".join(f"{_TITLE[w]} {p} %" for w in have for p in BANDS)
        lines.append(f"| z | {head} |")
        lines.append("|---" * (1 + 3 * len(have)) + "|")
        for i, zz in enumerate(s["z"]):
            row = " | ".join(_pct(s[w]["per_z"][i][f"p{p}"]) for w in have for p in BANDS)
            mark = "" if s[have[0]]["per_z"][i]["in_metric"] else " (beyond z_max)"
            lines.append(f"| {zz:g}{mark} | {row} |")
        lines.append("")
    if "timing" in s:
        t = s["timing"]
        parts = [f"{_TITLE[w]} {t[w]['batch1_ms']:.3g} ms at batch 1, "
                 f"{t[w]['batch1000_per_s']:.3g} spectra/s at batch 1000" for w in t]
        lines.append(f"Timing on the store's grid (this machine, after jit): {'; '.join(parts)}.\n")
    return "\n".join(lines) + "\n"

