"""Issue 14: the seismic_hypocentre_v1 emulator against held-out pyprop8 simulations, and its
speed beside pyprop8's.

Accuracy: the rms residual per event (over its 10 x 3 x 200 samples) in units of the noise sigma,
on the held-out store (examples/generate_seismic_test.yaml: 200 hypocentres uniform in the box);
target: below 0.2 sigma for 99 % of events. Also how it varies over the box (depth, distance to
the nearest receiver), and a figure of the worst event's traces.

Speed: one hypocentre (all 10 receivers) after jit, median of repeated calls; batch throughput;
pyprop8's time per event measured here on the same machine (``--n-pyprop8`` simulations).

    python benchmarks/seismic_emulator.py --test-store ../data/seismic_test [--emulator NAME]
        [--out docs/seismic] [--n-pyprop8 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test-store", required=True)
    ap.add_argument("--emulator", default="seismic_hypocentre_v1")
    ap.add_argument("--out", default=None, help="folder for the figures and a JSON of figures")
    ap.add_argument("--n-pyprop8", type=int, default=3, help="pyprop8 runs timed (0: skip)")
    ap.add_argument("--threads", type=int, default=1, help="XLA CPU threads for the timing")
    ap.add_argument("--also", nargs="*", default=[],
                    help="more emulator files (e.g. an earlier architecture) timed alongside")
    args = ap.parse_args()
    if args.threads == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                              "intra_op_parallelism_threads=1")
    import jax
    import jax.numpy as jnp

    from cosmoemu import load_emulator
    from cosmoemu.data import open_store
    from cosmoemu.seismic import load_scenario, plot_traces

    sc = load_scenario()
    emu = load_emulator(args.emulator)
    store = open_store(args.test_store)
    theta = store.params()
    truth = store.load("traces")
    pred = np.concatenate([np.asarray(emu.predict(theta[i:i + 50])) for i in
                           range(0, len(theta), 50)])
    rms = np.sqrt(np.mean((pred - truth) ** 2, axis=(1, 2, 3))) / sc.sigma
    peak_rel = np.abs(pred - truth).max(axis=(1, 2, 3)) / np.abs(truth).max(axis=(1, 2, 3))
    d_near = np.min(np.hypot(*(sc.receivers[None] - theta[:, None, :2]).transpose(2, 0, 1)),
                    axis=1)
    fig = {"n_events": int(len(theta)), "emulator": args.emulator,
           "rms_over_sigma": {"p50": float(np.median(rms)), "p95": float(np.percentile(rms, 95)),
                              "p99": float(np.percentile(rms, 99)), "max": float(rms.max())},
           "fraction_below_0.2_sigma": float(np.mean(rms < 0.2)),
           "max_abs_over_peak": {"p50": float(np.median(peak_rel)),
                                 "max": float(peak_rel.max())}}
    print(f"{len(theta)} held-out events: rms residual / sigma p50 {np.median(rms):.4f}, "
          f"p95 {np.percentile(rms, 95):.4f}, p99 {np.percentile(rms, 99):.4f}, max "
          f"{rms.max():.4f} (target p99 < 0.2); below 0.2 sigma: {100 * np.mean(rms < 0.2):.1f} %")
    print(f"max |residual| / event peak: p50 {np.median(peak_rel):.4f}, max {peak_rel.max():.4f}")
    bins = {"depth": (theta[:, 2], [9, 11, 13, 15, 17]),
            "nearest receiver [km]": (d_near, [0, 3, 6, 10, 20])}
    fig["by_region"] = {}
    for name, (v, edges) in bins.items():
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (v >= lo) & (v < hi) if hi != edges[-1] else (v >= lo) & (v <= hi)
            if sel.sum():
                rows.append({"range": [lo, hi], "n": int(sel.sum()),
                             "p50": float(np.median(rms[sel])), "max": float(rms[sel].max())})
                print(f"  {name} in [{lo}, {hi}]: n {sel.sum():3d}, rms/sigma p50 "
                      f"{np.median(rms[sel]):.4f}, max {rms[sel].max():.4f}")
        fig["by_region"][name] = rows
    worst = int(np.argmax(rms))
    print(f"worst event: hypocentre {theta[worst].round(2).tolist()} km, rms/sigma "
          f"{rms[worst]:.4f}, nearest receiver {d_near[worst]:.2f} km")

    # speed: one hypocentre, all receivers
    def timing(model: object) -> tuple[float, float]:
        f = jax.jit(lambda th: model.predict(th, policy="nan"))
        th0 = jnp.asarray(theta[0], jnp.float32)
        f(th0).block_until_ready()
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(200):
                out = f(th0)
            out.block_until_ready()
            times.append((time.perf_counter() - t0) / 200)
        batch = jnp.asarray(np.tile(theta[:1], (1000, 1)), jnp.float32)
        f(batch).block_until_ready()
        t0 = time.perf_counter()
        f(batch).block_until_ready()
        return float(np.median(times)), time.perf_counter() - t0

    single, tb = timing(emu)
    fig["speed"] = {"single_ms": single * 1e3, "batch_1000_ms": tb * 1e3,
                    "events_per_s": 1000 / tb, "threads": args.threads}
    print(f"emulator: one hypocentre (10 receivers) {single * 1e3:.3f} ms after jit (median of "
          f"7 x 200 calls); batch of 1000: {tb * 1e3:.1f} ms = {1000 / tb:.0f} events/s")
    for other in args.also:
        s_o, tb_o = timing(load_emulator(other))
        fig["speed"].setdefault("also", {})[other] = {"single_ms": s_o * 1e3,
                                                      "events_per_s": 1000 / tb_o}
        print(f"  alongside, {other}: {s_o * 1e3:.3f} ms, {1000 / tb_o:.0f} events/s "
              f"({s_o / single:.1f}x the time of {args.emulator})")
    if args.n_pyprop8 > 0:
        from cosmoemu.seismic import simulate

        simulate(theta[0])  # builds the simulator once
        t0 = time.perf_counter()
        for i in range(args.n_pyprop8):
            simulate(theta[i])
        tp = (time.perf_counter() - t0) / args.n_pyprop8
        fig["speed"]["pyprop8_s"] = tp
        fig["speed"]["speed_up"] = tp / single
        print(f"pyprop8: {tp:.2f} s per event -> emulator {tp / single:.0f}x faster "
              f"(target >= 1e4x; <= 0.1 ms)")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plot_traces(truth[worst], pred[worst], sc.times, sigma=sc.sigma,
                    labels=("pyprop8", "emulator"),
                    title=f"worst held-out event {theta[worst].round(2).tolist()} km: rms "
                          f"residual {rms[worst]:.3f} sigma",
                    path=out / "emulator_worst_event.png")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        s = axes[0].scatter(theta[:, 0], theta[:, 1], c=rms, s=14, cmap="viridis")
        axes[0].scatter(*sc.receivers.T, marker="v", color="k", s=30)
        axes[0].set_xlabel("East [km]")
        axes[0].set_ylabel("North [km]")
        axes[0].set_aspect("equal")
        figure.colorbar(s, ax=axes[0], label="rms residual / sigma")
        axes[1].scatter(theta[:, 2], rms, s=10)
        axes[1].set_xlabel("depth [km]")
        axes[1].set_ylabel("rms residual / sigma")
        axes[1].axhline(0.2, color="C3", lw=0.8, label="target (99 % below)")
        axes[1].legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(out / "emulator_accuracy_box.png", dpi=120)
        (out / "emulator_figures.json").write_text(json.dumps(fig, indent=1))
        print(f"figures written to {out}")


if __name__ == "__main__":
    sys.exit(main())
