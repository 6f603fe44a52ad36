"""Calibration of the emulator posterior of the hypocentre: coverage of credible regions.

For each of ``--n-events`` held-out events (noise-free pyprop8 traces from the store
``/work/data/seismic_test``, made with ``examples/generate_seismic_test.yaml``), white noise of
the scenario's sigma is added (seed ``--noise-seed + i`` for event ``i``) and the posterior of
(x, y, depth) under uniform priors on the box is computed with the ``seismic_traces``
likelihood on the emulator:

* ``locate`` (grid + Gauss-Newton, no knowledge of the truth; ``--start truth`` skips it),
  then mode + Laplace covariance (Newton with ``jax.hessian``);
* ``--method nuts`` (default): NUTS (BlackJAX) in coordinates whitened by the Laplace
  covariance, ``--chains`` chains of ``--draws`` draws after ``--warmup`` steps, fixed step
  size ``--step-size`` (a whitened near-Gaussian target needs no adaptation; the mean
  acceptance is printed); ``--method laplace``: the Gaussian approximation alone.

The truth is covered at level a by

* the 3-D region {h : (h - mean)^T C^-1 (h - mean) <= chi2_3(a)} with mean and covariance C of
  the draws (or the Laplace ones); for NUTS also the rank version: the fraction of draws whose
  Mahalanobis distance is below the truth's is < a;
* the 1-D central credible interval of each parameter (draw quantiles, or mean +- z sigma).

Coverage fractions over events are printed with binomial standard errors
sqrt(a (1 - a) / n) beside the nominal 68 % and 95 %.

Run: ``PYTHONPATH=src python benchmarks/seismic_calibration.py [--n-events 100]
[--emulator seismic_hypocentre_v1] [--method nuts|laplace] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import blackjax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from cosmoemu import load_emulator
from cosmoemu.data import open_store
from cosmoemu.likelihoods import DEFAULT_SEISMIC_EMULATOR, SeismicTracesLikelihood
from cosmoemu.seismic import PARAMETERS, load_scenario

LEVELS = (0.68, 0.95)


@eqx.filter_jit
def _nuts(like: SeismicTracesLikelihood, mode: jax.Array, chol: jax.Array, key: jax.Array,
          step_size: float, n_chains: int, n_warmup: int, n_draws: int):
    """NUTS in whitened coordinates z (h = mode + chol z); draws ``(chains, n_draws, 3)``."""
    def logdensity(z):
        ll = like(mode + chol @ z)
        return jnp.where(jnp.isfinite(ll), ll, -jnp.inf)

    kernel = blackjax.nuts(logdensity, step_size, jnp.ones(3, mode.dtype))
    k_init, k_run = jax.random.split(key)
    z0 = 0.5 * jax.random.normal(k_init, (n_chains, 3), mode.dtype)

    def chain(z, k):
        state = kernel.init(z)

        def one(state, kk):
            state, info = kernel.step(kk, state)
            return state, (state.position, info.acceptance_rate, info.is_divergent)

        _, (zs, acc, div) = jax.lax.scan(one, state, jax.random.split(k, n_warmup + n_draws))
        return zs[n_warmup:], acc[n_warmup:], div[n_warmup:]

    zs, acc, div = jax.vmap(chain)(z0, jax.random.split(k_run, n_chains))
    return mode + zs @ chol.T, jnp.mean(acc), jnp.sum(div)


def coverage_flags(truth: np.ndarray, mean: np.ndarray, cov: np.ndarray,
                   draws: np.ndarray | None) -> dict[str, list[bool]]:
    """Whether ``truth`` ``(3,)`` lies in each 68 %/95 % region (3-D and per parameter)."""
    inv = np.linalg.inv(cov)
    d2 = float((truth - mean) @ inv @ (truth - mean))
    out = {"3d_chi2": [bool(d2 <= stats.chi2.ppf(a, 3)) for a in LEVELS]}
    if draws is None:
        z = np.abs(truth - mean) / np.sqrt(np.diag(cov))
        for j, p in enumerate(PARAMETERS):
            out[p] = [bool(z[j] <= stats.norm.ppf(0.5 + a / 2)) for a in LEVELS]
        return out
    dd = draws - mean
    d2_draws = np.einsum("ni,ij,nj->n", dd, inv, dd)
    rank = float(np.mean(d2_draws < d2))
    out["3d_rank"] = [bool(rank < a) for a in LEVELS]
    for j, p in enumerate(PARAMETERS):
        flags = []
        for a in LEVELS:
            lo, hi = np.quantile(draws[:, j], [0.5 - a / 2, 0.5 + a / 2])
            flags.append(bool(lo <= truth[j] <= hi))
        out[p] = flags
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-events", type=int, default=100)
    parser.add_argument("--first", type=int, default=0,
                        help="first store row (events first .. first + n - 1; seeds follow rows)")
    parser.add_argument("--emulator", default=DEFAULT_SEISMIC_EMULATOR,
                        help="shipped name or model path")
    parser.add_argument("--store", default="/work/data/seismic_test")
    parser.add_argument("--method", choices=("nuts", "laplace"), default="nuts")
    parser.add_argument("--start", choices=("locate", "truth"), default="locate")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=100, help="per chain")
    parser.add_argument("--warmup", type=int, default=50, help="per chain, discarded")
    parser.add_argument("--step-size", type=float, default=0.7)
    parser.add_argument("--noise-seed", type=int, default=14_000)
    parser.add_argument("--float32", action="store_true", help="default: float64")
    parser.add_argument("--out", type=Path, default=None, help="write per-event results (JSON)")
    args = parser.parse_args()
    if args.n_events < 1:
        parser.error(f"--n-events must be >= 1, got {args.n_events}")
    jax.config.update("jax_enable_x64", not args.float32)
    sc = load_scenario()
    emu = load_emulator(args.emulator)
    store = open_store(args.store)
    if len(store) < args.first + args.n_events or args.first < 0:
        parser.error(f"--first {args.first} --n-events {args.n_events}: the store "
                     f"'{args.store}' has {len(store)}")
    rows = args.first + np.arange(args.n_events)
    order = [store.param_names.index(p) for p in PARAMETERS]
    truths = store.params(rows)[:, order]
    clean = store.load("traces", rows).astype(np.float64)
    bounds = {p: sc.box[p] for p in PARAMETERS}
    results, flags, t_all = [], {}, time.perf_counter()
    key = jax.random.key(args.noise_seed)
    for i in range(args.n_events):
        t0 = time.perf_counter()
        seed = args.noise_seed + int(rows[i])
        noise = np.random.default_rng(seed).normal(0.0, sc.sigma, clean[i].shape)
        like = SeismicTracesLikelihood(emu, clean[i] + noise, sc.sigma)
        if args.start == "locate":
            start, _ = like.locate(bounds)
        else:
            start = truths[i]
        t_locate = time.perf_counter() - t0
        mode, cov, _ = like.laplace(start)
        t_laplace = time.perf_counter() - t0 - t_locate
        rec = {"truth": truths[i].tolist(), "start": np.asarray(start).tolist(),
               "mode": mode.tolist(), "laplace_sigma": np.sqrt(np.diag(cov)).tolist()}
        if args.method == "nuts":
            dtype = jnp.zeros(()).dtype
            draws, acc, div = _nuts(like, jnp.asarray(mode, dtype),
                                    jnp.asarray(np.linalg.cholesky(cov), dtype),
                                    jax.random.fold_in(key, int(rows[i])), args.step_size,
                                    args.chains, args.warmup, args.draws)
            draws = np.asarray(draws, np.float64).reshape(-1, 3)
            mean, post_cov = draws.mean(0), np.cov(draws.T)
            rec.update(mean=mean.tolist(), sigma=np.sqrt(np.diag(post_cov)).tolist(),
                       acceptance=float(acc), divergences=int(div))
        else:
            draws, mean, post_cov = None, mode, cov
        rec["flags"] = coverage_flags(truths[i], mean, post_cov, draws)
        rec["t_locate_s"], rec["t_laplace_s"] = t_locate, t_laplace
        rec["t_total_s"] = time.perf_counter() - t0
        results.append(rec)
        for name, f in rec["flags"].items():
            flags.setdefault(name, []).append(f)
        z = (np.asarray(rec.get("mean", mode)) - truths[i]) / np.sqrt(np.diag(post_cov))
        acc_text = f"acc {rec['acceptance']:.2f} " if "acceptance" in rec else ""
        print(f"event {i:3d}: truth {np.round(truths[i], 3)} offset/sigma {np.round(z, 2)} "
              f"sigma {np.round(np.sqrt(np.diag(post_cov)), 3)} km {acc_text}"
              f"{rec['t_total_s']:.1f} s", flush=True)
    n = args.n_events
    print(f"\n{n} events, method {args.method}, start {args.start}, emulator {args.emulator}, "
          f"{time.perf_counter() - t_all:.0f} s in all")
    summary = {}
    for name, rows_f in flags.items():
        arr = np.asarray(rows_f, dtype=float)
        cells = []
        for j, a in enumerate(LEVELS):
            frac = float(arr[:, j].mean())
            err = float(np.sqrt(a * (1 - a) / n))
            cells.append(f"{100 * frac:5.1f} % (nominal {100 * a:.0f} +- {100 * err:.1f})")
            summary[f"{name}_{int(100 * a)}"] = frac
        print(f"  {name:8s} " + "   ".join(cells))
    sig = np.array([r.get("sigma", r["laplace_sigma"]) for r in results])
    print("  median sigma (x, y, depth) km:", np.round(np.median(sig, 0), 4))
    if args.method == "nuts":
        print(f"  mean acceptance {np.mean([r['acceptance'] for r in results]):.3f}, "
              f"divergences {sum(r['divergences'] for r in results)}")
    times = np.array([[r["t_locate_s"], r["t_laplace_s"], r["t_total_s"]] for r in results])
    print("  median seconds per event (locate, laplace, total):", np.round(np.median(times, 0),
                                                                          2))
    if args.out is not None:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                        "summary": summary, "events": results}, indent=1))


if __name__ == "__main__":
    main()
