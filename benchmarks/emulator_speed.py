"""Emulator speed: predictions per second at batch 1, 100 and 10^4, and forward + Jacobian.

Also the latency of all four shipped CMB spectra (TT, TE, EE, φφ) for one cosmology in one
jitted call (target ≤ 0.2 ms on the 2-core CPU).

Networks compared side by side in one process:
  * ``cpj-shape``: our MLP with CosmoPower-JAX's TT architecture (6 -> 4x512 -> 2507, log10
    output), random weights: the cost of that shape in our code;
  * ``ours-tt``: the shipped ``lcdm_cmb_tt`` emulator (PCA output) when it exists, else a
    random network of its planned shape;
  * ``cosmopower-jax``: the real CosmoPower-JAX TT model, when ``cosmopower-jax`` is installed
    (``pip install 'cosmoemu[bench]'``); never imported by the library.

Run: ``python benchmarks/emulator_speed.py`` (CPU; set JAX_PLATFORMS=cuda for a GPU).
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_time

from cosmoemu.emulator import Affine, Pow10, init_mlp, make_emulator

PARAMS = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
BOX = ((0.019, 0.026), (0.08, 0.17), (0.55, 0.85), (0.02, 0.12), (0.88, 1.06), (2.7, 3.3))
ELL = np.arange(2, 2509)


def cpj_shape_emulator():
    net = init_mlp(jax.random.PRNGKey(0), (6, 512, 512, 512, 512, 2507), "alsing")
    lo, hi = np.array(BOX).T
    chain = (Affine(np.full(2507, -10.0), np.full(2507, 0.1)), Pow10())
    return make_emulator(
        net,
        Affine((lo + hi) / 2, (hi - lo) / 2),
        chain,
        PARAMS,
        BOX,
        ELL,
        "dense",
        mode_label="ell",
    )


def ours_tt():
    import cosmoemu

    if "lcdm_cmb_tt" in cosmoemu.list_emulators():
        return cosmoemu.load_emulator("lcdm_cmb_tt"), "shipped lcdm_cmb_tt"
    from cosmoemu.emulator import PCA

    k = 96
    net = init_mlp(jax.random.PRNGKey(1), (6, 256, 256, 256, 256, k), "alsing")
    lo, hi = np.array(BOX).T
    comps = np.linalg.qr(np.random.default_rng(0).normal(size=(2507, k)))[0].T
    chain = (
        Affine(np.zeros(k), np.ones(k)),
        PCA(comps),
        Affine(np.full(2507, -10.0), np.full(2507, 0.1)),
        Pow10(),
    )
    emu = make_emulator(
        net, Affine((lo + hi) / 2, (hi - lo) / 2), chain, PARAMS, BOX, ELL, "pca", mode_label="ell"
    )
    return emu, f"random 6-4x256-{k}(PCA)-2507 (no shipped model yet)"


def points(n: int, seed: int = 0) -> np.ndarray:
    lo, hi = np.array(BOX).T
    return (lo + (hi - lo) * np.random.default_rng(seed).random((n, 6))).astype(np.float32)


def bench_ours(emu, batches):
    f = jax.jit(lambda x: emu.predict(x, policy="nan"))
    jac = jax.jit(lambda x: (emu.predict(x, policy="nan"), jax.jacfwd(emu.predict)(x)))
    out = {}
    for b in batches:
        x = jnp.asarray(points(b) if b > 1 else points(1)[0])
        out[b] = best_time(lambda x=x: f(x))
    x1 = jnp.asarray(points(1)[0])
    out["jac"] = best_time(lambda: jac(x1))
    return out


def bench_cpj(batches):
    try:
        from cosmopower_jax.cosmopower_jax import CosmoPowerJAX
    except ImportError:
        return None
    cp = CosmoPowerJAX(probe="cmb_tt", verbose=False)
    out = {}
    for b in batches:
        x = jnp.asarray(points(b) if b > 1 else points(1)[0])
        out[b] = best_time(lambda x=x: cp.predict(x))
    x1 = jnp.asarray(points(1)[0])
    out["jac"] = best_time(lambda: (cp.predict(x1), cp.derivative(x1)))
    return out


def bench_four() -> float | None:
    """Seconds for TT, TE, EE and φφ at one cosmology, one jitted call (None: not shipped)."""
    import cosmoemu

    names = ("lcdm_cmb_tt", "lcdm_cmb_te", "lcdm_cmb_ee", "lcdm_cmb_pp")
    if not set(names) <= set(cosmoemu.list_emulators()):
        return None
    emus = [cosmoemu.load_emulator(n) for n in names]
    f = jax.jit(lambda x: tuple(e.predict(x, policy="nan") for e in emus))
    x1 = jnp.asarray(points(1)[0])
    return best_time(lambda: f(x1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,100,10000")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()})")
    emu, label = ours_tt()
    rows = {
        "cpj-shape (ours, 6-4x512-2507)": bench_ours(cpj_shape_emulator(), batches),
        f"ours-tt: {label}": bench_ours(emu, batches),
    }
    cpj = bench_cpj(batches)
    if cpj is not None:
        rows["cosmopower-jax cmb_tt"] = cpj
    else:
        print("cosmopower-jax not installed: pip install cosmopower-jax to compare with it")
    head = "".join(f"{'batch ' + str(b):>16}" for b in batches) + f"{'fwd+jacobian':>16}"
    print(
        f"\npredictions per second (spectra/s); forward + Jacobian time for one point\n"
        f"{'':46}{head}"
    )
    for name, r in rows.items():
        cells = "".join(f"{b / r[b]:16.4g}" for b in batches) + f"{r['jac'] * 1e3:13.3f} ms"
        print(f"{name:46}{cells}")
    if cpj is not None:
        ours = rows[f"ours-tt: {label}"]
        print("\nratios ours-tt / cosmopower-jax (throughput; >1 = ours faster):")
        print(
            "  "
            + ", ".join(f"batch {b}: {cpj[b] / ours[b]:.2f}x" for b in batches)
            + f", fwd+jacobian: {cpj['jac'] / ours['jac']:.2f}x"
        )
    four = bench_four()
    if four is not None:
        print(f"\nall four shipped spectra (TT, TE, EE, phiphi), one cosmology, one jitted call: "
              f"{four * 1e3:.3f} ms (target <= 0.2 ms on the 2-core CPU)")


if __name__ == "__main__":
    main()
