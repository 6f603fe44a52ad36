"""Shared by the Planck benchmarks: CAMB spectra with the emulators' settings, theory loading.

CAMB settings: those of the shared training set (``cmb_lcdm_camb/README.md``) — one massive
neutrino of 0.06 eV, N_eff 3.046, ``set_for_lmax(2508, lens_potential_accuracy=1)`` (non-linear
lensing), lensed scalar C_ell.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

PARAMS = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
LMAX = 2508
T_CMB_MUK = 2.7255e6
EMULATORS = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
             "derived": "lcdm_derived"}


def camb_dl(row: np.ndarray, boost: float = 1.0) -> np.ndarray:
    """Lensed D_ell^TT, TE, EE [μK²] for ell = 2..2508 at one parameter row, shape (3, 2507).

    ``boost`` > 1 raises CAMB's AccuracyBoost and lAccuracyBoost (for CAMB's own numerical
    error; the emulators were trained at 1)."""
    import camb

    ob, oc, h, tau, ns, lnas = (float(v) for v in row)
    pars = camb.CAMBparams()
    pars.set_cosmology(H0=100 * h, ombh2=ob, omch2=oc, mnu=0.06, nnu=3.046, tau=tau)
    pars.InitPower.set_params(As=np.exp(lnas) * 1e-10, ns=ns)
    pars.set_for_lmax(LMAX, lens_potential_accuracy=1)
    if boost != 1.0:
        pars.set_accuracy(AccuracyBoost=boost, lAccuracyBoost=boost)
    res = camb.get_results(pars)
    cl = res.get_lensed_scalar_cls(lmax=LMAX, CMB_unit=None, raw_cl=True)  # TT EE BB TE
    ell = np.arange(2, LMAX + 1)
    fac = ell * (ell + 1) / (2 * np.pi) * T_CMB_MUK**2
    return np.stack([cl[2:, 0] * fac, cl[2:, 3] * fac, cl[2:, 1] * fac])


def camb_dl_many(rows: np.ndarray, workers: int = 2, boost: float = 1.0) -> np.ndarray:
    """:func:`camb_dl` for each row, in ``workers`` processes; shape (n, 3, 2507)."""
    from functools import partial

    from tqdm import tqdm

    # spawn, not fork: the parent process runs JAX threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        jobs = pool.map(partial(camb_dl, boost=boost), rows)
        out = list(tqdm(jobs, total=len(rows), desc="CAMB", unit="cosmo"))
    return np.stack(out)


def load_emulators(directory: str | None, keys: tuple[str, ...] = tuple(EMULATORS)) -> dict:
    """The demo's emulators (``keys`` of them): shipped names, or model files
    ``DIR/lcdm_cmb_tt`` …; exits with a clear message when they are missing."""
    import cosmoemu

    emus = {}
    for key in keys:
        name = EMULATORS[key]
        target = str(Path(directory) / name) if directory else name
        try:
            emus[key] = cosmoemu.load_emulator(target)
        except (ValueError, FileNotFoundError) as err:
            sys.exit(
                f"cannot load emulator '{target}': {err}\n"
                "This benchmark needs the trained CMB emulators (lcdm_cmb_tt/te/ee, "
                "lcdm_derived): wait for the shipped models, or pass --emulators DIR with "
                "model files of those names."
            )
    return emus


def demo_posterior_draws(chains: str | None, emus: dict, seed: int = 0
                         ) -> tuple[np.ndarray, tuple[str, ...]]:
    """Draws of the demo posterior, ``(n, n_sampled)`` and the sampled names: read from the
    chain root ``chains`` (ours or Cobaya's), or sampled now with NUTS (a few seconds)."""
    import jax

    from cosmoemu.inference import load_run_config, read_chains, sample_posterior
    from cosmoemu.inference._demo import DEMO_CONFIG

    if chains:
        ch = read_chains(chains)
        return ch.samples.reshape(-1, len(ch.names)), ch.names
    cfg = {k: v for k, v in DEMO_CONFIG.items() if k != "theory"}
    run = load_run_config(cfg, emulators=emus)
    res = sample_posterior(run.posterior, jax.random.key(seed), run.nuts,
                           reference=run.reference)
    print(f"sampled the demo posterior: {res.nuts.stop_reason}")
    return res.chains.samples.reshape(-1, run.posterior.ndim), run.posterior.sampled
