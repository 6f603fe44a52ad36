"""Laplace (Gauss-Newton) widths of the seismic hypocentre from a trace emulator's Jacobian.

``sd = sqrt(diag((J^T J / sigma^2)^-1))`` with ``J = jax.jacfwd(emu.predict)`` at the
hypocentres of the held-out events of ``benchmarks/seismic_npe.py`` (``--test`` store, or the
last ``--holdout`` rows of ``--train``) and at those of the finite-difference Fisher file
(``--fisher``). Writes ``--out`` (npz: theta_test, sd_test, theta_fd, sd_fd), which
``seismic_npe.py --emulator-sd`` reads. A separate script so that it can run with the code
version that reads the emulator's kind (``PYTHONPATH=...``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cosmoemu import load_emulator
from cosmoemu.data import open_store
from cosmoemu.seismic import load_scenario


def laplace_sd(emu, theta: np.ndarray, sigma: float) -> np.ndarray:
    """Gauss-Newton sd ``(B, 3)`` at ``theta`` ``(B, 3)``."""
    jac = jax.jit(jax.vmap(jax.jacfwd(lambda t: emu.predict(t).reshape(-1))))
    out = []
    for i in range(0, len(theta), 20):
        j = np.asarray(jac(jnp.asarray(theta[i:i + 20])), np.float64)      # (b, N, 3)
        fisher = np.einsum("bni,bnj->bij", j, j) / sigma**2
        out.append(np.sqrt(np.einsum("bii->bi", np.linalg.inv(fisher))))
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emulator", default="seismic_hypocentre_v1")
    ap.add_argument("--train", default="/work/data/seismic_train")
    ap.add_argument("--test", default="/work/data/seismic_test")
    ap.add_argument("--holdout", type=int, default=200)
    ap.add_argument("--n-train", type=int, default=3000,
                    help="rows of --train the NPE saw plus the held-out ones")
    ap.add_argument("--fisher", default="docs/seismic_sbi/fisher_fd.npz")
    ap.add_argument("--out", default="docs/seismic_sbi/emulator_laplace.npz")
    args = ap.parse_args()
    sigma = load_scenario().sigma
    emu = load_emulator(args.emulator)
    if Path(args.test).is_dir():
        t_test = open_store(args.test).params()
    else:
        t_test = open_store(args.train).params()[:args.n_train][-args.holdout:]
    f = np.load(args.fisher)
    sd_fd = laplace_sd(emu, f["theta"], sigma)
    print("emulator / FD Fisher sd per event:\n", np.round(sd_fd / f["sigma_1d"], 3))
    np.savez(args.out, theta_test=t_test, sd_test=laplace_sd(emu, t_test, sigma),
             theta_fd=f["theta"], sd_fd=sd_fd, emulator=args.emulator)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
