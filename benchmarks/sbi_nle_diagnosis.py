"""Where an NLE's ln Z error comes from, on the linear Gaussian (D = 2, analytic everything).

For one NLE trained on ``--sims`` simulations (``--sim-seed``; 1002 is the set of the first
benchmark's D = 2 NLE) and a few observed data sets x_o:

- E_post[ln q_k(x_o|θ) − ln p(x_o|θ)] per member on exact posterior draws, and each member's
  evidence by importance sampling on those draws (ln Z_k − truth), no NUTS involved;
- the same for each member's linear stage alone (Gaussian residuals);
- ∫ q_k(x|θ) dx on a grid for three θ (normalisation);
- ``--pipeline``: ``sbi.evidence`` (NUTS + harmonic mean) against the truth, and exact posterior
  draws with the exact ln L π through the same ``cosmoemu.evidence``.

Run: ``nice -n 15 python benchmarks/sbi_nle_diagnosis.py [--options '{"bootstrap": 0}']``.
"""

from __future__ import annotations

import argparse
import json
import math
import warnings

import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from cosmoemu import sbi
from cosmoemu.evidence import evidence as harmonic_evidence

D = 2
X_OBS = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, -1.5]])


def ln_like(x_o: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Exact ln p(x_o | θ), ``theta`` ``(..., D)`` → ``(...)``."""
    return -0.5 * np.sum((x_o - theta) ** 2, -1) - D / 2 * math.log(2 * math.pi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--options", default="{}", help="NLE options as JSON")
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--sim-seed", type=int, default=1002)
    ap.add_argument("--pipeline", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    theta, x = sbi.linear_gaussian_simulations(args.sims, D, 1.0, seed=args.sim_seed)
    est = sbi.train("nle", theta, x, sbi.linear_gaussian_prior(D), seed=0,
                    options=json.loads(args.options))
    print("best epochs", [h["best_epoch"] for h in est.history])
    rng = np.random.default_rng(7)
    for x_o in X_OBS:
        th = x_o / 2 + math.sqrt(0.5) * rng.standard_normal((20000, D))  # exact posterior
        q = np.asarray(est.member_log_prob(jnp.asarray(th), jnp.asarray(x_o)), np.float64)
        d = q - ln_like(x_o, th)[None]                                 # (K, n)
        lz_k = logsumexp(d, axis=1) - math.log(d.shape[1])
        line = (f"x_o={x_o}: E_post[ln q_k - ln p] {np.round(d.mean(1), 3)}; IS ln Z_k - truth "
                f"mean {lz_k.mean():+.4f} sd {lz_k.std(ddof=1):.4f}")
        if est.regression is not None:
            lin = []
            for k in range(est.n_members):
                r = est.regression.member(k)
                xr = r.apply(est.x_whitening.apply(np.broadcast_to(x_o, th.shape)),
                             est.theta_whitening.apply(th))
                ql = (-0.5 * np.sum(xr**2, -1) - D / 2 * math.log(2 * math.pi)
                      + est.x_whitening.log_det + r.log_det)
                lin.append(logsumexp(ql - ln_like(x_o, th)) - math.log(len(th)))
            line += f"; linear stages alone {np.mean(lin):+.4f} sd {np.std(lin, ddof=1):.4f}"
        print(line)
    g = np.linspace(-8, 8, 321)
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, D)
    for t in ([0.0, 0.0], [1.5, -1.0], [-2.5, 2.5]):
        q = np.asarray(est.member_log_prob(jnp.asarray(t), jnp.asarray(grid)), np.float64)
        print(f"θ={t}: ∫ q_k dx = {np.round(np.exp(q).sum(1) * (g[1] - g[0]) ** 2, 4)}")
    if not args.pipeline:
        return
    for i, x_o in enumerate(X_OBS[:2]):
        truth = float(sbi.linear_gaussian_ln_z(x_o))
        r = sbi.evidence(est, x_o, seed=i)
        print(f"pipeline x_o={x_o}: ln Z - truth {r.ln_z - truth:+.4f} ± {r.ln_z_err:.4f}, "
              f"z {(r.ln_z - truth) / r.ln_z_err:+.2f}")
        th = x_o / 2 + math.sqrt(0.5) * rng.standard_normal((4, 2500, D))
        lpost = ln_like(x_o, th) - 0.5 * np.sum(th**2, -1) - D / 2 * math.log(2 * math.pi)
        e = harmonic_evidence(list(th), list(lpost), seed=i)
        print(f"  exact ln L π, same harmonic mean: {e.ln_z - truth:+.4f} ± {e.ln_z_err:.4f}")


if __name__ == "__main__":
    main()
