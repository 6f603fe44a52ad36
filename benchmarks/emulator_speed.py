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

The comparison is like for like: both sides are ``jax.jit``-ed (as a user runs them), warmed up,
fed the same float32 batch, blocked on (``block_until_ready``), and timed best-of-N with the
two sides interleaved round by round, so a shared machine's load hits both alike. The ratio is
the figure to quote, not the absolute times. ``--breakdown`` adds where our time goes at the
largest batch: the network alone, and the bare cost of writing a fresh (batch, 2507) float32
array, which both codes pay.

Run: ``python benchmarks/emulator_speed.py`` (CPU; set JAX_PLATFORMS=cuda for a GPU).
"""

from __future__ import annotations

import argparse
import time

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


def _interleaved(fns: dict, x, rounds: int) -> dict:
    """Best wall time of each function on ``x``, timed round-robin (warm, blocked)."""
    for f in fns.values():
        jax.block_until_ready(f(x))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, f in fns.items():
            inner = 1 if x.ndim > 1 and x.shape[0] >= 1000 else 200
            t0 = time.perf_counter()
            for _ in range(inner):
                out = f(x)
            jax.block_until_ready(out)
            best[name] = min(best[name], (time.perf_counter() - t0) / inner)
    return best


def bench_pair(emu, batches, rounds):
    """Ours and CosmoPower-JAX's TT side by side, both jitted; None without cosmopower-jax."""
    try:
        from cosmopower_jax.cosmopower_jax import CosmoPowerJAX
    except ImportError:
        return None
    cp = CosmoPowerJAX(probe="cmb_tt", verbose=False)
    fns = {"ours": jax.jit(lambda x: emu.predict(x, policy="nan")), "cpj": jax.jit(cp.predict)}
    out = {"ours": {}, "cpj": {}}
    for b in batches:
        x = jnp.asarray(points(b) if b > 1 else points(1)[0])
        t = _interleaved(fns, x, rounds)
        for k in out:
            out[k][b] = t[k]
    x1 = jnp.asarray(points(1)[0])
    jac = {"ours": jax.jit(lambda x: (emu.predict(x, policy="nan"), jax.jacfwd(emu.predict)(x))),
           "cpj": jax.jit(lambda x: (cp.predict(x), jax.jacfwd(cp.predict)(x)))}
    t = _interleaved(jac, x1, rounds)
    for k in out:
        out[k]["jac"] = t[k]
    return out


def breakdown(emu, batch, rounds) -> dict:
    """Where our time goes at ``batch``: network only, full predict, writing the output."""
    x = jnp.asarray(points(batch))
    y = jnp.ones((batch, emu.n_modes), jnp.float32)
    fns = {"network only": jax.jit(lambda x: emu.network(emu.input_transform.encode_jax(x))),
           "full predict": jax.jit(lambda x: emu.predict(x, policy="nan"))}
    t = _interleaved(fns, x, rounds)
    t["write a fresh (batch, n_modes) float32 array (y * 2)"] = _interleaved(
        {"w": jax.jit(lambda y: y * 2.0)}, y, rounds)["w"]
    return t


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
    ap.add_argument("--rounds", type=int, default=15, help="best of N, interleaved")
    ap.add_argument("--breakdown", action="store_true", help="where our time goes")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()})")
    emu, label = ours_tt()
    pair = bench_pair(emu, batches, args.rounds)
    rows = {"cpj-shape (ours, 6-4x512-2507)": bench_ours(cpj_shape_emulator(), batches)}
    if pair is not None:
        rows[f"ours-tt: {label}"] = pair["ours"]
        rows["cosmopower-jax cmb_tt (jitted)"] = pair["cpj"]
    else:
        rows[f"ours-tt: {label}"] = bench_ours(emu, batches)
        print("cosmopower-jax not installed: pip install cosmopower-jax to compare with it")
    head = "".join(f"{'batch ' + str(b):>16}" for b in batches) + f"{'fwd+jacobian':>16}"
    print(
        f"\npredictions per second (spectra/s); forward + Jacobian time for one point\n"
        f"{'':46}{head}"
    )
    for name, r in rows.items():
        cells = "".join(f"{b / r[b]:16.4g}" for b in batches) + f"{r['jac'] * 1e3:13.3f} ms"
        print(f"{name:46}{cells}")
    if pair is not None:
        ours, cpj = pair["ours"], pair["cpj"]
        print("\nratios ours-tt / cosmopower-jax, both jitted (throughput; >1 = ours faster):")
        print(
            "  "
            + ", ".join(f"batch {b}: {cpj[b] / ours[b]:.2f}x" for b in batches)
            + f", fwd+jacobian: {cpj['jac'] / ours['jac']:.2f}x"
        )
    if args.breakdown:
        b = max(batches)
        print(f"\nwhere our time goes at batch {b} (best of {args.rounds}):")
        for name, t in breakdown(emu, b, args.rounds).items():
            print(f"  {name:58s} {t * 1e3:8.1f} ms")
    four = bench_four()
    if four is not None:
        print(f"\nall four shipped spectra (TT, TE, EE, phiphi), one cosmology, one jitted call: "
              f"{four * 1e3:.3f} ms (target <= 0.2 ms on the 2-core CPU)")


if __name__ == "__main__":
    main()
