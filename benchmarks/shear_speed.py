"""Cosmic-shear speed: our Limber C_ℓ and 37-parameter likelihood beside jax-cosmo and CCL.

Set-up (the Euclid-like analysis of examples/euclid_like_shear.yaml): 10 equipopulated bins of
the Smail parent (z0 = 0.9/√2, α = 1.5, σ_z = 0.05(1+z)), 55 spectra at the 30 geometric ℓ-bin
centres in [10, 5000], NLA alignments per bin, dz and m per bin.

* ours: :class:`cosmoemu.cosmology.ShearSpectra` on the shipped HMcode-2016 emulators (spectra
  alone), and the whole 37-parameter log-posterior (``Posterior.logdensity``: priors, spectra,
  χ² with the Gaussian covariance) and its gradient;
* jax-cosmo 0.1.0 (``pip install jax-cosmo``; benchmark-only): ``angular_cl`` of a
  ``WeakLensing`` probe with the same n(z) tables (interpolated), NLA bias per bin and m per bin,
  its default Eisenstein–Hu + halofit P(k) (it has no HMcode), and the gradient of the same
  Gaussian χ² in the same 37 parameters (dz as shifts of the tables, like ours);
* CCL (pyccl 3.3.6 + CAMB HMcode-2016, ``benchmarks/_ccl_reference.py``; no gradient): one
  evaluation of the 55 spectra (CAMB included, as a sampler would pay it).

Compile times are for the first call (jit tracing + XLA), evaluation times best-of-N after it.
Run: ``python benchmarks/shear_speed.py [--no-jax-cosmo] [--no-ccl]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_time

import cosmoemu
from cosmoemu.cosmology import ShearSpectra
from cosmoemu.inference._from_config import load_run_config
from cosmoemu.likelihoods import survey_nz

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "euclid_like_shear.yaml"


def _first_call(fn, *args) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def ours() -> dict[str, float]:
    run = load_run_config(CONFIG)
    post = run.posterior
    u = post.unconstrain(jnp.asarray([run.reference[n] for n in post.sampled], jnp.float32))
    lp = jax.jit(lambda v: post.logdensity(v))
    vg = jax.jit(jax.value_and_grad(lambda v: post.logdensity(v)))
    lik = post.likelihoods[0]
    spectra: ShearSpectra = lik.shear
    p = {n: jnp.float32(run.reference[n]) for n in lik.params}
    cl = jax.jit(lambda q: spectra(q))
    out = {"compile_cl": _first_call(cl, p), "compile_logpost": _first_call(lp, u),
           "compile_grad": _first_call(vg, u)}
    out["cl"] = best_time(lambda: cl(p))
    out["logpost"] = best_time(lambda: lp(u))
    out["grad"] = best_time(lambda: vg(u))
    return out


def jax_cosmo() -> dict[str, float]:
    import jax_cosmo as jc

    z, nz = survey_nz("euclid")
    edges = np.geomspace(10.0, 5000.0, 31)
    ell = jnp.asarray(np.sqrt(edges[1:] * edges[:-1]))

    @jax.tree_util.register_pytree_node_class
    class Table(jc.redshift.redshift_distribution):
        def pz_fn(self, zz):
            table, shift = self.params
            return jnp.interp(zz - shift, jnp.asarray(z), table, left=0.0, right=0.0)

    n_bins = nz.shape[0]

    def spectra(theta):
        cosmo = jc.Planck15(Omega_c=theta[1] / theta[2] ** 2, Omega_b=theta[0] / theta[2] ** 2,
                            h=theta[2], n_s=theta[3],
                            sigma8=0.8 * jnp.exp(0.5 * (theta[4] - 3.05)))
        a_ia, dz, m = theta[7:17], theta[17:27], theta[27:37]
        bins = [Table(jnp.asarray(nz[i]), dz[i], zmax=4.0) for i in range(n_bins)]
        ia = [jc.bias.constant_linear_bias(a_ia[i]) for i in range(n_bins)]
        probe = jc.probes.WeakLensing(bins, ia_bias=ia, multiplicative_bias=list(m))
        return jc.angular_cl.angular_cl(cosmo, ell, [probe])

    theta0 = jnp.asarray([0.0224, 0.12, 0.67, 0.965, 3.05, 2.6, 0.7,
                          *np.linspace(0.9, 0.0, 10), *np.zeros(10), *np.full(10, 0.01)])
    data = jax.jit(spectra)(theta0)
    sigma = 0.05 * jnp.abs(data) + 1e-12

    def loglike(theta):
        return -0.5 * jnp.sum(((spectra(theta) - data) / sigma) ** 2)

    f = jax.jit(spectra)
    g = jax.jit(jax.value_and_grad(loglike))
    theta = theta0 * 1.001
    out = {"compile_cl": _first_call(f, theta), "compile_grad": _first_call(g, theta)}
    out["cl"] = best_time(lambda: f(theta), repeats=3, min_seconds=0.0)
    out["grad"] = best_time(lambda: g(theta), repeats=3, min_seconds=0.0)
    return out


def ccl() -> dict[str, float]:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _ccl_reference import ccl_shear_cl

    z, nz = survey_nz("euclid")
    edges = np.geomspace(10.0, 5000.0, 31)
    ell = np.sqrt(edges[1:] * edges[:-1])
    p = {"omega_b": 0.0224, "omega_cdm": 0.12, "h": 0.67, "n_s": 0.965, "ln10^{10}A_s": 3.05,
         "c_min": 2.6, "eta_0": 0.7, **{f"A_IA_{i}": 0.5 for i in range(1, 11)},
         **{f"m_{i}": 0.01 for i in range(1, 11)}}
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        ccl_shear_cl(p, ell, z, nz)
        times.append(time.perf_counter() - t0)
    return {"cl": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-jax-cosmo", action="store_true")
    parser.add_argument("--no-ccl", action="store_true")
    args = parser.parse_args()
    print(f"cosmoemu {cosmoemu.__version__}, jax {jax.__version__}, {jax.devices()[0]}")
    rows = {"ours": ours()}
    if not args.no_jax_cosmo:
        rows["jax-cosmo"] = jax_cosmo()
    if not args.no_ccl:
        rows["CCL"] = ccl()
    print(f"{'':10s} {'C_ell eval':>12s} {'logL+grad':>12s} {'compile C_ell':>14s} "
          f"{'compile grad':>13s}")
    for name, r in rows.items():
        def ms(key, r=r):
            return f"{r[key] * 1e3:10.2f} ms" if key in r else f"{'-':>13s}"

        def s(key, r=r):
            return f"{r[key]:12.1f} s" if key in r else f"{'-':>14s}"

        print(f"{name:10s} {ms('cl')} {ms('grad')} {s('compile_cl')} {s('compile_grad')}")
    base = rows["ours"]
    for name, r in rows.items():
        if name == "ours":
            continue
        ratio = [f"C_ell ×{r['cl'] / base['cl']:.0f}"]
        if "grad" in r:
            ratio.append(f"gradient ×{r['grad'] / base['grad']:.0f}")
        print(f"ours vs {name}: " + ", ".join(ratio) + " faster")
    print(f"ours: 37-parameter log-posterior {base['logpost'] * 1e3:.2f} ms, with gradient "
          f"{base['grad'] * 1e3:.2f} ms (target ≤ 10 ms)")


if __name__ == "__main__":
    main()
