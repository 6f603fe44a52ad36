"""Accuracy of emulators against held-out spectra: the numbers, the bands and the report.

The quantity an emulator emulates is read from its manifest (recorded at training, see
:attr:`Emulator.quantity <cosmoemu.emulator.Emulator.quantity>`), and the truth is the data
store's product of that name. The metric is the one a survey cares about. For CMB spectra
``tt``, ``te`` and ``ee`` it is :math:`|C_\\ell^{emu} - C_\\ell^{true}| / \\sigma_\\ell` with
the SO-like error model of :func:`~cosmoemu.emulator.cmb_sigma` (f_sky 0.4, 6 μK-arcmin, 1.4'
beam); for outputs whose model records a white-noise level (seismic traces) it is |Δ| / σ_noise;
for everything else (``pp``, derived parameters, P(k, z)) it is the relative
error. Per cosmology the figure of merit is the maximum over all outputs; the report gives its
percentiles over cosmologies and the 68/95/99 % bands along the last output axis, for each index
of the other axes (e.g. vs k for each z).

What is compared, and stated in the report:

- the outputs both hold: a store to ell = 1000 checks an emulator to 2508 on ell 2..1000 (the
  rest is reported as unchecked); no common output at all is an error;
- the held-out cosmologies: the model's training provenance records the store (its path and
  fingerprint) and the design rows it trained on; on that store those rows are left out, and the
  report says how many. Without a record the report says the overlap is unchecked;
- an incomplete store (missing chunks) is stated with the count.
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

from ._axes import Axis
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
        quantity: what it emulates (``tt``, ``pp``, ``derived``, ``pk_nonlin``...).
        metric: ``"sigma"`` (|Δ|/σ_ℓ), ``"noise"`` (|Δ|/σ_noise) or ``"relative"``.
        modes: labels of the last output axis, ``(n_modes,)``.
        errors: ``(n_samples, *output_shape)`` in metric units.
        params: ``(n_samples, n_params)``.
        axes: the output axes (one for a spectrum; ``(z, k)`` for P(k, z)).
    """

    name: str
    quantity: str
    metric: str
    modes: np.ndarray
    errors: np.ndarray
    params: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)
    axes: tuple[Axis, ...] = ()

    @property
    def max_per_sample(self) -> np.ndarray:
        """The largest error over all outputs of each sample, ``(n_samples,)``."""
        return self.errors.reshape(len(self.errors), -1).max(axis=1)

    def percentiles(self, rows: np.ndarray | None = None) -> dict[str, float]:
        mx = self.max_per_sample if rows is None else self.max_per_sample[rows]
        if mx.size == 0:
            return {}
        return {f"p{p}": float(np.percentile(mx, p)) for p in PERCENTILES}

    def bands(self) -> dict[int, np.ndarray]:
        """Per-output percentiles over samples: ``{68: output_shape, 95: ..., 99: ...}``."""
        return {p: np.percentile(self.errors, p, axis=0) for p in (68, 95, 99)}

    def leading(self) -> list[str]:
        """A label for each index of the axes before the last (C order), e.g. ``"z = 0.5"``;
        ``[""]`` for one output axis."""
        if len(self.axes) < 2:
            return [""]
        lead = self.axes[:-1]
        return [", ".join(f"{a.name} = {_fmt(a.values[i])}" for a, i in zip(lead, idx,
                                                                            strict=True))
                for idx in np.ndindex(*(len(a) for a in lead))]

    def bands_per_leading(self) -> dict[int, np.ndarray]:
        """The bands as ``(n_leading, n_modes)``: one row per index of the other axes."""
        return {p: b.reshape(-1, b.shape[-1]) for p, b in self.bands().items()}


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _metric_of(quantity: str) -> str:
    """|Δ|/σ_ℓ for the CMB spectra with a survey error model, else the relative error."""
    return "sigma" if quantity in CMB_METRIC else "relative"


def emulator_errors(
    emu: Emulator,
    params: np.ndarray,
    truth: np.ndarray,
    quantity: str,
    cls_truth: Mapping[str, np.ndarray] | None = None,
    name: str = "",
    select: Sequence[np.ndarray] | None = None,
) -> AccuracyResult:
    """Errors of ``emu`` on ``params`` against ``truth``.

    Args:
        emu: the emulator.
        params: ``(n, n_params)`` in ``emu.parameters`` order.
        truth: ``(n, *output_shape)`` true outputs, or ``(n, *selected_shape)`` with ``select``.
        quantity: ``tt``/``te``/``ee`` (metric |Δ|/σ_ℓ), else the relative error.
        cls_truth: true ``tt``, ``te``, ``ee`` (raw C_ell) for σ_ℓ; ``te`` needs all three.
        select: indices into each of the emulator's output axes, to compare only those outputs
            (e.g. ell <= 1000 of an emulator to 2508); default all.
    """
    pred = emu.predict_numpy(params)
    axes = tuple(emu.axes)
    if select is not None:
        pred = pred[(slice(None), *np.ix_(*select))]
        axes = tuple(Axis(a.name, tuple(np.asarray(a.values)[i].tolist()), a.units)
                     for a, i in zip(axes, select, strict=True))
    if pred.shape != truth.shape:
        raise ValueError(f"{name or quantity}: predictions {pred.shape} and truth "
                         f"{truth.shape} differ in shape")
    modes = np.asarray(axes[-1].values)
    if _metric_of(quantity) == "sigma" and len(axes) == 1:
        cls = dict(cls_truth or {})
        cls.setdefault(quantity, truth)
        sigma = cmb_sigma(quantity, np.asarray(modes, float), cls)
        err = np.abs(pred - truth) / sigma
        metric = "sigma"
    elif (emu.metadata.get("accuracy") or {}).get("noise_sigma"):
        # simulator outputs with a known white-noise level (seismic traces): |Δ| / σ_noise
        err = np.abs(pred - truth) / float(emu.metadata["accuracy"]["noise_sigma"])
        metric = "noise"
    else:
        err = np.abs(pred / truth - 1.0)
        metric = "relative"
    return AccuracyResult(
        name or quantity, quantity, metric, modes, err, np.asarray(params), axes=axes
    )


def _panel(ax, result: AccuracyResult, bands: Mapping[int, np.ndarray], title: str) -> None:
    labels = result.modes
    if labels.dtype.kind in "US":
        x = np.arange(len(labels))
        for p, c in zip((99, 95, 68), ("C3", "C1", "C0"), strict=True):
            ax.bar(x, bands[p], color=c, label=f"{p}%")
        ax.set_xticks(x, [str(m) for m in labels], rotation=30)
        ax.set_yscale("log")
    else:
        for p, c in zip((99, 95, 68), ("C3", "C1", "C0"), strict=True):
            ax.fill_between(labels, 0, bands[p], color=c, alpha=0.85, lw=0,
                            label=f"{p}% of cosmologies")
        if labels.min() > 0 and labels.max() / labels.min() > 10:
            ax.set_xscale("log")
        axis = result.axes[-1] if result.axes else None
        name = axis.name if axis else "mode"
        ax.set_xlabel(r"$\ell$" if name == "ell" else
                      f"{name} [{axis.units}]" if axis and axis.units else name)
        ax.set_xlim(labels.min(), labels.max())
        ax.set_ylim(0, None)
    if result.metric == "sigma":
        ax.set_ylabel(r"$|\Delta C_\ell| / \sigma_\ell$")
        for t, ls in ((0.1, "--"), (0.05, ":")):
            ax.axhline(t, color="k", ls=ls, lw=0.8)
    elif result.metric == "noise":
        ax.set_ylabel(r"$|\Delta| / \sigma_{\rm noise}$")
    else:
        ax.set_ylabel("relative error")
    ax.set_title(title, fontsize=9)


MAX_PANELS = 12


def _plot(result: AccuracyResult, path: Path, title: str) -> None:
    """One panel of bands along the last axis, or one per index of the other axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = result.bands_per_leading()
    leading = result.leading()
    shown = np.unique(np.linspace(0, len(leading) - 1, min(len(leading), MAX_PANELS))
                      .round().astype(int))
    ncol = min(3, len(shown))
    nrow = -(-len(shown) // ncol)
    fig, axs = plt.subplots(nrow, ncol, figsize=(7 if ncol == 1 else 4 * ncol, 3.6 * nrow),
                            squeeze=False)
    for ax, i in zip(axs.flat, shown, strict=False):
        _panel(ax, result, {p: b[i] for p, b in per.items()}, leading[i] or title)
    for ax in list(axs.flat)[len(shown):]:
        ax.set_visible(False)
    axs.flat[0].legend(fontsize=8, loc="upper left")
    if len(leading) > 1:
        extra = f" ({len(shown)} of {len(leading)} shown)" if len(shown) < len(leading) else ""
        fig.suptitle(title + extra, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _overlap(store_axes: Sequence[tuple[str, np.ndarray, str]], emu: Emulator,
             name: str) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], list[str]]:
    """The outputs both hold: indices into the store's axes, into the emulator's, and a note
    for each axis the store covers only in part.

    Raises:
        ValueError: different axes, or an axis with no common value.
    """
    if len(store_axes) != len(emu.axes):
        raise ValueError(f"'{name}' has outputs ({', '.join(a.name for a in emu.axes)}) but the "
                         f"store's has ({', '.join(a[0] for a in store_axes)})")
    store_idx, emu_idx, notes = [], [], []
    for (_, values, _), a in zip(store_axes, emu.axes, strict=True):
        values = np.asarray(values)
        if values.ndim > 1:  # labels that are vectors, e.g. receiver coordinates (n, 2)
            geometry = (emu.structure or {}).get("receivers")
            if geometry is None or np.shape(geometry) != values.shape or not np.allclose(
                    geometry, values, rtol=0, atol=1e-9):
                raise ValueError(f"'{name}' and the store label their {a.name} axis "
                                 "differently (the store's by coordinates that the emulator "
                                 "does not hold): validate on a store generated for the "
                                 f"emulator's {a.name}s")
            store_idx.append(np.arange(len(values)))
            emu_idx.append(np.arange(len(values)))
            continue
        have = [str(v) for v in values] if a.array.dtype.kind in "US" else None
        s_i, e_i = [], []
        for j, v in enumerate(a.values):
            if have is not None:
                hit = [have.index(str(v))] if str(v) in have else []
            else:
                hit = np.flatnonzero(np.isclose(values.astype(float), float(v), rtol=1e-9,
                                                atol=0))
            if len(hit):
                s_i.append(int(hit[0]))
                e_i.append(j)
        if not e_i:
            raise ValueError(
                f"'{name}' and the store have no {a.name} in common (the emulator's "
                f"{_span(a.values)}, the store's {_span(values)}): validate on a store "
                f"generated for the emulator's {a.name}")
        if len(e_i) < len(a):
            gone = [v for j, v in enumerate(a.values) if j not in set(e_i)]
            notes.append(
                f"{a.name}: the store holds {len(e_i)} of the emulator's {len(a)} values "
                f"({_span([a.values[j] for j in e_i])}); validated on those only, the other "
                f"{len(gone)} ({_span(gone)}) are unchecked")
        store_idx.append(np.asarray(s_i))
        emu_idx.append(np.asarray(e_i))
    return tuple(store_idx), tuple(emu_idx), notes


def _span(values: Sequence[Any]) -> str:
    v = list(np.asarray(values).tolist())
    if len(v) > 3 and all(isinstance(x, (int, float)) for x in v):
        return f"{_fmt(min(v))}..{_fmt(max(v))}"
    return ", ".join(_fmt(x) for x in v)


def training_rows(emu: Emulator, store: Any) -> tuple[np.ndarray | None, str]:
    """Which samples of ``store`` trained ``emu``, from its recorded provenance.

    Returns:
        A boolean mask over the store's samples (None when it cannot be told) and a sentence
        saying what was checked.
    """
    prov = (emu.metadata.get("training") or {}).get("provenance")
    if not prov or "store" not in prov:
        return None, ("whether these cosmologies were used in training is unchecked: the model "
                      "records no training store")
    fp = prov.get("store_fingerprint")
    same_fp = fp is not None and fp == store.fingerprint()
    try:
        same_path = Path(prov["store"]).resolve() == Path(store.path).resolve()
    except OSError:
        same_path = False
    if not (same_fp or same_path):
        if fp is None:
            return None, (f"whether these cosmologies were used in training is unchecked: the "
                          f"model was trained on '{prov['store']}' and records no fingerprint "
                          "to tell whether this store is a copy of it")
        return np.zeros(len(store), bool), (
            f"held out: the model was trained on another store ('{prov['store']}'; the "
            "fingerprints differ)")
    keep = np.ones(len(store), bool)
    if prov.get("design_rows") is not None:
        dr = store.design_rows
        keep[:] = False
        for lo, hi in prov["design_rows"]:
            keep |= (dr >= lo) & (dr < hi)
    used = np.zeros(len(store), bool)
    # n_rows: the rows training considered (with data.inputs, one per distinct input point
    # trained, but every row sharing a trained point was seen); older models: n_samples
    n_used = prov.get("n_rows", prov.get("n_samples", keep.sum()))
    used[np.flatnonzero(keep)[: int(n_used)]] = True
    rows = ("all its design rows" if prov.get("design_rows") is None
            else f"design rows {prov['design_rows']}")
    return used, (f"this is the training store ({'fingerprint' if same_fp else 'path'} "
                  f"recorded in the model); the {int(used.sum())} samples it trained on "
                  f"({rows}) are left out")


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
    quantity: str | None = None,
) -> tuple[Path, list[AccuracyResult]]:
    """Accuracy report of emulators against a data store: markdown page + one PNG each.

    Args:
        emulators: names (``lcdm_cmb_tt``) or model paths.
        data: a data store holding the quantities the emulators emulate.
        out_dir: where ``<label>.md`` and ``<label>_<emulator>.png`` go.
        label: report name (default: the store's directory name).
        planck_sigma: also report the subset within this many sigma of Planck 2018.
        timing: measure prediction time (batch 1 and 10^4).
        quantity: the store's product to compare with, for models that do not record their
            quantity (saved by hand without one); a recorded quantity must agree with it.

    Returns:
        The markdown path and the per-emulator results.

    Raises:
        ValueError: an emulator records no quantity (and ``quantity`` is not given), or the
            store lacks it, or its axes do not hold the emulator's labels.
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
    lines.append(f"Data: `{data}`, {len(store)} cosmologies.\n")
    if store.missing_chunks:
        lines.append(f"The store is incomplete: {len(store.missing_chunks)} chunk(s) missing "
                     f"({', '.join(store.missing_chunks[:8])}"
                     f"{', ...' if len(store.missing_chunks) > 8 else ''}); only the samples "
                     "present are used.\n")
    for e in emulators:
        emu = load_emulator(e)
        name = Path(str(e)).name
        q = emu.quantity
        if q is None and quantity is None:
            raise ValueError(
                f"emulator '{e}' does not record what it emulates: re-save it with "
                "save_emulator(emu, path, quantity=NAME) (or train it with quantity=NAME), or "
                f"pass --quantity (one of {', '.join(store.quantities)})"
            )
        if q is not None and quantity is not None and q != quantity:
            raise ValueError(f"emulator '{e}' emulates '{q}', not '{quantity}'")
        q = q or quantity
        if q not in store.quantities:
            raise ValueError(
                f"emulator '{e}' emulates '{q}', which '{data}' does not "
                f"hold (it has {', '.join(store.quantities)})"
            )
        missing = [p for p in emu.parameters if p not in store.param_names]
        if missing:
            raise ValueError(f"emulator '{e}' takes {', '.join(missing)}, which '{data}' does "
                             f"not vary (it has {', '.join(store.param_names)})")
        store_idx, emu_idx, notes = _overlap(store.axes(q), emu, name)
        for note in notes:
            log.warning("%s: %s", name, note)
        used, provenance_note = training_rows(emu, store)
        cols = [store.param_names.index(p) for p in emu.parameters]
        x = params_all[:, cols]
        inside = np.asarray(emu.in_box(x))
        held_out = inside if used is None else inside & ~used
        if used is not None and used.any():
            log.info("%s: %s", name, provenance_note)
        if not held_out.any():
            why = ("every cosmology inside its box was used to train it" if inside.any()
                   else "no cosmology lies inside its box or region")
            log.warning("%s skipped: %s (%s)", name, why, provenance_note)
            lines.append(f"## {name}\n\nSkipped: {why}. {provenance_note[0].upper()}"
                         f"{provenance_note[1:]}.\n")
            continue
        if not inside.all():
            log.warning(
                "%d of %d cosmologies lie outside %s's box; skipped",
                (~inside).sum(),
                len(inside),
                name,
            )
        idx = np.ix_(*store_idx)
        truth = load(q)[held_out][(slice(None), *idx)]
        cls = {c: load(c)[held_out][(slice(None), *idx)] for c in CMB_METRIC
               if c in store.quantities and len(emu.output_shape) == 1}
        res = emulator_errors(emu, x[held_out], truth, q, cls, name, select=emu_idx)
        res.extra.update(provenance=provenance_note, coverage=notes,
                         n_outside_box=int((~inside).sum()),
                         n_used_in_training=0 if used is None else int((inside & used).sum()))
        results.append(res)
        planck = (
            in_planck_region(x[held_out], emu.parameters, planck_sigma)
            if all(p in PLANCK_2018_MEAN for p in emu.parameters)
            else np.zeros(len(res.params), bool)
        )
        png = out / f"{label}_{name}.png"
        _plot(res, png, f"{name} on {label} ({len(res.params)} cosmologies)")
        unit = {"sigma": "σ_ℓ", "noise": "σ_noise"}.get(res.metric, "relative")
        lines.append(f"## {name} ({q}, error in {unit})\n")
        lines.append(f"{len(res.params)} cosmologies: {provenance_note}"
                     + (f"; {res.extra['n_outside_box']} outside its box or region are left out"
                        if res.extra["n_outside_box"] else "") + ".\n")
        for note in notes:
            lines.append(f"Outputs: {note}.\n")
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
            "\n(per cosmology: the maximum error over all outputs; percentiles over "
            "cosmologies)\n"
        )
        if len(emu.output_shape) > 1:
            last = emu.axes[-1].name
            per = res.bands_per_leading()
            lines.append(f"Bands along {last} for each {', '.join(a.name for a in emu.axes[:-1])}"
                         f" (the largest over {last} of each percentile over cosmologies):\n")
            lines.append(f"| {' , '.join(a.name for a in emu.axes[:-1])} | 68 % | 95 % | 99 % |")
            lines.append("|---|---|---|---|")
            for i, lab in enumerate(res.leading()):
                lines.append(f"| {lab} | " + " | ".join(f"{per[p][i].max():.3g}"
                                                       for p in (68, 95, 99)) + " |")
            lines.append("")
        elif res.modes.dtype.kind in "US":
            p99 = np.percentile(res.errors, 99, axis=0)
            lines.append(f"| output | 99 % {unit} error |\n|---|---|")
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
