"""Validation beyond the emulator: importance-reweight emulator posterior samples with CAMB.

Takes ~200 draws of the demo posterior (Planck plik_lite TTTEEE + low-ell TT + τ prior, ΛCDM +
A_planck), computes CAMB spectra at each (the emulators' CAMB settings), and weights each draw by
L_CAMB / L_emulator (same prior). Prints the effective sample fraction of the weights,
(Σw)² / (N Σw²): close to 1 means the emulator posterior is the CAMB posterior. Also the shift of
each mean under reweighting, in posterior σ.

Run: ``python benchmarks/importance_reweight_camb.py [--chains ROOT] [--n 200]
[--emulators DIR]``. Without ``--chains`` it samples the demo posterior first (a few seconds).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _camb_planck import PARAMS, camb_dl_many, demo_posterior_draws, load_emulators


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", default=None, help="chain root (e.g. cosmoemu_demo/"
                    "planck_lite_lcdm); default: sample the demo posterior now")
    ap.add_argument("--n", type=int, default=200, help="draws to reweight")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="CAMB processes")
    ap.add_argument("--emulators", default=None, help="directory of model files (default: "
                    "the shipped emulators)")
    args = ap.parse_args()

    emus = load_emulators(args.emulators)
    draws, names = demo_posterior_draws(args.chains, emus, args.seed)
    missing = [p for p in (*PARAMS, "A_planck") if p not in names]
    if missing:
        raise SystemExit(f"the chains lack {missing}")
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(draws), size=min(args.n, len(draws)), replace=False))
    sub = draws[pick]
    cosmo = sub[:, [names.index(p) for p in PARAMS]]
    a_planck = sub[:, names.index("A_planck")]

    t0 = time.perf_counter()
    dl_camb = camb_dl_many(cosmo, args.workers)
    print(f"CAMB: {len(cosmo)} cosmologies in {time.perf_counter() - t0:.0f} s")

    from cosmoemu.inference import EmulatorTheory
    from cosmoemu.likelihoods import PlanckLite, cl_from_dl

    with jax.enable_x64(True):
        theory = EmulatorTheory({k: v for k, v in emus.items() if k != "derived"})
        lik = PlanckLite("TTTEEE", low_ell_bins=True)

        def loglike_emu(x, a):
            out = theory.compute({p: x[i] for i, p in enumerate(PARAMS)},
                                 ("cmb_tt", "cmb_te", "cmb_ee"))
            return lik(out["cmb_tt"], out["cmb_te"], out["cmb_ee"], a)

        ll_emu = np.asarray(jax.jit(jax.vmap(loglike_emu))(jnp.asarray(cosmo),
                                                            jnp.asarray(a_planck)))
        d = jnp.asarray(cl_from_dl(dl_camb))  # the likelihood reads raw C_ell
        ll_camb = np.asarray(jax.jit(jax.vmap(lik))(d[:, 0], d[:, 1], d[:, 2],
                                                    jnp.asarray(a_planck)))
    logw = ll_camb - ll_emu
    w = np.exp(logw - logw.max())
    ess_frac = w.sum() ** 2 / (len(w) * np.sum(w**2))
    print(f"\n{len(w)} posterior draws reweighted by L_CAMB / L_emulator")
    print(f"ln w: mean {logw.mean():+.4f}, std {logw.std():.4f}, min {logw.min():+.4f}, "
          f"max {logw.max():+.4f}")
    print(f"effective sample fraction (Σw)²/(N Σw²): {ess_frac:.4f}")
    print("shift of the means under reweighting, in posterior σ:")
    for i, p in enumerate(names):
        x = sub[:, i]
        shift = (np.average(x, weights=w) - x.mean()) / x.std()
        print(f"  {p:<14} {shift:+.3f}")


if __name__ == "__main__":
    main()
