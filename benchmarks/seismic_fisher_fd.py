"""Likelihood (Fisher / Laplace) widths of the seismic hypocentre from the true simulator.

For ``--events`` hypocentres drawn uniformly (``--seed``) inside the prior box (a 1 km margin
so that every finite-difference point is inside), the Jacobian ``J = d traces / d theta``
``(6000, 3)`` by central differences of :func:`cosmoemu.seismic.simulate` with step ``--step``
km (6 simulations per event), the Gauss-Newton covariance ``(J^T J / sigma^2)^-1`` and its 1-D
widths. The first ``--check`` events are repeated with half the step, to show the differences
have converged. Writes ``--out`` (npz: theta, traces, jacobian, cov, sigma_1d, step; plus
the half-step widths) for ``benchmarks/seismic_npe.py``.

Run: ``nice -n 10 python benchmarks/seismic_fisher_fd.py`` (~90 simulations, a few minutes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cosmoemu.seismic import PARAMETERS, Simulator, load_scenario


def jacobian(sim: Simulator, theta: np.ndarray, step: float) -> np.ndarray:
    """Central-difference Jacobian of the flattened traces at ``theta`` ``(3,)`` → ``(N, 3)``."""
    cols = []
    for i in range(3):
        d = np.zeros(3)
        d[i] = step
        cols.append((sim(theta + d).ravel() - sim(theta - d).ravel()) / (2 * step))
    return np.stack(cols, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--check", type=int, default=3)
    ap.add_argument("--step", type=float, default=0.05, help="km")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--out", default="docs/seismic_sbi/fisher_fd.npz")
    args = ap.parse_args()
    sc = load_scenario()
    sim = Simulator(sc)
    lo = np.array([sc.box[p][0] for p in PARAMETERS]) + 1.0
    hi = np.array([sc.box[p][1] for p in PARAMETERS]) - 1.0
    rng = np.random.default_rng(args.seed)
    theta = lo + (hi - lo) * rng.random((args.events, 3))
    traces, jac, cov, half = [], [], [], []
    t0 = time.perf_counter()
    for k, th in enumerate(theta):
        traces.append(sim(th))
        j = jacobian(sim, th, args.step)
        c = np.linalg.inv(j.T @ j / sc.sigma**2)
        jac.append(j)
        cov.append(c)
        line = f"event {k} theta {np.round(th, 3)} sigma_1d {np.round(np.sqrt(np.diag(c)), 4)}"
        if k < args.check:
            j2 = jacobian(sim, th, args.step / 2)
            s2 = np.sqrt(np.diag(np.linalg.inv(j2.T @ j2 / sc.sigma**2)))
            half.append(s2)
            line += f" (half step {np.round(s2, 4)})"
        print(line, f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    cov = np.array(cov)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, theta=theta, traces=np.array(traces), jacobian=np.array(jac), cov=cov,
             sigma_1d=np.sqrt(np.einsum("kii->ki", cov)), sigma_1d_half_step=np.array(half),
             step=args.step, seed=args.seed, noise_sigma=sc.sigma)
    print("wrote", out)


if __name__ == "__main__":
    main()
