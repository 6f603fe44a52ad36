"""Issue 14: the seismologist's figures of the example event, from `cosmoemu sample` chains.

Reads the chains of ``cosmoemu sample examples/seismic_hypocentre.yaml --output ROOT`` and the
example's observed file; draws (1) the data, the emulator's traces at the posterior
mean and the residual, per receiver; (2) the hypocentre posterior in map view and depth
sections with the receivers, the prior box and the true hypocentre; and, with
``--npe MODEL``, the amortised (NPE) posterior of the same event overlaid.

    cosmoemu sample examples/seismic_hypocentre.yaml --output /tmp/quake
    python benchmarks/seismic_figures.py --chains /tmp/quake --out docs/seismic [--npe STEM]
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).parents[1] / "examples" / "data" / "seismic_event.npz"
TRUTH = (1.5, -2.5, 12.0)  # the shared reference hypocentre the example event was made from


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", required=True, help="output root of cosmoemu sample")
    ap.add_argument("--out", default="docs/seismic")
    ap.add_argument("--npe", default=None, help="an amortised posterior (cosmoemu.sbi) stem")
    args = ap.parse_args()

    from cosmoemu import load_emulator
    from cosmoemu.likelihoods import read_observed_traces
    from cosmoemu.seismic import load_scenario, plot_hypocentre, plot_traces

    sc = load_scenario()
    files = sorted(glob.glob(f"{args.chains}.[0-9]*.txt"))
    if not files:
        raise SystemExit(f"no chains {args.chains}.N.txt: run cosmoemu sample first")
    draws = np.vstack([np.loadtxt(f)[:, 2:5] for f in files])
    observed = read_observed_traces(EXAMPLE)
    data, sigma = observed["traces"], float(observed["sigma"])
    emu = load_emulator("seismic_hypocentre_v1")
    mean = draws.mean(axis=0)
    model = np.asarray(emu.predict(mean))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    resid = data - model
    print(f"{len(draws)} draws; posterior mean {mean.round(3).tolist()} km, sd "
          f"{draws.std(axis=0).round(3).tolist()} km; truth {list(TRUTH)}; residual rms / "
          f"sigma {np.sqrt(np.mean(resid ** 2)) / sigma:.3f} (1 for a perfect fit)")
    plot_traces(data, model, sc.times, sigma=sigma,
                labels=("observed (pyprop8 + noise)", "emulator at the posterior mean"),
                title="example event: observed, emulated and residual traces",
                path=out / "example_traces.png")
    other, labels = None, ("NUTS, emulator likelihood", "")
    if args.npe:
        from cosmoemu import sbi

        post = sbi.load_amortised(args.npe)
        other = np.asarray(post.sample(data, len(draws), key=0))
        labels = ("NUTS, emulator likelihood", "amortised NPE")
        print(f"NPE: mean {other.mean(axis=0).round(3).tolist()} km, sd "
              f"{other.std(axis=0).round(3).tolist()} km")
    plot_hypocentre(draws, sc.receivers, truth=TRUTH, box=sc.box, other=other, labels=labels,
                    title="example event: hypocentre posterior",
                    path=out / "example_hypocentre.png")
    print(f"figures in {out}")


if __name__ == "__main__":
    sys.exit(main())
