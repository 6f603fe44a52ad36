"""Matter power speed: P(k, z) latency for one cosmology, and throughput against CosmoPower-JAX.

The task timed is the one a likelihood asks for: the non-linear P(k, z) of a cosmology at 8
redshifts (``linspace(0, 3, 8)``), for one cosmology (latency) and for batches of 100 and 10^4
cosmologies (throughput); also the linear P(k, z) and sigma8 for one cosmology.

  * ours: :class:`cosmoemu.matter.MatterPower` — the shipped ``lcdm`` model (emulators
    ``lcdm_pk_transfer`` and ``lcdm_pk_boost``) when it exists, else random-weight stand-ins of
    the planned shapes (transfer: 3 -> 3x128 -> 32 PCA; boost: 7 -> 4x256 -> 64 PCA; both onto
    21 z x 400 k, decode chain coefficient Affine -> PCA -> feature Affine -> Pow10, as training
    builds it). The call returns P on the requested 300 k (``geomspace(1e-3, 5, 300)`` /Mpc):
    the not-a-knot spline in (z, ln k) is included, folded into the output layers;
  * CosmoPower-JAX (``pip install cosmopower-jax``; never imported by the library): its
    ``mpk_lin`` and ``mpk_boost`` models, which take z as an input, so 8 redshifts are 8 input
    rows per cosmology, and non-linear P = linear x boost (two networks, as its ``mpk_nonlin``).
    They predict on their own 420 k (1e-5 to 9.81 /Mpc): no interpolation on that side.
    sigma8 for CPJ is its linear P at z = 0 integrated with a trapezoid on its 420 k (CPJ has
    no sigma8 of its own; the integral is ours, a few lines).

The comparison is like for like: both sides are ``jax.jit``-ed with the redshifts (and our k)
closed over and the parameters traced, warmed up, fed the same float32 (batch, 7) array
(omega_b, omega_cdm, h, n_s, ln10^{10}A_s, c_min, eta_0; CPJ's rows are built from it inside its
jitted function), blocked on, and timed best-of-N with the two sides interleaved round by round,
so a shared machine's load hits both alike. The ratio is the figure to quote, not the absolute
times. Ours runs with ``policy="nan"`` (the box check of a jitted likelihood; CPJ checks
nothing); the default ``policy="raise"`` is timed alone for one cosmology.

Run: ``python benchmarks/matter_power_speed.py [--quick]`` (CPU; JAX_PLATFORMS=cuda for a GPU).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_time, best_times_interleaved

import cosmoemu
from cosmoemu.emulator import PCA, Affine, Axis, Emulator, Pow10, init_mlp, make_emulator
from cosmoemu.matter import MODELS, MatterPower, load_matter_power

NAMES = ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s", "c_min", "eta_0")
# CosmoPower's P(k) box, which our lcdm training set (examples/generate_pk_lcdm.yaml) also uses
BOX = ((0.01875, 0.02625), (0.05, 0.255), (0.64, 0.82), (0.84, 1.1), (1.61, 3.91), (2.0, 4.0),
       (0.5, 1.0))
Z_GRID = np.round(np.linspace(0.0, 4.0, 21), 6)  # the emulators' planned training grid
K_GRID = np.geomspace(1e-4, 10.0, 400)
Z_REQ = np.linspace(0.0, 3.0, 8)  # the request timed
K_REQ = np.geomspace(1e-3, 5.0, 300)


def stand_in(seed: int, n_in: int, hidden: tuple[int, ...], n_pc: int, level: float,
             spread: float) -> Emulator:
    """A random-weight PCA emulator of log10 of a (z, k) quantity on the planned grid.

    ``level``/``spread``: the feature standardisation (mean and scale of the log10 values), so
    that the outputs are of a plausible size.
    """
    names = NAMES[:n_in]
    net = init_mlp(jax.random.PRNGKey(seed), (n_in, *hidden, n_pc), "alsing")
    lo, hi = np.array(BOX[:n_in]).T
    n_out = Z_GRID.size * K_GRID.size
    comps = np.linalg.qr(np.random.default_rng(seed).normal(size=(n_out, n_pc)))[0].T
    chain = (Affine(np.zeros(n_pc), np.ones(n_pc)), PCA(comps),
             Affine(np.full(n_out, level), np.full(n_out, spread)), Pow10())
    axes = [Axis("z", tuple(Z_GRID)), Axis("k", tuple(K_GRID), "1/Mpc")]
    return make_emulator(net, Affine((lo + hi) / 2, (hi - lo) / 2), chain, names,
                         BOX[:n_in], None, "pca", axes=axes)


def ours_model() -> tuple[MatterPower, str]:
    """The shipped lcdm model, or random stand-ins of its planned shapes; and a label."""
    if set(MODELS["lcdm"]) <= set(cosmoemu.list_emulators()):
        return load_matter_power("lcdm"), "shipped lcdm (lcdm_pk_transfer, lcdm_pk_boost)"
    transfer = stand_in(1, 3, (128, 128, 128), 32, 13.0, 0.1)
    boost = stand_in(2, 7, (256, 256, 256, 256), 64, 0.0, 0.01)
    label = ("random-weight STAND-INS (no shipped lcdm_pk_* yet): transfer 3-3x128-32(PCA), "
             "boost 7-4x256-64(PCA), 21 z x 400 k")
    return MatterPower(transfer, boost, name="lcdm-stand-in"), label


def points(n: int, seed: int = 0) -> np.ndarray:
    """``n`` cosmologies uniform in the box, float32 ``(n, 7)``."""
    lo, hi = np.array(BOX).T
    return (lo + (hi - lo) * np.random.default_rng(seed).random((n, len(NAMES)))).astype(
        np.float32)


def _as_params(x: jax.Array) -> dict[str, jax.Array]:
    return {name: x[..., i] for i, name in enumerate(NAMES)}


def ours_fns(mp: MatterPower, policy: str = "nan") -> dict[str, Callable[[jax.Array], Any]]:
    """Jitted ours: x ``(..., 7)`` -> P ``(..., 8, 300)`` (non-linear, linear), sigma8."""
    return {
        "nonlinear": jax.jit(lambda x: mp(_as_params(x), K_REQ, Z_REQ, policy=policy)),
        "linear": jax.jit(lambda x: mp(_as_params(x), K_REQ, Z_REQ, nonlinear=False,
                                       policy=policy)),
        "sigma8": jax.jit(lambda x: mp.sigma8(_as_params(x), policy=policy)),
    }


def cpj_fns() -> tuple[dict[str, Callable[[jax.Array], Any]], np.ndarray] | None:
    """Jitted CosmoPower-JAX, same inputs, P ``(..., 8, 420)``; and its k grid. None: missing."""
    try:
        from cosmopower_jax.cosmopower_jax import CosmoPowerJAX
    except ImportError:
        return None
    lin = CosmoPowerJAX(probe="mpk_lin", verbose=False)
    boost = CosmoPowerJAX(probe="mpk_boost", verbose=False)
    k = np.asarray(lin.modes, np.float64)
    z = jnp.asarray(Z_REQ, jnp.float32)

    def rows(x: jax.Array) -> jax.Array:
        """One row per (cosmology, z): the 7 parameters then z (``mpk_boost``'s order)."""
        x2 = x.reshape(-1, x.shape[-1])
        zz = jnp.tile(z, x2.shape[0])[:, None]
        return jnp.concatenate([jnp.repeat(x2, z.size, axis=0), zz], axis=1)

    def nonlinear(x: jax.Array) -> jax.Array:
        r = rows(x)
        p = lin.predict(jnp.concatenate([r[:, :5], r[:, 7:]], axis=1)) * boost.predict(r)
        return p.reshape(*x.shape[:-1], z.size, k.size)

    def linear(x: jax.Array) -> jax.Array:
        r = rows(x)
        p = lin.predict(jnp.concatenate([r[:, :5], r[:, 7:]], axis=1))
        return p.reshape(*x.shape[:-1], z.size, k.size)

    kj = jnp.asarray(k, jnp.float32)
    lnk = jnp.log(kj)

    def sigma8(x: jax.Array) -> jax.Array:
        x2 = x.reshape(-1, x.shape[-1])
        r = jnp.concatenate([x2[:, :5], jnp.zeros_like(x2[:, :1])], axis=1)
        p = lin.predict(r).reshape(x2.shape[0], k.size)
        kr = kj * (8.0 / x2[:, 2:3])
        w = 3.0 * (jnp.sin(kr) - kr * jnp.cos(kr)) / kr**3
        f = kj**3 * p * w**2 / (2.0 * np.pi**2)
        s2 = jnp.sum(0.5 * (f[:, 1:] + f[:, :-1]) * jnp.diff(lnk), axis=1)
        return jnp.sqrt(s2).reshape(x.shape[:-1])

    return {"nonlinear": jax.jit(nonlinear), "linear": jax.jit(linear),
            "sigma8": jax.jit(sigma8)}, k


def run_cases(ours: dict, cpj: dict | None, batches: list[int], rounds: int,
              min_seconds: float) -> list[tuple[str, int, float, float | None]]:
    """(case, n cosmologies, ours s, CPJ s or None) for each case, interleaved per case."""
    cases = [("P_nl, 1 cosmology x 8 z", "nonlinear", 0),
             ("P_lin, 1 cosmology x 8 z", "linear", 0),
             ("sigma8, 1 cosmology", "sigma8", 0)]
    cases += [(f"P_nl, {b} cosmologies x 8 z", "nonlinear", b) for b in batches]
    out = []
    for label, what, n in cases:
        x = jnp.asarray(points(n)) if n else jnp.asarray(points(1)[0])
        fns = {"ours": lambda f=ours[what], x=x: f(x)}
        if cpj is not None:
            fns["cpj"] = lambda f=cpj[what], x=x: f(x)
        # one call of CPJ at 10^4 takes seconds: time it once per round
        t = best_times_interleaved(fns, rounds, min_seconds if n < 1000 else 0.0)
        out.append((label, max(n, 1), t["ours"], t.get("cpj")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="100,10000", help="batch sizes (cosmologies)")
    ap.add_argument("--rounds", type=int, default=7, help="best of N, interleaved")
    ap.add_argument("--quick", action="store_true", help="3 rounds of ~0.05 s (a short run)")
    args = ap.parse_args()
    rounds, min_seconds = (3, 0.05) if args.quick else (args.rounds, 0.2)
    batches = [int(b) for b in args.batches.split(",") if b]
    print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"float32, best of {rounds} interleaved rounds")
    mp, label = ours_model()
    print(f"ours: {label}")
    ours = ours_fns(mp)
    peer = cpj_fns()
    cpj = None
    if peer is None:
        print("cosmopower-jax not installed: peer missing, timing ours only "
              "(pip install cosmopower-jax to compare)")
    else:
        cpj, k_cpj = peer
        print("CPJ: cosmopower_jax mpk_lin (6 -> 4x512 -> 420) x mpk_boost (8 -> 4x512 -> 420), "
              "z an input: 8 rows per cosmology")
    print(f"grids differ: ours returns {Z_REQ.size} z x {K_REQ.size} k on the requested "
          f"geomspace(1e-3, 5, {K_REQ.size}) /Mpc (spline interpolation included)", end="")
    if cpj is not None:
        print(f"; CPJ returns {Z_REQ.size} z x {k_cpj.size} k on its own grid "
              f"[{k_cpj[0]:.0e}, {k_cpj[-1]:.3g}] /Mpc (no interpolation)")
    else:
        print()

    rows = run_cases(ours, cpj, batches, rounds, min_seconds)
    head = f"{'case':34}{'ours (ms)':>12}{'CPJ (ms)':>12}{'ratio':>9}{'ours cosmo/s':>15}"
    print(f"\n{head}\n{'-' * len(head)}")
    for case, n, t_ours, t_cpj in rows:
        cpj_ms = f"{t_cpj * 1e3:12.3f}" if t_cpj is not None else f"{'-':>12}"
        ratio = f"{t_cpj / t_ours:8.1f}x" if t_cpj is not None else f"{'-':>9}"
        print(f"{case:34}{t_ours * 1e3:12.3f}{cpj_ms}{ratio}{n / t_ours:15.4g}")
    print("ratio = CPJ time / ours (> 1: ours faster); targets: P_nl latency <= 0.3 ms on the "
          "2-core CPU, throughput ratio >= 5x")

    x1 = jnp.asarray(points(1)[0])
    f_raise = ours_fns(mp, policy="raise")["nonlinear"]
    t_raise = best_time(lambda: f_raise(x1), repeats=rounds, min_seconds=min_seconds)
    print(f"\nours P_nl, 1 cosmology, default policy='raise' (box check + host callback "
          f"branch), alone: {t_raise * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
