"""Learning curve: emulator error against the number of training spectra.

Retrains a shipped emulator's config with the first N samples of its data (same recipe,
validation split drawn from those N) and measures the error on a held-out test store with the
metric of ``cosmoemu validate``. Prints a table and writes JSON + PNG.

Run (hours on 2 cores):
    python benchmarks/learning_curve.py --store ../shared/data/cmb_lcdm_camb \
        --test /path/to/test_store --sizes 625,1250,2500 --spectra tt,te,ee --out docs/accuracy
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

from cosmoemu._config import load_yaml
from cosmoemu.emulator import read_emulator
from cosmoemu.emulator._trainconfig import train_from_config
from cosmoemu.emulator._validate import emulator_errors

CONFIGS = Path(__file__).parents[1] / "src" / "cosmoemu" / "pretrained" / "configs"


def errors_on(emu, test, quantity):
    from cosmoemu.data import open_store

    st = open_store(test)
    x = st.params()
    cls = {q: st.load(q) for q in ("tt", "te", "ee") if q in st.quantities}
    res = emulator_errors(emu, x, st.load(quantity), quantity, cls)
    return res.percentiles()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", required=True, help="training store (the shipped configs' data)")
    ap.add_argument("--test", required=True, help="held-out test store")
    ap.add_argument("--sizes", default="625,1250,2500")
    ap.add_argument("--spectra", default="tt,te,ee")
    ap.add_argument("--out", default="learning_curve")
    ap.add_argument(
        "--shipped", action="store_true", help="also evaluate the shipped model (all 5,000 spectra)"
    )
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "learning_curve.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    for sp in args.spectra.split(","):
        cfg_path = CONFIGS / f"lcdm_cmb_{sp}.yaml"
        base = load_yaml(cfg_path)
        rows = record.setdefault(sp, {})
        if args.shipped:
            emu = read_emulator(CONFIGS.parent / "models" / f"lcdm_cmb_{sp}")
            rows["5000"] = {"percentiles": errors_on(emu, args.test, sp), "seconds": None}
        for n in [int(s) for s in args.sizes.split(",")]:
            if str(n) in rows:
                continue
            cfg = copy.deepcopy(base)
            cfg["data"]["store"] = str(Path(args.store).resolve())
            cfg["data"]["max_samples"] = n
            cfg["output"]["path"] = str((out / f"lc_{sp}_{n}").resolve())
            t0 = time.time()
            res = train_from_config(cfg, progress=False)
            pc = errors_on(res.emulator, args.test, sp)
            rows[str(n)] = {"percentiles": pc, "seconds": time.time() - t0}
            record_path.write_text(json.dumps(record, indent=1))
            print(
                f"{sp} N={n}: p99 max error {pc['p99']:.4f} sigma ({time.time() - t0:.0f} s)",
                flush=True,
            )
    record_path.write_text(json.dumps(record, indent=1))
    print(f"\n{'spectrum':10}{'N train':>10}{'median':>10}{'p95':>10}{'p99':>10}")
    for sp, rows in record.items():
        for n, r in sorted(rows.items(), key=lambda kv: int(kv[0])):
            p = r["percentiles"]
            print(f"{sp:10}{n:>10}{p['p50']:10.4f}{p['p95']:10.4f}{p['p99']:10.4f}")
    _plot(record, out / "learning_curve.png")


def _plot(record, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for sp, rows in record.items():
        ns = sorted(int(n) for n in rows)
        # N counts all spectra given to training (10 % of them are the validation split)
        ax.plot(ns, [rows[str(n)]["percentiles"]["p99"] for n in ns], "o-", label=sp.upper())
    ax.axhline(0.1, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training spectra (incl. 10 % validation)")
    ax.set_ylabel(r"99th percentile of max $|\Delta C_\ell|/\sigma_\ell$")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
