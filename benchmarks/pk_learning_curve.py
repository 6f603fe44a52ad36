"""Learning curve of the matter-power emulators: P(k) error against the training-set size.

For each size N, retrains a shipped P(k) config (``<model>_pk_transfer.yaml``,
``<model>_pk_boost.yaml``) with the first N rows of its training store (same recipe; the
validation split is drawn from those N), optionally with every stage's ``max_epochs`` scaled by
``--epochs-scale`` (the cosine schedule spans ``max_epochs``, so the whole schedule is
compressed; ``patience`` is capped at the new ``max_epochs``), and measures it on a held-out
store with the metric of ``cosmoemu validate pk:...`` (``cosmoemu.matter._validate``): per
cosmology the maximum of |ΔP/P| over 1e-3 <= k <= 5 /Mpc and z <= 3, then percentiles over
cosmologies.

  * transfer: the linear P(k) = A_s (k/0.05)^(n_s-1) T(k, z) of ``MatterPower(transfer, None)``
    against the test store's ``pk_lin``. The transfer trains on the distinct
    (omega_b, omega_cdm, h) points among the N rows (N/20 for the grouped store);
  * boost: the boost emulator alone against the test store's ``pk_nonlin / pk_lin``.

Both are compared on the emulators' own (z, k) grid, which the test store must share (the
shipped generate configs do). Prints a table (N, points trained on, seconds, p50/p95/p99/max,
model file sizes) and writes ``<out>/pk_learning_curve.json`` and ``.png``; the models go to
``--models`` (default ``out/pk_learning_curve``, git-ignored). Sizes already in the JSON with the
same settings are kept, so a stopped run resumes.

Run (hours on 2 cores; the full recipe is 15,000 transfer / 1,200 boost epochs):
    python benchmarks/pk_learning_curve.py --store PATH/pk_lcdm_camb \\
        --test PATH/pk_lcdm_camb_test --what transfer,boost --sizes 5000,10000,20000 \\
        --out docs/matter_power --epochs-scale 0.25
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cosmoemu._config import load_yaml
from cosmoemu.data import open_store
from cosmoemu.emulator import Emulator
from cosmoemu.emulator._trainconfig import train_from_config
from cosmoemu.emulator._validate import training_rows
from cosmoemu.matter import MatterPower
from cosmoemu.matter._validate import (
    K_RANGE,
    TARGETS,
    Z_MAX,
    PkErrors,
    metric_mask,
    relative_errors,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "src" / "cosmoemu" / "pretrained" / "configs"
WHAT = {
    "transfer": "linear P(k) = A_s (k/0.05)^(n_s-1) T of MatterPower(transfer, None) vs pk_lin",
    "boost": "the boost emulator alone vs pk_nonlin / pk_lin",
}
_BATCH = 256


# ---------------------------------------------------------------- the recipe
def parse_overrides(items: Sequence[str]) -> list[tuple[str | None, str, Any]]:
    """``[WHAT:]KEY.PATH=VALUE`` -> (what or None, dotted key, YAML-parsed value)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects [transfer:|boost:]KEY.PATH=VALUE, got {item!r}")
        what, _, key = key.rpartition(":")
        if what and what not in WHAT:
            raise SystemExit(f"--set {item!r}: prefix must be one of {', '.join(WHAT)}")
        out.append((what or None, key, yaml.safe_load(value)))
    return out


def _set(cfg: dict[str, Any], key: str, value: Any) -> None:
    """Set ``cfg[a][b][0]...`` from the dotted ``key`` (integers index lists)."""
    *parents, last = key.split(".")
    node: Any = cfg
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def scale_epochs(cfg: dict[str, Any], scale: float) -> list[dict[str, Any]]:
    """Scale every stage's ``max_epochs`` (at least 1) and cap ``patience`` at it, in place.

    Returns:
        The stages as they will run (first phase, then the finetune's if any).
    """
    training = cfg.setdefault("training", {})
    phases = [training, *([training["finetune"]] if "finetune" in training else [])]
    stages = []
    for phase in phases:
        for st in phase.get("stages", []):
            if scale != 1.0:
                st["max_epochs"] = max(1, round(st["max_epochs"] * scale))
                if "patience" in st:
                    st["patience"] = min(st["patience"], st["max_epochs"])
            stages.append(dict(st))
    return stages


def recipe(what: str, model: str, store: Path, n: int, path: Path, scale: float,
           overrides: Sequence[tuple[str | None, str, Any]]) -> tuple[dict[str, Any],
                                                                      list[dict[str, Any]]]:
    """The shipped config of ``what`` on the first ``n`` rows of ``store``, written to ``path``."""
    cfg = copy.deepcopy(load_yaml(CONFIGS / f"{model}_pk_{what}.yaml"))
    for target, key, value in overrides:
        if target in (None, what):
            _set(cfg, key, value)
    cfg["data"]["store"] = str(store)
    cfg["data"]["max_samples"] = n
    cfg["output"]["path"] = str(path)
    return cfg, scale_epochs(cfg, scale)


# ---------------------------------------------------------------- the metric
def errors_on(emu: Emulator, what: str, test: Any,
              k_range: tuple[float, float] = K_RANGE, z_max: float = Z_MAX) -> PkErrors:
    """Errors of one trained emulator on the test store, on the emulator's own (z, k) grid.

    Args:
        emu: a transfer emulator (compared as the linear P(k)) or a boost emulator (alone).
        what: ``"transfer"`` or ``"boost"``.
        test: the held-out store (``cosmoemu.data.open_store``).
    """
    (_, z, _), (_, k, _) = test.axes("pk_lin")
    z, k = np.asarray(z, np.float64), np.asarray(k, np.float64)
    ez, ek = (np.asarray(a.values, np.float64) for a in emu.axes)
    if z.shape != ez.shape or k.shape != ek.shape or not (
            np.allclose(z, ez, rtol=1e-6, atol=1e-9) and np.allclose(k, ek, rtol=1e-6)):
        raise SystemExit(
            f"the test store's grid ({z.size} z in {z.min():g}..{z.max():g}, {k.size} k in "
            f"{k.min():g}..{k.max():g} /Mpc) is not the emulator's ({ez.size} z, {ek.size} k): "
            "this benchmark compares on the training grid; use a test store generated on it")
    names = list(test.param_names)
    params = test.params()
    need = [*emu.parameters, *(("n_s", "ln10^{10}A_s") if what == "transfer" else ())]
    missing = [p for p in need if p not in names]
    if missing:
        raise SystemExit(f"the test store does not vary {', '.join(missing)} "
                         f"(it has {', '.join(names)})")
    values = {p: params[:, names.index(p)] for p in need}
    n = len(params)
    pred = np.empty((n, z.size, k.size))
    mp = MatterPower(emu, None, name="learning curve") if what == "transfer" else None
    for lo in range(0, n, _BATCH):
        batch = {p: v[lo:lo + _BATCH] for p, v in values.items()}
        if mp is not None:
            pred[lo:lo + _BATCH] = np.asarray(mp(batch, k, z, nonlinear=False, policy="nan"))
        else:
            pred[lo:lo + _BATCH] = np.asarray(emu.predict(batch, policy="nan"))
    inside = np.asarray(emu.in_box({p: values[p] for p in emu.parameters}))
    used, _ = training_rows(emu, test)
    if what == "transfer":
        truth, spectrum, quantity = test.load("pk_lin"), "linear", "pk_lin"
    else:
        truth = test.load("pk_nonlin") / test.load("pk_lin")
        spectrum, quantity = "boost", "pk_nonlin/pk_lin"
    return relative_errors(spectrum, pred, truth, z, k, metric_mask(z, k, k_range, z_max),
                           inside=inside, used=used, quantity=quantity)


# ---------------------------------------------------------------- the run
def distinct_points(store: Any, n: int, inputs: Sequence[str]) -> int:
    """How many distinct ``inputs`` points the first ``n`` rows of ``store`` hold."""
    names = list(store.param_names)
    x = store.params(np.arange(min(n, len(store))))[:, [names.index(p) for p in inputs]]
    return int(len(np.unique(x, axis=0)))


def run_one(what: str, n: int, args: argparse.Namespace, train: Any, test: Any,
            overrides: Sequence[tuple[str | None, str, Any]]) -> dict[str, Any]:
    """Train ``what`` on the first ``n`` rows and measure it: the JSON entry."""
    path = (Path(args.models) / f"{args.model}_pk_{what}_{n}").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg, stages = recipe(what, args.model, Path(args.store).resolve(), n, path,
                         args.epochs_scale, overrides)
    t0 = time.perf_counter()
    res = train_from_config(cfg, progress=False)
    seconds = time.perf_counter() - t0
    errs = errors_on(res.emulator, what, test)
    prov = res.emulator.metadata["training"]["provenance"]
    files = {Path(f).suffix.lstrip("."): Path(f).stat().st_size for f in res.summary["files"]}
    inputs = load_yaml(CONFIGS / f"{args.model}_pk_transfer.yaml")["data"]["inputs"]
    return {
        "train_store": str(Path(args.store).resolve()),
        "test_store": str(Path(args.test).resolve()),
        "rows": min(n, len(train)),
        "transfer_points": distinct_points(train, n, inputs),
        "trained_samples": int(prov["n_samples"]),
        "val_fraction": cfg["training"].get("val_fraction"),
        "epochs_scale": args.epochs_scale,
        "overrides": [list(o) for o in overrides if o[0] in (None, what)],
        "stages": stages,
        "epochs_run": int(len(res.history["train_loss"])),
        "seconds": seconds,
        "best_val_loss": res.summary.get("best_val_loss"),
        "percentiles": errs.percentiles(),
        "n_compared": int(len(errs.rows)),
        "n_outside_box": errs.n_outside_box,
        "n_used_in_training": errs.n_used_in_training,
        "n_nonfinite": errs.n_nonfinite,
        "file_bytes": files,
        "model": str(path),
    }


def _same_settings(entry: Mapping[str, Any], settings: Mapping[str, Any]) -> bool:
    """Whether a recorded entry was made with these settings (then it is kept)."""
    return all(entry.get(key) == value for key, value in settings.items())


def print_table(record: Mapping[str, Any]) -> None:
    head = (f"{'what':9}{'N rows':>8}{'points':>8}{'train s':>9}{'epochs':>8}"
            f"{'p50':>10}{'p95':>10}{'p99':>10}{'max':>10}{'npz B':>11}{'json B':>9}")
    print("\n" + head + "\n" + "-" * len(head))
    for what, block in record["runs"].items():
        for _n, e in sorted(block["sizes"].items(), key=lambda kv: int(kv[0])):
            p = e["percentiles"]
            vals = "".join(f"{p[key]:10.2e}" if key in p else f"{'-':>10}"
                           for key in ("p50", "p95", "p99", "max"))
            print(f"{what:9}{e['rows']:>8}{e['trained_samples']:>8}{e['seconds']:>9.0f}"
                  f"{e['epochs_run']:>8}{vals}{e['file_bytes'].get('npz', 0):>11}"
                  f"{e['file_bytes'].get('json', 0):>9}")
    print("points: samples the model trained on, validation split included (transfer: the "
          "distinct (omega_b, omega_cdm, h) points among the N rows)")
    made = {json.dumps([e.get("epochs_scale"), e.get("overrides")])
            for block in record["runs"].values() for e in block["sizes"].values()}
    if len(made) > 1:
        print("note: the rows were made with different --epochs-scale/--set (see the JSON)")
    print(f"metric: per test cosmology max |dP/P| over k in {record['k_range']} /Mpc, "
          f"z <= {record['z_max']:g}; percentiles over {record['n_test']} test cosmologies")


def plot(record: Mapping[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    targets = TARGETS.get(record["model"], {})
    for i, (what, block) in enumerate(record["runs"].items()):
        sizes = sorted(block["sizes"].items(), key=lambda kv: int(kv[0]))
        sizes = [(int(n), e) for n, e in sizes if e["percentiles"]]
        if not sizes:
            continue
        color = f"C{i}"
        ns = [n for n, _ in sizes]
        label = "linear P (transfer)" if what == "transfer" else "boost alone"
        ax.plot(ns, [e["percentiles"]["p99"] for _, e in sizes], "o-", color=color,
                label=f"{label}, p99")
        ax.plot(ns, [e["percentiles"]["p50"] for _, e in sizes], "s--", color=color,
                label=f"{label}, median")
        if what == "transfer":
            for n, e in sizes:
                ax.annotate(f"{e['trained_samples']} pts", (n, e["percentiles"]["p99"]),
                            textcoords="offset points", xytext=(4, 4), fontsize=7, color=color)
        target = targets.get("linear" if what == "transfer" else "nonlinear")
        if target is not None:
            what_t = "linear P" if what == "transfer" else "non-linear P"
            ax.axhline(target, color=color, ls=":", lw=0.9, label=f"{what_t} target (p99)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training rows N (incl. validation split)")
    ax.set_ylabel(r"max $|\Delta P/P|$, $10^{-3} \leq k \leq 5$/Mpc, $z \leq 3$")
    scales = {e["epochs_scale"] for b in record["runs"].values() for e in b["sizes"].values()}
    ax.set_title(f"{record['model']} P(k) learning curve (epochs x "
                 f"{', '.join(f'{s:g}' for s in sorted(scales))})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--store", required=True, help="training store (the configs' data)")
    ap.add_argument("--test", required=True, help="held-out test store (same (z, k) grid)")
    ap.add_argument("--what", default="transfer,boost", help="transfer, boost or both")
    ap.add_argument("--sizes", default="5000,10000,20000", help="training rows N")
    ap.add_argument("--model", default="lcdm", help="configs <model>_pk_{transfer,boost}.yaml")
    ap.add_argument("--epochs-scale", type=float, default=1.0,
                    help="multiply every stage's max_epochs (recorded in the output)")
    ap.add_argument("--out", default="docs/matter_power", help="JSON + PNG directory")
    ap.add_argument("--models", default=str(ROOT / "out" / "pk_learning_curve"),
                    help="where the trained models go (not for committing)")
    ap.add_argument("--set", action="append", default=[], metavar="[WHAT:]KEY=VALUE",
                    help="override a config field (YAML value), e.g. "
                         "boost:emulator.n_components=64; repeatable; recorded")
    args = ap.parse_args(argv)
    if not args.epochs_scale > 0:
        raise SystemExit(f"--epochs-scale must be > 0, got {args.epochs_scale}")
    whats = [w for w in args.what.split(",") if w]
    for w in whats:
        if w not in WHAT:
            raise SystemExit(f"--what: unknown {w!r}; allowed: {', '.join(WHAT)}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    overrides = parse_overrides(args.set)
    train, test = open_store(args.store), open_store(args.test)
    for q in ("pk_lin", "pk_nonlin"):
        if q not in test.quantities:
            raise SystemExit(f"the test store '{args.test}' holds no {q}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "pk_learning_curve.json"
    record: dict[str, Any] = (json.loads(record_path.read_text()) if record_path.exists()
                              else {})
    record.update({
        "model": args.model,
        "metric": "per test cosmology: max over k_range and z <= z_max of |pred / true - 1|; "
                  "percentiles over test cosmologies",
        "k_range": list(K_RANGE), "z_max": Z_MAX,
        "train_store": str(Path(args.store).resolve()), "n_train_store": len(train),
        "test_store": str(Path(args.test).resolve()), "n_test": len(test),
        "command": " ".join(sys.argv),
    })
    runs = record.setdefault("runs", {})
    for what in whats:
        block = runs.setdefault(what, {})
        block.update({"config": f"{args.model}_pk_{what}.yaml", "compared": WHAT[what]})
        entries = block.setdefault("sizes", {})
        mine = [list(o) for o in overrides if o[0] in (None, what)]
        for n in sizes:
            if n > len(train):
                print(f"{what} N={n}: the store has only {len(train)} rows; trains on all of "
                      "them", flush=True)
            old = entries.get(str(n))
            settings = {"epochs_scale": args.epochs_scale, "overrides": mine,
                        "train_store": record["train_store"], "test_store": record["test_store"]}
            if old is not None and _same_settings(old, settings):
                print(f"{what} N={n}: kept from {record_path}", flush=True)
                continue
            e = run_one(what, n, args, train, test, overrides)
            entries[str(n)] = e
            record_path.write_text(json.dumps(record, indent=1) + "\n")
            p = e["percentiles"]
            print(f"{what} N={n} ({e['trained_samples']} points): p50 {p.get('p50', np.nan):.2e}"
                  f" p99 {p.get('p99', np.nan):.2e}, {e['seconds']:.0f} s, "
                  f"{e['epochs_run']} epochs", flush=True)
    record_path.write_text(json.dumps(record, indent=1) + "\n")
    print_table(record)
    plot(record, out / "pk_learning_curve.png")
    print(f"\nwrote {record_path} and {out / 'pk_learning_curve.png'}")


if __name__ == "__main__":
    main()
