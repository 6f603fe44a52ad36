"""Run a config end to end: sample, write chains, summary table, triangle plot, JSON record."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._chains import Chains
from ._chains_io import _plain, write_chains
from ._checkpoint import Checkpoint
from ._from_config import RunConfig
from ._plots import triangle_plot
from ._sample import SampleResult, sample_posterior
from ._summary import ParamSummary, format_table, summarize

__all__ = ["RunReport", "checkpoint_for", "run_config", "sampling_hints"]

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What :func:`run_config` produced.

    Attributes:
        result: chains and sampler record.
        summary: per-parameter summaries (sampled, then derived).
        table: the summary as text (with reference values and shifts when given).
        files: paths written (chains, paramnames, config, summary, plot).
        record: JSON-ready dict (means, stds, R-hat, ESS, divergences, timings, …).
    """

    result: SampleResult
    summary: list[ParamSummary]
    table: str
    files: list[Path]
    record: dict[str, Any]


def run_config(
    run: RunConfig,
    output: str | Path | None,
    *,
    seed: int | None = None,
    reference: Mapping[str, tuple[float, float]] | None = None,
    reference_name: str = "reference",
    plot: bool = True,
    plot_params: list[str] | None = None,
    progress: bool = True,
    t_start: float | None = None,
    checkpoint: bool = False,
    restart: bool = False,
    announce: Callable[[str], None] | None = None,
) -> RunReport:
    """Sample ``run.posterior`` and write everything under the output root.

    Args:
        run: from :func:`~cosmoemu.inference.load_run_config`.
        output: output root (``DIR/name``); None writes nothing.
        seed: overrides ``run.seed``.
        reference: name → (mean, std) shown beside the posterior, with the shift in σ.
        reference_name: column title for ``reference``.
        plot: draw the triangle plot (``ROOT.triangle.png``).
        plot_params: parameters in the plot (default: sampled ones).
        progress: progress bar.
        t_start: ``time.perf_counter()`` when the user's command started (for the wall time).
        checkpoint: save the run after every block to ``ROOT.checkpoint.npz`` / ``.json``
            and resume from it when it holds this run (same config and seed); it is deleted
            once the chains, summary and plot are written. Needs ``output``.
        restart: with ``checkpoint``, ignore (delete) an existing checkpoint.
        announce: called with a line when the run resumes (default: logged).

    Returns:
        :class:`RunReport`.

    Raises:
        CheckpointMismatch: the checkpoint holds another run.
    """
    t_start = time.perf_counter() if t_start is None else t_start
    seed = run.seed if seed is None else int(seed)
    ckpt = None
    if checkpoint and output is not None:
        ckpt = checkpoint_for(output, run, restart=restart, announce=announce)
    result = sample_posterior(run.posterior, jax.random.key(seed), run.nuts,
                              reference=run.reference, progress=progress, checkpoint=ckpt)
    chains = result.chains
    summary = summarize(chains)
    table = format_table(summary, reference, reference_name)
    files: list[Path] = []
    t_out = time.perf_counter()
    if output is not None:
        root = Path(output)
        config = dict(run.config)
        files += write_chains(root, chains, config)
        text = root.parent / f"{root.name}.summary.txt"
        text.write_text(table + "\n")
        files.append(text)
        if plot:
            names = plot_params or list(chains.names)
            files.append(triangle_plot(chains, root.parent / f"{root.name}.triangle.png", names))
    if ckpt is not None:
        ckpt.remove()  # the chains are on disk
    nuts = result.nuts
    timings = {k: round(v, 3) for k, v in result.timings.items()}
    timings["output"] = round(time.perf_counter() - t_out, 3)
    record = {
        "seed": seed,
        "converged": bool(nuts.converged),
        "stop_reason": nuts.stop_reason,
        "num_chains": int(nuts.positions.shape[0]),
        "draws_per_chain": int(nuts.num_draws),
        "divergences": result.divergences,
        "warmup_divergences": int(nuts.warmup_divergences),
        "step_size": [float(s) for s in nuts.step_size],
        "mean_acceptance": float(np.mean(nuts.acceptance)),
        "mean_leapfrog_steps": float(np.mean(nuts.num_steps)),
        "gradient_evaluations": int(np.sum(nuts.num_steps)),
        "params": {
            s.name: {
                "mean": s.mean, "std": s.std, "lower68": s.lower68, "upper68": s.upper68,
                "rhat": s.rhat, "ess_bulk": s.ess_bulk, "ess_tail": s.ess_tail,
                **({"reference_mean": reference[s.name][0],
                    "reference_std": reference[s.name][1],
                    "shift_sigma": (s.mean - reference[s.name][0]) / reference[s.name][1]}
                   if reference and s.name in reference else {}),
            }
            for s in summary
        },
        "hints": sampling_hints(
            chains, {n: p.support for n, p in zip(chains.names, run.posterior.priors,
                                                   strict=True)},
            result.divergences, bool(nuts.converged)),
        "timings_s": timings,
        "resumed_from_block": nuts.resumed_from,
        "num_devices": nuts.num_devices,
        "wall_time_s": round(time.perf_counter() - t_start, 3),
        "files": [str(f) for f in files],
    }
    return RunReport(result, summary, table, files, record)


def checkpoint_for(output: str | Path, run: RunConfig, *, restart: bool = False,
                   announce: Callable[[str], None] | None = None) -> Checkpoint:
    """The checkpoint of a config's run written to output root ``ROOT``:
    ``ROOT.checkpoint.npz`` and ``ROOT.checkpoint.json``, its identity tagged with the config."""
    root = Path(output)
    config = {k: v for k, v in _plain(run.config).items() if k != "output"}  # where, not what
    return Checkpoint(root.parent / f"{root.name}.checkpoint", tag={"config": config},
                      restart=restart, announce=announce)


def sampling_hints(
    chains: Chains,
    supports: Mapping[str, tuple[float, float]],
    divergences: int,
    converged: bool,
    *,
    wall_sigma: float = 3.0,
    wide_ratio: float = 1e3,
) -> list[str]:
    """Advice when a run diverged or did not converge, naming the parameters likely at fault.

    A parameter is *at a wall* when its posterior mean lies within ``wall_sigma`` posterior
    standard deviations of a finite prior bound (the density is cut there: the sampler's
    coordinates bend sharply, and trajectories diverge), and *widely bounded* when its prior
    is more than ``wide_ratio`` times wider than its posterior.

    Args:
        chains: the run's draws.
        supports: sampled name → prior support (lo, hi), ±inf where unbounded.
        divergences: divergent transitions among the kept draws.
        converged: whether the R̂/ESS targets were met.

    Returns:
        Lines of advice (empty for a clean run).
    """
    n_draws = int(sum(chains.lengths))
    if divergences == 0 and converged:
        return []
    walls, wide = [], []
    for name, (lo, hi) in supports.items():
        x = chains.flat(name)
        mean, std = float(np.mean(x)), float(np.std(x))
        for bound, side in ((lo, "lower"), (hi, "upper")):
            if np.isfinite(bound) and abs(mean - bound) < wall_sigma * std:
                walls.append(f"{name} (mean {mean:.4g} ± {std:.2g}, {side} bound {bound:g})")
        if np.isfinite(lo) and np.isfinite(hi) and std > 0 and (hi - lo) > wide_ratio * std:
            wide.append(f"{name} (prior width {hi - lo:g} = {(hi - lo) / std:.0f} posterior σ)")
    hints = []
    if divergences:
        hints.append(f"{divergences} divergent transitions ({100 * divergences / n_draws:.1f}% "
                     f"of {n_draws} draws): the sampler met a region where the posterior's "
                     "curvature changes sharply, and its draws there are unreliable.")
    if not converged:
        hints.append("not converged: R̂ and ESS did not reach their targets within max_draws.")
    if walls:
        hints.append("The posterior is pressed against a hard prior wall: " + "; ".join(walls)
                     + ". Widen that prior if the physics allows, or sample a parameter in "
                     "which the posterior is not cut.")
    if wide:
        hints.append("Very wide priors: " + "; ".join(wide) + ". Narrow them to where the "
                     "likelihood is (a few times the posterior width is plenty).")
    hints.append("Or try `init: window` under sampler.nuts (Stan-style adaptation, for "
                 "posteriors far from Gaussian); a larger max_draws if only ESS fell short.")
    return hints


def write_json(record: Mapping[str, Any], path: str | Path) -> Path:
    """Write a run record as JSON (NaN as null)."""
    def clean(o: Any) -> Any:
        if isinstance(o, float) and not np.isfinite(o):
            return None
        if isinstance(o, Mapping):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [clean(v) for v in o]
        return o

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(dict(record)), indent=2) + "\n")
    return path
