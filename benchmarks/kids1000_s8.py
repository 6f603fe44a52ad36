"""KiDS-1000 COSEBIs on the public data: the posterior of examples/kids1000_cosebis.yaml against
the published S8 = 0.759 (+0.024, −0.021) (Asgari et al. 2021), wall time, evidence, plots.

Runs ``cosmoemu sample`` on the config in-process (compilation included in the wall time, which
starts before the config is read, as the CLI's), then:

* S8 mean, MAP (the highest-posterior draw), 68 % interval and σ against the published ones:
  shift of the mean and of the MAP in published σ, width ratio (target: within 0.3σ and 10 %);
* R̂ − 1 and bulk ESS of every parameter (targets 0.01 and 1000), wall time (target ≤ 2 min);
* ln Z of the chains with the learnt harmonic mean (:func:`cosmoemu.evidence`);
* plots: COSEBIs E_n data with error bars against the MAP model in the triangle layout of the
  15 bin pairs, and the S8–Ω_m posterior with the published S8 band.

Run: ``python benchmarks/kids1000_s8.py [--out DIR] [--seed N]`` (writes chains and PNGs there;
default ``out/kids1000``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PUBLISHED = {"S8": 0.759, "plus": 0.024, "minus": 0.021}
ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "kids1000_cosebis.yaml"


def main() -> None:
    t_start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/kids1000")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()

    import jax.numpy as jnp

    import cosmoemu
    from cosmoemu.inference._cli import _enable_cache
    from cosmoemu.inference._from_config import load_run_config
    from cosmoemu.inference._report import run_config
    from cosmoemu.likelihoods._plots import plot_tomographic

    _enable_cache(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = load_run_config(CONFIG)
    sigma_pub = 0.5 * (PUBLISHED["plus"] + PUBLISHED["minus"])
    report = run_config(run, out / "kids1000_cosebis", seed=args.seed,
                        reference={"S8": (PUBLISHED["S8"], sigma_pub)},
                        reference_name="Asgari+21", progress=False, t_start=t_start)
    wall = time.perf_counter() - t_start
    chains = report.result.chains
    post = run.posterior
    samples = np.concatenate(chains.samples)
    mlp = np.concatenate(chains.minuslogpost)
    i_s8 = post.sampled.index("S8")
    s8 = samples[:, i_s8]
    lo, med, hi = np.percentile(s8, [15.87, 50, 84.13])
    best = samples[np.argmin(mlp)]
    record = {
        "S8_mean": float(s8.mean()), "S8_std": float(s8.std()), "S8_median": float(med),
        "S8_68": [float(lo), float(hi)], "S8_map": float(best[i_s8]),
        "published": PUBLISHED,
        "shift_mean_sigma": float((s8.mean() - PUBLISHED["S8"]) / sigma_pub),
        "shift_map_sigma": float((best[i_s8] - PUBLISHED["S8"]) / sigma_pub),
        "width_ratio": float(0.5 * (hi - lo) / sigma_pub),
        "wall_seconds": wall,
        "max_rhat_minus_1": float(max(abs(s.rhat - 1) for s in report.summary
                                      if s.name in post.sampled)),
        "min_bulk_ess": float(min(s.ess_bulk for s in report.summary if s.name in post.sampled)),
        "n_draws": int(samples.shape[0]),
        "chi2_map": float(-2 * post.loglike(jnp.asarray(best))),
        "n_data": 75,
        "sampler": {k: report.record[k] for k in (
            "draws_per_chain", "divergences", "mean_leapfrog_steps", "gradient_evaluations",
            "timings_s", "stop_reason")},
    }
    ev = cosmoemu.evidence(chains, seed=0)
    record.update({"ln_z": ev.ln_z, "ln_z_err": ev.ln_z_err, "evidence_warnings": ev.warnings})

    # COSEBIs data vs MAP model, 15 pairs in the triangle layout
    lik = post.likelihoods[0]
    values = dict(zip(post.sampled, best.tolist(), strict=True))
    model_file = np.asarray(lik.model(values), np.float64)  # file order
    order = np.asarray(lik.order)
    n_pairs, n_max = 15, lik.n_max
    data = np.empty(n_pairs * n_max)
    model = np.empty_like(data)
    sigma = np.empty_like(data)
    cov = np.linalg.inv(lik.whitening.T @ lik.whitening)
    data[order], model[order], sigma[order] = lik.data, model_file, np.sqrt(np.diag(cov))
    scale = 1e10
    plot_tomographic(np.arange(1, n_max + 1), data.reshape(n_pairs, n_max) * scale,
                     sigma.reshape(n_pairs, n_max) * scale,
                     {"MAP (cosmoemu)": model.reshape(n_pairs, n_max) * scale},
                     out / "kids1000_cosebis_data.png", xlabel="n",
                     ylabel=r"$E_n\ [10^{-10}]$",
                     title=f"KiDS-1000 COSEBIs: data and MAP model (χ² = "
                           f"{record['chi2_map']:.1f} for 75 points)")
    _s8_omegam_plot(chains, out / "kids1000_s8_omegam.png", sigma_pub)
    (out / "kids1000_s8.json").write_text(json.dumps(record, indent=1))
    print(report.table)
    for key, value in record.items():
        print(f"{key:20s} {value}")


def _s8_omegam_plot(chains, path: Path, sigma_pub: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from getdist import plots

    from cosmoemu.inference._chains_io import to_getdist

    g = plots.get_single_plotter(width_inch=4.5)
    gd = to_getdist(chains)
    g.plot_2d(gd, "Omega_m", "S8", filled=True)
    ax = g.subplots[0, 0]
    ax.axhspan(PUBLISHED["S8"] - PUBLISHED["minus"], PUBLISHED["S8"] + PUBLISHED["plus"],
               color="C1", alpha=0.25, label="Asgari+21 S8 (68 %)")
    ax.axhline(PUBLISHED["S8"], color="C1", lw=1)
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title("KiDS-1000 COSEBIs (cosmoemu)", fontsize=9)
    plt.savefig(path, dpi=120, bbox_inches="tight")
    plt.close("all")


if __name__ == "__main__":
    main()
