"""Issue 14: how many pyprop8 simulations the seismic emulator needs (a learning curve).

Trains the shipped architecture (src/cosmoemu/pretrained/configs/seismic_hypocentre_v1.yaml:
kind azimuthal, its hidden layers and learning rate) on the first N events of the training
store for several N, with the same number of optimiser steps per event (epochs fixed), and
measures the rms residual per held-out event in units of the noise sigma.

    python benchmarks/seismic_learning_curve.py --train-store ../data/seismic_train \
        --test-store ../data/seismic_test [--sizes 250 500 1000 2000 4000] [--epochs 150]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources

import numpy as np
import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-store", required=True)
    ap.add_argument("--test-store", required=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 2000, 4000])
    ap.add_argument("--epochs", type=int, default=None, help="default: the shipped config's")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()

    from cosmoemu.data import open_store
    from cosmoemu.emulator._azimuthal import parse_azimuthal_config, train_azimuthal
    from cosmoemu.seismic import load_scenario

    cfg = yaml.safe_load(resources.files("cosmoemu.pretrained").joinpath(
        "configs/seismic_hypocentre_v1.yaml").read_text())
    emu_cfg, tr_cfg = cfg["emulator"], cfg["training"]
    parsed = parse_azimuthal_config(cfg)  # the mechanism's phases and the time basis
    epochs = args.epochs or int(tr_cfg["epochs"])
    sc = load_scenario()
    train, test = open_store(args.train_store), open_store(args.test_store)
    theta_test, truth = test.params(), test.load("traces")
    box = {k: tuple(v) for k, v in train.box.items()}
    rows = []
    print(f"shipped architecture: hidden {emu_cfg['hidden']}, mechanism "
          f"{emu_cfg.get('mechanism')}, n_basis {emu_cfg.get('n_basis')}, {epochs} epochs, "
          f"lr {tr_cfg['learning_rate']}; {len(theta_test)} held-out events")
    print(f"{'N':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (rms residual / sigma)  time")
    for n in args.sizes:
        if n > len(train):
            print(f"{n:>6}  skipped: the store has {len(train)} events")
            continue
        idx = np.arange(n)
        t0 = time.perf_counter()
        emu = train_azimuthal(train.params(idx), train.load("traces", idx), sc.receivers,
                              parameters=train.param_names, box=box,
                              hidden=tuple(emu_cfg["hidden"]), activation=emu_cfg["activation"],
                              epochs=epochs, batch_size=int(tr_cfg["batch_size"]),
                              learning_rate=float(tr_cfg["learning_rate"]),
                              val_fraction=float(tr_cfg["val_fraction"]),
                              seed=int(tr_cfg["seed"]), noise_sigma=sc.sigma,
                              phases=parsed["phases"], n_basis=parsed["n_basis"])
        seconds = time.perf_counter() - t0
        pred = np.concatenate([np.asarray(emu.predict(theta_test[i:i + 50]))
                               for i in range(0, len(theta_test), 50)])
        rms = np.sqrt(np.mean((pred - truth) ** 2, axis=(1, 2, 3))) / sc.sigma
        q = {k: float(np.percentile(rms, p)) for k, p in
             (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))}
        rows.append({"n_events": n, **q, "train_seconds": round(seconds, 1)})
        print(f"{n:>6} {q['p50']:8.4f} {q['p95']:8.4f} {q['p99']:8.4f} {q['max']:8.4f}  "
              f"{seconds:6.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"epochs": epochs, "hidden": emu_cfg["hidden"], "rows": rows}, fh,
                      indent=1)


if __name__ == "__main__":
    sys.exit(main())
