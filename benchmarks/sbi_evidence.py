"""SBI evidence (NLE + NUTS + learnt harmonic mean) against the analytic ln Z.

Linear Gaussian model x_i = theta_i + N(0, 1), i = 1..D, prior N(0, sigma_p^2 I).

- ``calibration``: for each D and each of ``--n-obs`` observed data sets drawn from the
  sigma_p = 1 model, a fresh NLE (ensemble of bootstrap-trained conditional flows) from its own
  ``--sims`` simulations (seeded per data set), then ln Z: coverage within 3 reported sigma,
  chi^2/n of the z-scores, mean |Delta ln Z|, wall time per estimate. A fresh simulation set per
  case makes the cases independent: the NLE's error is mostly that of its simulation set, so
  data sets scored against one shared NLE share its error and their z-scores are correlated
  (``--shared``: one NLE per D, as in the first version of this benchmark).
- ``comparison``: sigma_p = 1 against sigma_p = 10 at ``--bayes-dim``, each model's NLE trained
  on its own simulations (fresh per data set); ``--n-bayes`` data sets, half drawn from each
  model; ln B from SBI against the analytic ln B, and the rate of correct decisions.

Run: ``nice -n 15 python benchmarks/sbi_evidence.py [--dims 2 5 10] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings

import numpy as np

from cosmoemu import bayes_factor, sbi
from cosmoemu.evidence import EvidenceWarning

DEFAULT_SIMS = {2: 2000, 5: 5000, 10: 10000, 20: 20000}


def _train(dim: int, sigma: float, n_sims: int, seed: int = 0, sim_seed: int | None = None):
    sim_seed = 1000 + dim if sim_seed is None else sim_seed
    theta, x = sbi.linear_gaussian_simulations(n_sims, dim, sigma, seed=sim_seed)
    t0 = time.perf_counter()
    est = sbi.train("nle", theta, x, sbi.linear_gaussian_prior(dim, sigma), seed=seed)
    return est, time.perf_counter() - t0


def _observe(dim: int, sigma: float, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return sigma * rng.standard_normal((n, dim)) + rng.standard_normal((n, dim))


def _evidence(est, x, seed):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvidenceWarning)
        r = sbi.evidence(est, x, seed=seed)
    return r, [str(w.message) for w in caught]


def calibration(dims, n_obs, sims, shared: bool = False) -> dict:
    out = {}
    for dim in dims:
        n_sims = sims.get(dim, DEFAULT_SIMS.get(dim, 1000 * dim))
        if shared:
            est, t_train = _train(dim, 1.0, n_sims)
        rows, t_trains = [], []
        for i, x in enumerate(_observe(dim, 1.0, n_obs, seed=dim)):
            if not shared:
                est, t_train = _train(dim, 1.0, n_sims, sim_seed=100_000 * dim + i)
            t_trains.append(t_train)
            t0 = time.perf_counter()
            r, warned = _evidence(est, x, seed=i)
            truth = float(sbi.linear_gaussian_ln_z(x, 1.0))
            rows.append({"ln_z": r.ln_z, "err": r.ln_z_err, "sampling_err": r.sampling_err,
                         "estimator_err": r.estimator_err, "truth": truth,
                         "z": (r.ln_z - truth) / r.ln_z_err, "train_seconds": t_train,
                         "seconds": time.perf_counter() - t0, "warnings": warned})
            print(f"D={dim:2d} #{i}: {r.ln_z:9.4f} ± {r.ln_z_err:.4f} (sampling "
                  f"{r.sampling_err:.4f}, estimator {r.estimator_err:.4f}) truth {truth:9.4f} "
                  f"z = {rows[-1]['z']:+.2f}  train {t_train:.1f} s, evidence "
                  f"{rows[-1]['seconds']:.1f} s", flush=True)
        t_train = float(np.median(t_trains))
        z = np.array([r["z"] for r in rows])
        secs = [r["seconds"] for r in rows]
        out[dim] = {
            "simulations": n_sims, "train_seconds": t_train, "members": est.n_members,
            "shared_nle": shared,
            "coverage_3sigma": float(np.mean(np.abs(z) < 3)),
            "chi2_per_n": float(np.mean(z**2)),
            "mean_abs_delta": float(np.mean([abs(r["ln_z"] - r["truth"]) for r in rows])),
            "mean_err": float(np.mean([r["err"] for r in rows])),
            "median_seconds": float(np.median(secs)), "first_seconds": secs[0],
            "runs": rows,
        }
        s = out[dim]
        print(f"D={dim}: {n_sims} simulations, training {t_train:.0f} s; within 3σ "
              f"{100 * s['coverage_3sigma']:.0f}%, χ²/n {s['chi2_per_n']:.2f}, mean |Δ ln Z| "
              f"{s['mean_abs_delta']:.3f}, mean σ {s['mean_err']:.3f}, median "
              f"{s['median_seconds']:.1f} s per estimate", flush=True)
    return out


def comparison(dim: int, n: int, n_sims: int) -> dict:
    xs = np.concatenate([_observe(dim, 1.0, n // 2, seed=500), _observe(dim, 10.0, n - n // 2,
                                                                          seed=501)])
    rows = []
    for i, x in enumerate(xs):
        ests = {s: _train(dim, s, n_sims, sim_seed=200_000 + 2 * i + (s > 1))[0]
                for s in (1.0, 10.0)}
        a, _ = _evidence(ests[1.0], x, seed=i)
        b, _ = _evidence(ests[10.0], x, seed=i)
        bf = bayes_factor(a, b)
        truth = float(sbi.linear_gaussian_ln_z(x, 1.0) - sbi.linear_gaussian_ln_z(x, 10.0))
        rows.append({"ln_b": bf.ln_b, "err": bf.ln_b_err, "truth": truth,
                     "z": (bf.ln_b - truth) / bf.ln_b_err, "model": 1.0 if i < n // 2 else 10.0})
        print(f"ln B #{i} (data from σ_p = {rows[-1]['model']:g}): {bf.ln_b:+.3f} ± "
              f"{bf.ln_b_err:.3f}, analytic {truth:+.3f}, z = {rows[-1]['z']:+.2f}", flush=True)
    z = np.array([r["z"] for r in rows])
    same_sign = np.mean([np.sign(r["ln_b"]) == np.sign(r["truth"]) for r in rows])
    right = np.mean([(r["ln_b"] > 0) == (r["model"] == 1.0) for r in rows])
    out = {"dim": dim, "simulations_per_model": n_sims, "n": n,
           "coverage_3sigma": float(np.mean(np.abs(z) < 3)), "chi2_per_n": float(np.mean(z**2)),
           "mean_abs_delta": float(np.mean([abs(r["ln_b"] - r["truth"]) for r in rows])),
           "sign_agrees_with_analytic": float(same_sign), "correct_model": float(right),
           "runs": rows}
    print(f"ln B, D={dim}: within 3σ {100 * out['coverage_3sigma']:.0f}%, χ²/n "
          f"{out['chi2_per_n']:.2f}, mean |Δ ln B| {out['mean_abs_delta']:.3f}, sign as analytic "
          f"{100 * same_sign:.0f}%, true model preferred {100 * right:.0f}%", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--n-obs", type=int, default=20)
    ap.add_argument("--sims", type=int, nargs="*", default=None,
                    help="simulations per D, in the order of --dims (default 2000/5000/10000)")
    ap.add_argument("--bayes-dim", type=int, default=2)
    ap.add_argument("--n-bayes", type=int, default=20)
    ap.add_argument("--parts", nargs="+", default=["calibration", "comparison"])
    ap.add_argument("--json", default=None)
    ap.add_argument("--shared", action="store_true",
                    help="one NLE per D for all data sets (correlated cases)")
    args = ap.parse_args()
    sims = dict(zip(args.dims, args.sims, strict=True)) if args.sims else {}
    t0 = time.perf_counter()
    result = {}
    if "calibration" in args.parts:
        result["calibration"] = calibration(args.dims, args.n_obs, sims, args.shared)
    if "comparison" in args.parts:
        d = args.bayes_dim
        result["comparison"] = comparison(d, args.n_bayes, DEFAULT_SIMS.get(d, 1000 * d))
    result["total_seconds"] = time.perf_counter() - t0
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=float)
    print(f"total {result['total_seconds'] / 60:.1f} min" if math.isfinite(
        result["total_seconds"]) else "")


if __name__ == "__main__":
    main()
