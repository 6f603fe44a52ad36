"""Amortised NPE of the seismic hypocentre: train, calibrate, compare widths, time.

1. Trains :func:`cosmoemu.sbi.train_amortised` (PCA + posterior-mean regression + conditional
   flow, fresh noise every epoch) on the noise-free training store (``--train``, every row
   present), and saves it (``--model``, npz + JSON).
2. Calibration on the held-out store (``--test``; when it is missing, the last ``--holdout``
   training rows, left out of the training): noise of the scenario's sigma drawn with
   ``numpy.random.default_rng([--noise-seed, i])`` for event ``i``; ``--draws`` posterior draws
   per event; coverage of the 68 / 95 % highest-density (flow density), Mahalanobis and 1-D
   central regions with binomial errors; SBC ranks and their chi-square uniformity test.
3. Compression quality: RMS error of the regression's point estimate on the held-out events.
4. Width against the likelihood posterior: the Gauss-Newton (Fisher / Laplace) sd from central
   finite differences of the true simulator (``benchmarks/seismic_fisher_fd.py``, ``--fisher``)
   and, when an emulator is at ``--emulator``, from its Jacobian at every held-out event.
5. Time per posterior of a new event (compression + ``--draws`` draws), after compilation.

Writes ``--out``/results.json and ``--out``/calibration.png. Run:
``PYTHONPATH=src nice -n 10 python benchmarks/seismic_npe.py [--options '{...}']``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import jax
import numpy as np

from cosmoemu import sbi
from cosmoemu.data import open_store
from cosmoemu.seismic import PARAMETERS, load_scenario


def _noisy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Event ``i`` plus noise from ``default_rng([seed, i])``: ``(B, ...)``."""
    return np.stack([c + sigma * np.random.default_rng([seed, i]).standard_normal(c.shape)
                     for i, c in enumerate(clean)])


def _posteriors(post: sbi.AmortisedPosterior, x: np.ndarray, n: int, seed: int,
                chunk: int = 50) -> np.ndarray:
    out = [np.asarray(post.sample(x[i:i + chunk], n, key=seed + i))
           for i in range(0, len(x), chunk)]
    return np.concatenate(out).astype(np.float64)


def _log_probs(post: sbi.AmortisedPosterior, draws: np.ndarray, x: np.ndarray,
               truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lq = np.stack([np.asarray(post.log_prob(draws[i], x[i])) for i in range(len(x))])
    lt = np.array([float(post.log_prob(truth[i], x[i])) for i in range(len(x))])
    return lq, lt


def _emulator_sd(path: str, theta: np.ndarray, sigma: float) -> np.ndarray | None:
    """Gauss-Newton sd ``(B, 3)`` from the emulator's Jacobian, or None without one."""
    from cosmoemu import load_emulator

    try:
        emu = load_emulator(path)
    except Exception as err:  # noqa: BLE001 - any failure: report and go on without it
        print(f"no emulator at {path}: {type(err).__name__}: {err}")
        return None
    jac = jax.jit(jax.vmap(jax.jacfwd(lambda t: emu.predict(t).reshape(-1))))
    out = []
    for i in range(0, len(theta), 20):
        j = np.asarray(jac(jax.numpy.asarray(theta[i:i + 20])), np.float64)  # (b, N, 3)
        fisher = np.einsum("bni,bnj->bij", j, j) / sigma**2
        out.append(np.sqrt(np.einsum("bii->bi", np.linalg.inv(fisher))))
    return np.concatenate(out)


def _plot(path: Path, levels: dict[str, np.ndarray], ranks: np.ndarray, n_draws: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(16, 3.8))
    grid = np.linspace(0, 1, 101)
    b = len(ranks)
    band = 2 * np.sqrt(grid * (1 - grid) / b)
    ax[0].fill_between(grid, grid - band, grid + band, color="0.85", label="±2σ binomial")
    for name, lv in levels.items():
        cols = lv[:, None] if lv.ndim == 1 else lv
        for j in range(cols.shape[1]):
            lab = name if cols.shape[1] == 1 else f"1-D {PARAMETERS[j]}"
            ax[0].plot(grid, [np.mean(cols[:, j] < g) for g in grid], label=lab)
    ax[0].plot([0, 1], [0, 1], "k:", lw=0.8)
    ax[0].set(xlabel="credible level", ylabel="coverage", title=f"coverage ({b} events)")
    ax[0].legend(fontsize=7)
    bins = 20
    for j in range(3):
        ax[j + 1].hist(ranks[:, j], bins=np.linspace(0, n_draws + 1, bins + 1), color="C0")
        e = b / bins
        ax[j + 1].axhspan(e - 2 * np.sqrt(e), e + 2 * np.sqrt(e), color="0.85", zorder=0)
        ax[j + 1].set(xlabel=f"SBC rank of {PARAMETERS[j]}", title=f"SBC {PARAMETERS[j]}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default="/work/data/seismic_train")
    ap.add_argument("--test", default="/work/data/seismic_test")
    ap.add_argument("--holdout", type=int, default=200,
                    help="without a test store: hold out the last HOLDOUT rows (0: none)")
    ap.add_argument("--options", default="{}", help="AmortisedConfig settings as JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-seed", type=int, default=140)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--model", default="out/seismic_npe")
    ap.add_argument("--load", action="store_true", help="load --model instead of training")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the PCA and regression of --model, train the flow only")
    ap.add_argument("--save", default=None, help="where to save the model (default --model)")
    ap.add_argument("--rows", type=int, default=None,
                    help="use the first ROWS rows of --train (default: all present)")
    ap.add_argument("--emulator-sd", default="docs/seismic_sbi/emulator_laplace.npz",
                    help="Laplace sds from benchmarks/seismic_emulator_laplace.py")
    ap.add_argument("--fisher", default="docs/seismic_sbi/fisher_fd.npz")
    ap.add_argument("--emulator", default="seismic_hypocentre_v1")
    ap.add_argument("--out", default="docs/seismic_sbi")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    sc = load_scenario()
    lo = np.array([sc.box[p][0] for p in PARAMETERS])
    hi = np.array([sc.box[p][1] for p in PARAMETERS])
    res: dict = {"seed": args.seed, "noise_seed": args.noise_seed, "draws": args.draws,
                 "sigma_mm": sc.sigma}

    store = open_store(args.train)
    rows = np.arange(args.rows if args.rows else len(store))
    theta, x = store.params(rows), store.load("traces", rows)
    res["train_rows"] = int(len(rows))
    if Path(args.test).is_dir() and len(open_store(args.test)) > 0:
        ts = open_store(args.test)
        t_test, x_test = ts.params(), ts.load("traces")
        res["test"] = f"{args.test} ({len(ts)} events)"
    elif args.holdout > 0:
        theta, x, t_test, x_test = (theta[:-args.holdout], x[:-args.holdout],
                                    theta[-args.holdout:], x[-args.holdout:])
        res["test"] = f"last {args.holdout} rows of {args.train} (no test store yet)"
    else:
        t_test = x_test = None
        res["test"] = "none (no test store, --holdout 0): train and save only"
    res["n_train"] = len(theta)
    print(f"train {len(theta)} simulations; test: {res['test']}", flush=True)

    save = args.save or args.model
    if args.load:
        post = sbi.load_amortised(args.model)
    else:
        t0 = time.perf_counter()
        post = sbi.train_amortised(theta, x, lo, hi, sc.sigma, names=PARAMETERS,
                                   seed=args.seed, options=json.loads(args.options),
                                   log=lambda m: print(f"[{time.perf_counter() - t0:.0f} s] "
                                                       f"{m}", flush=True),
                                   reuse=sbi.load_amortised(args.model) if args.reuse else None)
        sbi.save_amortised(post, save)
    res["n_train"] = post.n_simulations         # what the model saw (with --load: its own)
    res["config"] = post.summary()["config"]
    res["fit_seconds"] = post.fit_seconds
    res["fit_seconds_total"] = sum(post.fit_seconds.values())
    print("fit seconds", post.fit_seconds, flush=True)
    if t_test is None:
        print(f"saved {save}; no held-out events to evaluate")
        return

    # --- held-out events ----------------------------------------------------------------
    xn = _noisy(x_test, sc.sigma, args.noise_seed)
    t0 = time.perf_counter()
    draws = _posteriors(post, xn, args.draws, seed=1000)
    lq, lt = _log_probs(post, draws, xn, t_test)
    print(f"posteriors of {len(xn)} events in {time.perf_counter() - t0:.1f} s", flush=True)
    point = np.asarray(post.point_estimate(xn), np.float64)
    res["point_rms_km"] = np.sqrt(np.mean((point - t_test) ** 2, 0)).tolist()
    res["posterior_sd_km_median"] = np.median(draws.std(1), 0).tolist()
    res["posterior_mean_rms_err_km"] = np.sqrt(np.mean((draws.mean(1) - t_test) ** 2,
                                                       0)).tolist()
    levels = {"HPD 3-D (flow density)": sbi.hpd_levels(lq, lt),
              "Mahalanobis 3-D": sbi.mahalanobis_levels(draws, t_test),
              "1-D central": sbi.central_levels(draws, t_test)}
    res["coverage"] = {k: sbi.coverage(v) for k, v in levels.items()}
    ranks = sbi.sbc_ranks(draws, t_test)
    res["sbc"] = sbi.rank_uniformity(ranks, args.draws, bins=10)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _plot(out / "calibration.png", levels, ranks, args.draws)

    # --- widths against the likelihood posterior -----------------------------------------
    if Path(args.fisher).is_file():
        f = np.load(args.fisher)
        reps = 50
        ratios, errs = [], []
        for k in range(len(f["theta"])):
            xk = _noisy(np.repeat(f["traces"][k][None], reps, 0), sc.sigma, 7000 + k)
            dk = np.asarray(post.sample(xk, args.draws, key=k), np.float64)
            ratios.append(dk.std(1).mean(0) / f["sigma_1d"][k])
            errs.append(np.sqrt(np.mean((dk.mean(1) - f["theta"][k]) ** 2, 0))
                        / f["sigma_1d"][k])
        ratios = np.array(ratios)
        res["fd_fisher"] = {
            "events": len(ratios), "noise_realisations": reps,
            "fisher_sd_km_median": np.median(f["sigma_1d"], 0).tolist(),
            "npe_over_fisher_sd": ratios.tolist(),
            "npe_over_fisher_sd_mean": ratios.mean(0).tolist(),
            "npe_mean_rms_err_over_fisher_sd": np.mean(errs, 0).tolist()}
        print("NPE sd / Fisher sd (FD, mean over events):", np.round(ratios.mean(0), 3))
    emu_sd = None
    if Path(args.emulator_sd).is_file():
        e = np.load(args.emulator_sd)
        if e["theta_test"].shape == t_test.shape and np.allclose(e["theta_test"], t_test):
            emu_sd = e["sd_test"]
        else:
            print(f"{args.emulator_sd} holds other held-out events: not used")
    elif Path(args.emulator + ".json").exists():
        emu_sd = _emulator_sd(args.emulator, t_test, sc.sigma)
    if emu_sd is not None:
        r = draws.std(1) / emu_sd
        res["emulator_laplace"] = {"emulator": args.emulator, "events": len(r),
                                   "laplace_sd_km_median": np.median(emu_sd, 0).tolist(),
                                   "npe_over_laplace_sd_median": np.median(r, 0).tolist(),
                                   "npe_over_laplace_sd_mean": r.mean(0).tolist()}
        print("NPE sd / emulator Laplace sd (median):", np.round(np.median(r, 0), 3))
        if Path(args.emulator_sd).is_file() and Path(args.fisher).is_file():
            ratio = np.load(args.emulator_sd)["sd_fd"] / np.load(args.fisher)["sigma_1d"]
            res["emulator_laplace"]["emulator_over_fd_fisher_sd"] = ratio.tolist()
            print("emulator Laplace sd / FD Fisher sd:", np.round(ratio.mean(0), 3))

    # --- time per new event ---------------------------------------------------------------
    t0 = time.perf_counter()
    post2 = sbi.load_amortised(save)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    np.asarray(post2.sample(xn[0], args.draws, key=0))
    t_first = time.perf_counter() - t0
    times = []
    for i in range(1, 21):
        t0 = time.perf_counter()
        np.asarray(post2.sample(xn[i], args.draws, key=i))
        times.append(time.perf_counter() - t0)
    res["timing_s"] = {"load": t_load, "first_event_with_compile": t_first,
                       "per_event_median": float(np.median(times)),
                       "per_event_max": float(np.max(times)), "draws": args.draws}
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, indent=1))
    (out / "results.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
