"""The exact-simulator posterior of two seismic events: mode and Laplace covariance with pyprop8.

For each of two events of the ``seismic_hypocentre_v1`` scenario (hypocentres drawn uniformly,
seed ``EVENT_SEED``, inside the prior box shrunk by ``MARGIN`` km so that the ~0.1 km posterior
is far from the edges; white noise of the scenario's sigma, seed ``NOISE_SEEDS[i]``):

1. the mode of ln L (uniform prior on the box: the posterior mode) by Levenberg-Marquardt on
   the whitened residuals ``r = (d - m(h)) / sigma`` with central finite-difference Jacobians
   (step ``H_JAC`` km), started at truth + ``START_OFFSET`` km; converged when the step is
   below 1e-3 posterior sigma in every coordinate and chi2 changes by less than 1e-3;
2. the Laplace covariance from the Gauss-Newton Hessian ``J^T J`` (J of the whitened residuals)
   and, as a cross-check, from the full Hessian of -ln L: ``J^T J - sum r d2m/dh_i dh_j /
   sigma`` with the second derivatives of the traces by central differences (step ``H_HESS``).

Writes ``tests/seismic/fixtures/exact_posterior.npz`` (observed traces as float32, which the
fit used too) and ``exact_posterior.json`` (seeds, modes, covariances, widths, correlations,
simulation counts, times). About 60 pyprop8 runs (~1.5 s each) per event.

Run: ``OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/seismic_exact_posterior.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from cosmoemu.seismic import PARAMETERS, Simulator, load_scenario

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "seismic" / "fixtures" / "exact_posterior"
EVENT_SEED = 20261203
NOISE_SEEDS = (101, 202)
MARGIN = 1.0  # km inside every face of the box
START_OFFSET = np.array([0.3, -0.3, 0.4])  # km from the truth (3-4 posterior sigma)
H_JAC = 0.005  # km, central-difference step of the Jacobian
H_HESS = 0.01  # km, step of the second derivatives


class Counter:
    """The forward model with a count of its calls."""

    def __init__(self, sim: Simulator) -> None:
        self.sim, self.calls = sim, 0

    def __call__(self, h: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.sim(h)


def jacobian(model: Counter, h: np.ndarray, step: float) -> tuple[np.ndarray, list]:
    """dm/dh by central differences: (n_data, 3), and the +/- traces per coordinate."""
    cols, pairs = [], []
    for i in range(3):
        e = np.zeros(3)
        e[i] = step
        plus, minus = model(h + e), model(h - e)
        pairs.append((plus, minus))
        cols.append(((plus - minus) / (2 * step)).ravel())
    return np.stack(cols, axis=1), pairs


def fit(model: Counter, data: np.ndarray, sigma: float, start: np.ndarray,
        max_iter: int = 30) -> dict:
    """Levenberg-Marquardt on r = (d - m) / sigma; returns mode, J at the mode, history."""
    h = start.astype(float).copy()
    m = model(h)
    chi2 = float(np.sum(((data - m) / sigma) ** 2))
    lam, history, converged = 1e-3, [chi2], False
    for _ in range(max_iter):
        jac, _ = jacobian(model, h, H_JAC)
        j = jac / sigma
        r = ((data - m) / sigma).ravel()
        jtj, jtr = j.T @ j, j.T @ r
        widths = np.sqrt(np.diag(np.linalg.inv(jtj)))
        while True:
            a = jtj + lam * np.diag(np.diag(jtj))
            step = np.linalg.solve(a, jtr)
            trial = h + step
            m_trial = model(trial)
            chi2_trial = float(np.sum(((data - m_trial) / sigma) ** 2))
            if chi2_trial <= chi2:
                lam = max(lam / 10, 1e-7)
                break
            lam *= 10
            if lam > 1e6:
                raise RuntimeError(f"Levenberg-Marquardt stalled at {h} (chi2 {chi2})")
        small = np.all(np.abs(step) < 1e-3 * widths)
        change = chi2 - chi2_trial
        h, m, chi2 = trial, m_trial, chi2_trial
        history.append(chi2)
        print(f"    h = {np.round(h, 5)}  chi2 = {chi2:.4f}  |step|/sigma = "
              f"{np.abs(step / widths).max():.2e}", flush=True)
        if small and change < 1e-3:
            converged = True
            break
    return {"mode": h, "traces": m, "chi2": chi2, "history": history, "converged": converged}


def hessians(model: Counter, data: np.ndarray, sigma: float, h: np.ndarray,
             m0: np.ndarray) -> dict:
    """Gauss-Newton and full Hessians of -ln L at ``h``, 1/km^2."""
    jac, pairs = jacobian(model, h, H_JAC)
    j = jac / sigma
    gn = j.T @ j
    r = ((data - m0) / sigma).ravel()
    gradient = j.T @ r  # d lnL / dh, should be ~0 at the mode
    # second derivatives of the traces with step H_HESS
    hs = H_HESS
    second = np.zeros((3, 3, data.size))
    plus_minus = []
    for i in range(3):
        e = np.zeros(3)
        e[i] = hs
        p, q = model(h + e), model(h - e)
        plus_minus.append((p, q))
        second[i, i] = ((p - 2 * m0 + q) / hs**2).ravel()
    for i in range(3):
        for k in range(i + 1, 3):
            ei, ek = np.zeros(3), np.zeros(3)
            ei[i], ek[k] = hs, hs
            pp, pm = model(h + ei + ek), model(h + ei - ek)
            mp, mm = model(h - ei + ek), model(h - ei - ek)
            second[i, k] = second[k, i] = ((pp - pm - mp + mm) / (4 * hs**2)).ravel()
    full = gn - np.einsum("ijn,n->ij", second, r) / sigma
    return {"gauss_newton": gn, "full": full, "gradient": gradient}


def summary(cov: np.ndarray) -> dict:
    """Widths (km) and correlations of a covariance."""
    s = np.sqrt(np.diag(cov))
    corr = cov / np.outer(s, s)
    return {"sigma_km": dict(zip(PARAMETERS, s.tolist(), strict=True)),
            "corr": {"x_y": corr[0, 1], "x_depth": corr[0, 2], "y_depth": corr[1, 2]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output stem (.npz and .json)")
    args = parser.parse_args()
    sc = load_scenario()
    lo, hi = sc.box_arrays()
    rng = np.random.default_rng(EVENT_SEED)
    truths = rng.uniform(lo + MARGIN, hi - MARGIN, size=(len(NOISE_SEEDS), 3))
    model = Counter(Simulator(sc))
    events, observed = [], []
    for i, (truth, seed) in enumerate(zip(truths, NOISE_SEEDS, strict=True)):
        t0, calls0 = time.perf_counter(), model.calls
        clean = model(truth)
        noise = np.random.default_rng(seed).normal(0.0, sc.sigma, clean.shape)
        data = (clean + noise).astype(np.float32).astype(np.float64)  # as stored
        observed.append(data.astype(np.float32))
        print(f"event {i}: truth {np.round(truth, 4)} km, noise seed {seed}", flush=True)
        res = fit(model, data, sc.sigma, truth + START_OFFSET)
        hess = hessians(model, data, sc.sigma, res["mode"], res["traces"])
        cov_gn = np.linalg.inv(hess["gauss_newton"])
        cov_full = np.linalg.inv(hess["full"])
        wall = time.perf_counter() - t0
        ev = {
            "truth_km": truth.tolist(),
            "noise_seed": seed,
            "start_km": (truth + START_OFFSET).tolist(),
            "mode_km": res["mode"].tolist(),
            "converged": res["converged"],
            "chi2_history": res["history"],
            "chi2_at_mode": res["chi2"],
            "n_data": int(data.size),
            "grad_lnL_at_mode_per_km": hess["gradient"].tolist(),
            "cov_gauss_newton_km2": cov_gn.tolist(),
            "cov_full_hessian_km2": cov_full.tolist(),
            "gauss_newton": summary(cov_gn),
            "full_hessian": summary(cov_full),
            "mode_minus_truth_in_sigma": ((res["mode"] - truth)
                                          / np.sqrt(np.diag(cov_gn))).tolist(),
            "n_simulations": model.calls - calls0,
            "wall_s": wall,
        }
        print(json.dumps({k: ev[k] for k in ("mode_km", "converged", "gauss_newton",
                                             "full_hessian", "n_simulations", "wall_s")},
                         indent=1), flush=True)
        events.append(ev)
    meta = {
        "scenario": sc.name,
        "sigma_mm": sc.sigma,
        "event_seed": EVENT_SEED,
        "margin_km": MARGIN,
        "start_offset_km": START_OFFSET.tolist(),
        "h_jacobian_km": H_JAC,
        "h_hessian_km": H_HESS,
        "method": "Levenberg-Marquardt on whitened residuals, central-difference Jacobians; "
                  "Laplace covariance inv(J^T J) (and inv(full Hessian) as a cross-check); "
                  "observed traces stored as float32 and fitted as such",
        "script": "benchmarks/seismic_exact_posterior.py",
        "events": events,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out.with_suffix(".npz"), observed=np.stack(observed),
                        truth_km=truths, sigma=np.float64(sc.sigma),
                        mode_km=np.array([e["mode_km"] for e in events]),
                        cov_km2=np.array([e["cov_gauss_newton_km2"] for e in events]),
                        cov_full_km2=np.array([e["cov_full_hessian_km2"] for e in events]),
                        noise_seeds=np.array(NOISE_SEEDS))
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out}.npz/.json")


if __name__ == "__main__":
    main()
