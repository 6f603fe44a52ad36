"""Emulator error in likelihood units: Δχ² of Planck plik_lite between emulator and CAMB spectra.

Cosmologies (``--region``):

- ``ellipsoid`` (default): uniform inside the 5σ ellipsoid of the demo posterior (its mean and
  6×6 covariance of omega_b, omega_cdm, h, tau_reio, n_s, ln10^{10}A_s, from ``--chains`` or a
  NUTS run of the demo posterior). Uniform in a 6-D ball puts half the points beyond 4.45σ, so
  this weights the edge of the region.
- ``box``: a Latin hypercube over the per-parameter Planck 2018 ±5σ box (TT,TE,EE+lowE means
  and σ). Its corners ignore the parameter degeneracies and lie hundreds of χ² units from the
  best fit (χ² up to ~10⁴), far outside any posterior: a stress test, not the target region.

For each, CAMB (the emulators' settings) and the emulators give C_ell; both go through plik_lite
TTTEEE + low-ell TT (A_planck = 1, float64) and the script prints the distribution of
|Δχ²| = |χ²_emu − χ²_CAMB|, also by Mahalanobis radius. Target: < 0.1 for 99 %.

Run: ``python benchmarks/planck_emulator_dchi2.py [--n 200] [--workers 2] [--emulators DIR]``
(needs CAMB and the trained emulators; ``--cache FILE.npz`` keeps the CAMB spectra for reruns).
``--store DIR`` takes the cosmologies and CAMB spectra from a ``cosmoemu generate`` store made
with the same CAMB settings (e.g. a held-out test set) instead of running CAMB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from _camb_planck import PARAMS, camb_dl_many, demo_posterior_draws, load_emulators
from scipy.stats import qmc

from cosmoemu.inference import EmulatorTheory
from cosmoemu.likelihoods import PlanckLite, cl_from_dl

PLANCK_MEAN = np.array([0.02236, 0.1202, 0.6727, 0.0544, 0.9649, 3.045])
PLANCK_STD = np.array([0.00015, 0.0014, 0.0060, 0.0073, 0.0044, 0.016])


def design(n: int, seed: int, box: dict) -> np.ndarray:
    """Latin hypercube over the per-parameter Planck 2018 ±5σ box (clipped to the emulators')."""
    lo = np.maximum(PLANCK_MEAN - 5 * PLANCK_STD, [box[p][0] for p in PARAMS])
    hi = np.minimum(PLANCK_MEAN + 5 * PLANCK_STD, [box[p][1] for p in PARAMS])
    return qmc.scale(qmc.LatinHypercube(d=6, seed=seed).random(n), lo, hi)


def posterior_gaussian(chains: str | None, emus: dict, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean (6,) and covariance (6, 6) of the demo posterior in ``PARAMS`` order."""
    draws, names = demo_posterior_draws(chains, emus, seed)
    missing = [p for p in PARAMS if p not in names]
    if missing:
        raise SystemExit(f"the chains lack {missing}")
    x = draws[:, [names.index(p) for p in PARAMS]]
    return x.mean(axis=0), np.cov(x, rowvar=False)


def ellipsoid_design(n: int, seed: int, mean: np.ndarray, cov: np.ndarray, box: dict
                     ) -> np.ndarray:
    """``n`` points uniform inside the 5σ ellipsoid of (mean, cov), kept inside the box."""
    from cosmoemu.data._design import DesignSpec, ParameterBox, make_design

    pbox = ParameterBox(PARAMS, tuple(box[p][0] for p in PARAMS),
                        tuple(box[p][1] for p in PARAMS))
    spec = DesignSpec("ellipsoid", n, seed, fiducial=tuple(mean),
                      covariance=tuple(map(tuple, cov)), radius=5.0)
    return make_design(pbox, [spec])[0]


def from_store(path: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(params (m, 6), D_ell (m, 3, 2507) in μK²) of the first n rows of a store."""
    from cosmoemu.data import open_store

    store = open_store(path)
    if tuple(store.param_names) != PARAMS:
        raise SystemExit(f"store parameters {store.param_names} are not {PARAMS}")
    ell = store.modes("tt")
    if ell[0] != 2 or ell[-1] < 2508:
        raise SystemExit(f"store spectra cover ell {ell[0]}..{ell[-1]}, need 2..2508")
    m = min(n, store.n_samples)
    rows = np.arange(m)
    fac = ell * (ell + 1) / (2 * np.pi) * (2.7255e6) ** 2
    dl = np.stack([store.load(q, rows) * fac for q in ("tt", "te", "ee")], axis=1)
    return store.params(rows), dl[:, :, : 2507]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="number of cosmologies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="CAMB processes")
    ap.add_argument("--emulators", default=None, help="directory of model files (default: "
                    "the shipped emulators)")
    ap.add_argument("--set", dest="emu_set", choices=("box", "planck"), default="box",
                    help="box: the whole-box networks lcdm_cmb_tt/te/ee (default); planck: the "
                    "Planck-region polynomials lcdm_cmb_tt_planck/...")
    ap.add_argument("--cache", default=None, help="npz to keep/reuse the CAMB spectra")
    ap.add_argument("--region", choices=("ellipsoid", "box"), default="ellipsoid",
                    help="where the cosmologies are drawn (see the module docstring)")
    ap.add_argument("--chains", default=None, help="demo-posterior chain root for the "
                    "ellipsoid (default: sample the demo posterior now)")
    ap.add_argument("--camb-boost", type=int, default=0, metavar="M",
                    help="also run CAMB with AccuracyBoost = lAccuracyBoost = 2 for the first M "
                    "cosmologies and print CAMB's own Δχ² (boosted vs default) beside the "
                    "emulator's: the Boltzmann code's numerical error in the same units")
    ap.add_argument("--store", default=None, help="read cosmologies and CAMB spectra (tt, te, "
                    "ee) from this store instead of running CAMB")
    args = ap.parse_args()

    emus = load_emulators(args.emulators, ("cmb_tt", "cmb_te", "cmb_ee", "derived"))
    box = {p: (lo, hi) for p, lo, hi in EmulatorTheory(
        {k: v for k, v in emus.items() if k != "derived"}).box}
    mean, cov = posterior_gaussian(args.chains, emus, args.seed)
    if args.emu_set == "planck":
        emus = load_emulators(args.emulators, ("cmb_tt", "cmb_te", "cmb_ee"), suffix="_planck")
    theory = EmulatorTheory({k: v for k, v in emus.items() if k != "derived"})
    used = [Path(str(e.metadata.get("source", "?"))).stem for k, e in emus.items()
            if k != "derived"]
    print(f"emulators: {', '.join(used)}")
    cache = Path(args.cache) if args.cache else None
    if args.store:
        rows, dl_camb = from_store(args.store, args.n)
        where = args.store
        print(f"{len(rows)} cosmologies with CAMB spectra from the store {args.store}")
    else:
        if args.region == "ellipsoid":
            rows = ellipsoid_design(args.n, args.seed, mean, cov, box)
            where = "the 5σ ellipsoid of the demo posterior"
        else:
            rows = design(args.n, args.seed, box)
            where = "the per-parameter Planck 2018 ±5σ box"
        if cache is not None and cache.exists():
            with np.load(cache, allow_pickle=False) as f:
                if f["params"].shape != rows.shape or not np.allclose(f["params"], rows):
                    raise SystemExit(f"{cache} was made with another design "
                                     "(--n/--seed/--region/--chains)")
                dl_camb = f["dl"]
        else:
            t0 = time.perf_counter()
            dl_camb = camb_dl_many(rows, args.workers)
            print(f"CAMB: {len(rows)} cosmologies in {time.perf_counter() - t0:.0f} s")
            if cache is not None:
                np.savez(cache, params=rows, dl=dl_camb)
    diff = rows - mean
    radius = np.sqrt(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff))

    with jax.enable_x64(True):
        lik = PlanckLite("TTTEEE", low_ell_bins=True)
        chi2 = jax.jit(jax.vmap(lambda l, t, e, ee: l.chi2(t, e, ee, 1.0),
                                in_axes=(None, 0, 0, 0)))

        def emu_dl(x):
            values = {p: x[i] for i, p in enumerate(PARAMS)}
            out = theory.compute(values, ("cmb_tt", "cmb_te", "cmb_ee"))
            return out["cmb_tt"], out["cmb_te"], out["cmb_ee"]

        tt, te, ee = jax.jit(jax.vmap(emu_dl))(jnp.asarray(rows))
        chi_emu = np.asarray(chi2(lik, tt, te, ee))
        d = jnp.asarray(cl_from_dl(dl_camb))  # the likelihood reads raw C_ell
        chi_camb = np.asarray(chi2(lik, d[:, 0], d[:, 1], d[:, 2]))
    rel = np.asarray(tt)[:, 498:] / np.asarray(d)[:, 0, 498:] - 1  # ell >= 500
    rel_ee = np.asarray(ee)[:, 498:] / np.asarray(d)[:, 2, 498:] - 1
    ok_rows = np.all(np.isfinite(rel), axis=1)
    n_out = int(np.sum(~np.isfinite(chi_emu)))
    if n_out:
        print(f"{n_out} cosmologies lie outside the emulators' region (NaN): left out")
        keep = np.isfinite(chi_emu)
        rows, chi_emu, chi_camb, radius = rows[keep], chi_emu[keep], chi_camb[keep], radius[keep]
    delta = chi_emu - chi_camb
    a = np.abs(delta)
    print(f"\nPlanck plik_lite TTTEEE + low-ell TT, A_planck = 1, {len(rows)} cosmologies from "
          f"{where}")
    print(f"chi2_CAMB: min {chi_camb.min():.1f}, median {np.median(chi_camb):.1f}, "
          f"max {chi_camb.max():.1f}")
    rms_tt, rms_ee = (np.sqrt(np.mean(r[ok_rows] ** 2)) for r in (rel, rel_ee))
    print(f"emulator vs CAMB, rms relative error at ell >= 500: TT {rms_tt:.2e}, EE {rms_ee:.2e}")
    print("|Δχ²| = |χ²_emu − χ²_CAMB|:")
    for q in (50, 68, 95, 99, 100):
        print(f"  {q:>3}th percentile: {np.percentile(a, q):.4f}")
    print(f"  mean Δχ² (bias): {delta.mean():+.4f}")
    frac = np.mean(a < 0.1)
    verdict = "meets" if frac >= 0.99 else "misses"
    print(f"fraction with |Δχ²| < 0.1: {frac:.3f}  (target 0.99: {verdict})")
    print("by Mahalanobis radius r in the demo posterior (σ units):")
    for lo, hi in ((0, 2), (2, 3), (3, 4), (4, 5), (5, np.inf)):
        sel = (radius >= lo) & (radius < hi)
        if sel.any():
            print(f"  {lo} <= r < {hi}: {sel.sum():4d} cosmologies, |Δχ²| median "
                  f"{np.median(a[sel]):.4f}, 99th percentile {np.percentile(a[sel], 99):.4f}, "
                  f"max {a[sel].max():.4f}")
    if args.camb_boost:
        m = min(args.camb_boost, len(rows))
        t0 = time.perf_counter()
        dl_boost = camb_dl_many(rows[:m], args.workers, boost=2.0)
        print(f"\nCAMB at AccuracyBoost = lAccuracyBoost = 2: {m} cosmologies in "
              f"{time.perf_counter() - t0:.0f} s")
        with jax.enable_x64(True):
            b = jnp.asarray(cl_from_dl(dl_boost))
            chi_boost = np.asarray(chi2(lik, b[:, 0], b[:, 1], b[:, 2]))
        cam = np.abs(chi_boost - chi_camb[:m])
        print(f"  |χ²_CAMB(boost 2) − χ²_CAMB(default)|: median {np.median(cam):.4f}, "
              f"max {cam.max():.4f};  |Δχ²| of the emulator on the same {m}: median "
              f"{np.median(a[:m]):.4f}, max {a[:m].max():.4f}")
    worst = np.argsort(a)[-3:][::-1]
    for i in worst:
        print(f"  worst: Δχ² {delta[i]:+.3f} at " +
              ", ".join(f"{p}={v:.5g}" for p, v in zip(PARAMS, rows[i], strict=True)))


if __name__ == "__main__":
    main()
