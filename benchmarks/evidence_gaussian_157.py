"""Learnt harmonic mean at 157-D: a Gaussian with the Stage-IV 3x2pt posterior's covariance.

The likelihood is the normalised Gaussian N(θ; μ, Σ) with μ, Σ the mode and Laplace covariance
of ``examples/stage4_3x2pt_157.yaml`` (fixture from ``benchmarks/_stage4_covariance.py``: 157
physical parameters, condition number 1.6e7, correlations up to 0.993); the prior is uniform on
the box μ_i ± 10 σ_i. Then ln Z = −ln V exactly up to the mass the box cuts off, < 2.4e-21
(:func:`cosmoemu.evidence.gaussian_box`).

Draws, per seed (``--draws``, default ``iid,nuts``):

- ``iid``: exact independent draws, ``--chains`` × ``--n`` (default 4 × 5000, the config's
  ``max_draws``);
- ``ar``: stationary AR(1) chains with lag-1 autocorrelation ``--rho`` (default 0.5: effective
  sample size n/3);
- ``nuts``: cosmoemu's NUTS (BlackJAX; Laplace initialisation, 100 warmup steps) on the standard
  normal in 157 dimensions, mapped to θ = μ + L y. NUTS is affine invariant given its metric, so
  these are the chains it gives on N(μ, Σ) with the exact dense metric (what the Laplace
  initialisation finds on a Gaussian); ln p is recomputed in float64 from θ.

Each set of draws goes to ``cosmoemu.evidence`` as a user would pass chains (``(chains,
draws, dim)`` and ln L + ln π), with its defaults unless ``--temperature`` or ``--flow-options``
say otherwise. Printed per seed: ln Ẑ ± σ, Δ = ln Ẑ − ln Z, z = Δ/σ, kurtosis, warnings and wall
time; then mean |Δ|, χ²/n of the z-scores and the median time per estimate. Targets (issue 13):
χ²/n ∈ [0.3, 2], |Δ| < 0.1. Results and what they took: docs/evidence.md ("157-D
calibration").

Run: ``nice -n 10 python benchmarks/evidence_gaussian_157.py [--seeds 10] [--draws iid,nuts]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from cosmoemu.evidence import EvidenceWarning, evidence, gaussian_box
from cosmoemu.evidence._problems import AnalyticProblem

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "evidence" / "fixtures" / "stage4_3x2pt_157_laplace.npz"
HALF_WIDTH = 10.0


def nuts_problem(mean: np.ndarray, cov: np.ndarray, n: int, n_chains: int, seed: int,
                 half_width: float = HALF_WIDTH) -> tuple[AnalyticProblem, dict]:
    """NUTS chains ``(n_chains, n, dim)`` of N(mean, cov) in the box, with ln p and ln Z.

    Returns:
        The problem and the sampler's record (time, steps per draw, divergences, min ESS).
    """
    import jax
    import jax.numpy as jnp

    from cosmoemu.inference import NUTSConfig, sample_nuts

    dim = mean.shape[0]

    def log_normal(y: jax.Array) -> jax.Array:
        return -0.5 * jnp.sum(y**2)

    cfg = NUTSConfig(num_chains=n_chains, num_warmup=100, max_draws=n, min_draws=n,
                     target_ess=1e12)
    t0 = time.perf_counter()
    res = sample_nuts(log_normal, jax.random.key(seed), jnp.zeros(dim), cfg, progress=False,
                      scale=np.ones(dim))
    seconds = time.perf_counter() - t0
    y = np.asarray(res.positions, np.float64)
    # the draws in θ, and ln p in float64 from them (as gaussian_box computes it)
    sigma = np.sqrt(np.diag(cov))
    ln_z = -float(np.sum(np.log(2 * half_width * sigma)))
    chol = np.linalg.cholesky(cov / np.outer(sigma, sigma)) * sigma[:, None]
    theta = mean + y @ chol.T
    if np.any(np.abs(theta - mean) > half_width * sigma):
        raise RuntimeError("a NUTS draw left the box")
    log_post = (-0.5 * np.sum(y**2, axis=-1) - float(np.sum(np.log(np.diag(chol))))
                - 0.5 * dim * math.log(2 * math.pi) + ln_z)
    record = {
        "seconds": seconds,
        "steps_per_draw": float(np.mean(res.num_steps)),
        "divergences": int(np.sum(res.divergent)),
        "min_ess_bulk": float(np.min(res.diagnostics["ess_bulk"])),
    }
    return AnalyticProblem(theta, log_post, ln_z), record


def run(mean: np.ndarray, cov: np.ndarray, draws: str, seeds: list[int], n: int, n_chains: int,
        rho: float, options: dict) -> dict:
    """Estimate ln Z for every seed; print one row each and the summary; return the rows."""
    print(f"\n== {draws}: {n_chains} chains x {n} draws, dim {mean.shape[0]}, "
          f"settings {options or 'defaults'} ==")
    print(f"{'seed':>4} {'ln Z est':>11} {'sigma':>7} {'delta':>8} {'z':>6} {'kurt':>6} "
          f"{'ESS_r':>7} {'epochs':>6} {'fit s':>6} {'all s':>6}  warnings / sampler")
    rows = []
    for seed in seeds:
        extra = ""
        if draws == "nuts":
            problem, rec = nuts_problem(mean, cov, n, n_chains, seed)
            extra = (f"NUTS {rec['seconds']:.0f} s, {rec['steps_per_draw']:.1f} steps/draw, "
                     f"{rec['divergences']} div., min bulk ESS {rec['min_ess_bulk']:.0f}")
        else:
            problem = gaussian_box(mean, cov, n, n_chains=n_chains, half_width=HALF_WIDTH,
                                   rho=rho if draws == "ar" else 0.0, seed=seed)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always", EvidenceWarning)
            result = evidence(problem.samples, problem.log_posterior, seed=seed, **options)
        seconds = time.perf_counter() - t0
        warned = [str(w.message).split(":")[0] for w in record
                  if issubclass(w.category, EvidenceWarning)]
        delta = result.ln_z - problem.ln_z
        z = delta / result.ln_z_err
        rows.append({"seed": seed, "ln_z": result.ln_z, "err": result.ln_z_err, "delta": delta,
                     "z": z, "seconds": seconds, "kurtosis": result.kurtosis,
                     "warnings": warned})
        print(f"{seed:>4} {result.ln_z:>11.4f} {result.ln_z_err:>7.4f} {delta:>+8.4f} {z:>+6.2f} "
              f"{result.kurtosis:>6.1f} {result.ratio_ess:>7.0f} {result.fit['epochs']:>6} "
              f"{result.fit_seconds:>6.1f} {seconds:>6.1f}  {'; '.join(warned)} {extra}",
              flush=True)
    delta = np.array([r["delta"] for r in rows])
    z = np.array([r["z"] for r in rows])
    chi2 = float(np.mean(z**2))
    times = [r["seconds"] for r in rows]
    print(f"ln Z (analytic) = {problem.ln_z:.4f}; mean |delta| {np.mean(np.abs(delta)):.4f}, "
          f"max |delta| {np.max(np.abs(delta)):.4f}, mean delta {np.mean(delta):+.4f}, "
          f"mean sigma {np.mean([r['err'] for r in rows]):.4f}; chi2/n of z {chi2:.2f} "
          f"(n = {len(z)}); time per estimate median {np.median(times):.1f} s "
          f"(first, with compilation, {times[0]:.1f} s)")
    n_over = int(np.sum(np.abs(delta) >= 0.1))
    print(f"targets: chi2/n in [0.3, 2] {'met' if 0.3 <= chi2 <= 2.0 else 'NOT met'}; mean |delta| "
          f"< 0.1 {'met' if np.mean(np.abs(delta)) < 0.1 else 'NOT met'}; |delta| >= 0.1 in "
          f"{n_over} of {len(delta)} runs")
    return {"rows": rows, "chi2": chi2, "mean_abs_delta": float(np.mean(np.abs(delta)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--draws", default="iid,nuts", help="any of iid, ar, nuts")
    ap.add_argument("--n", type=int, default=5000, help="draws per chain")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--rho", type=float, default=0.5, help="lag-1 autocorrelation for 'ar'")
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--flow-options", type=json.loads, default=None,
                    help='JSON, e.g. \'{"nn_width": 64}\'')
    ap.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = ap.parse_args()
    data = np.load(FIXTURE)
    mean, cov = data["mode"], data["cov"]
    options: dict = {}
    if args.temperature is not None:
        options["temperature"] = args.temperature
    if args.flow_options:
        options["flow_options"] = args.flow_options
    print(f"evidence, 157-D Gaussian: {os.cpu_count()} cores, 1-min load average "
          f"{os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    out = {}
    for draws in args.draws.split(","):
        out[draws] = run(mean, cov, draws, seeds, args.n, args.chains, args.rho, options)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
