"""Shared by the Planck benchmarks: CAMB spectra with the emulators' settings, theory loading.

CAMB runs through cosmoemu's own CAMB backend with the settings of
``examples/generate_lcdm_cmb.yaml`` (the config that reproduces the shared training set, tested
to 1e-5): one massive neutrino of 0.06 eV, N_eff 3.046, lens_potential_accuracy 1, HMcode 2020
lensing, transfer functions to k = 2/Mpc. Calling CAMB with other settings (e.g. without the
matter-power request) changes lensed C_ell^TT by ~2e-4 at high ell, more than the emulators'
error, so the benchmarks must not.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from cosmoemu.cosmology import T_CMB

PARAMS = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
LMAX = 2508
T_CMB_MUK = T_CMB * 1e6
EMULATORS = {"cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
             "derived": "lcdm_derived"}
TRAINING_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "generate_lcdm_cmb.yaml"


@functools.lru_cache(maxsize=4)
def _backend(boost: float):
    """The training set's CAMB backend (TT, TE, EE only), AccuracyBoost = lAccuracyBoost = boost."""
    from cosmoemu._config import load_yaml
    from cosmoemu.data._genconfig import parse_config

    raw = load_yaml(TRAINING_CONFIG)
    raw["quantities"] = ["tt", "te", "ee"]
    raw.pop("derived", None)
    raw["backend"].setdefault("settings", {}).update(AccuracyBoost=boost, lAccuracyBoost=boost)
    cfg = parse_config(raw)
    return cfg.backend_class(cfg.request, cfg.settings, cfg.fixed)


def camb_dl(row: np.ndarray, boost: float = 1.0) -> np.ndarray:
    """Lensed D_ell^TT, TE, EE [μK²] for ell = 2..2508 at one parameter row, shape (3, 2507).

    ``boost`` > 1 raises CAMB's AccuracyBoost and lAccuracyBoost (for CAMB's own numerical
    error; the emulators were trained at 1)."""
    out = _backend(float(boost)).compute({p: float(v) for p, v in zip(PARAMS, row, strict=True)})
    cl = out["spectra"]  # (3, n_ell) raw C_ell: tt, te, ee in request order, ell = 2..LMAX
    ell = np.arange(2, LMAX + 1)
    fac = ell * (ell + 1) / (2 * np.pi) * T_CMB_MUK**2
    return cl[:, : ell.size] * fac


def camb_dl_many(rows: np.ndarray, workers: int = 2, boost: float = 1.0) -> np.ndarray:
    """:func:`camb_dl` for each row, in ``workers`` processes; shape (n, 3, 2507)."""
    from functools import partial

    from tqdm import tqdm

    # spawn, not fork: the parent process runs JAX threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        jobs = pool.map(partial(camb_dl, boost=boost), rows)
        out = list(tqdm(jobs, total=len(rows), desc="CAMB", unit="cosmo"))
    return np.stack(out)


def load_emulators(directory: str | None, keys: tuple[str, ...] = tuple(EMULATORS),
                   suffix: str = "") -> dict:
    """The demo's emulators (``keys`` of them): shipped names, or model files
    ``DIR/lcdm_cmb_tt`` …; ``suffix`` picks another set of the CMB ones (``"_planck"``: the
    Planck-region polynomials); exits with a clear message when they are missing."""
    import cosmoemu

    emus = {}
    for key in keys:
        name = EMULATORS[key] + (suffix if key.startswith("cmb_") else "")
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
        return np.concatenate(ch.samples), ch.names
    cfg = {k: v for k, v in DEMO_CONFIG.items() if k != "theory"}
    run = load_run_config(cfg, emulators=emus)
    res = sample_posterior(run.posterior, jax.random.key(seed), run.nuts,
                           reference=run.reference)
    print(f"sampled the demo posterior: {res.nuts.stop_reason}")
    return np.concatenate(res.chains.samples), run.posterior.sampled
