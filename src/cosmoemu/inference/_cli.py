"""``cosmoemu sample`` and ``cosmoemu demo``.

Heavy imports (JAX, BlackJAX, GetDist) happen inside the commands, so ``cosmoemu --help`` stays
instant. Both commands keep JAX's persistent compilation cache in ``~/.cache/cosmoemu/jax``
(``$XDG_CACHE_HOME`` respected): a second run skips most of the compilation. ``--no-cache`` or
``COSMOEMU_JAX_CACHE=off`` turns it off; ``COSMOEMU_JAX_CACHE=DIR`` puts it in ``DIR``. It is never
written inside the installed package.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

CACHE_ENV = "COSMOEMU_JAX_CACHE"
"""Environment variable: ``off`` (or ``0``, ``false``, ``no``) disables the compilation cache; any
other value is the cache directory."""


def cache_dir() -> Path | None:
    """Where the persistent compilation cache lives (None: turned off by ``$COSMOEMU_JAX_CACHE``).

    ``$COSMOEMU_JAX_CACHE`` if set, else ``$XDG_CACHE_HOME/cosmoemu/jax`` (default
    ``~/.cache/cosmoemu/jax``): a user directory, never the installed package.
    """
    env = os.environ.get(CACHE_ENV, "").strip()
    if env.lower() in ("off", "0", "false", "no"):
        return None
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cosmoemu" / "jax"


def _enable_cache(enabled: bool) -> None:
    path = cache_dir() if enabled else None
    if path is None:
        return
    import jax

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    # every kernel of a run that takes noticeable time to compile: the NUTS block (seconds), the
    # mode search's value-and-gradient, the coordinate maps and the small PRNG kernels (~0.1 s)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _echo_report(report, json_path: str | None, title: str) -> None:
    from ._report import write_json

    rec = report.record
    click.echo(f"\n{title}\n")
    click.echo(report.table)
    status = "converged" if rec["converged"] else "NOT converged"
    click.echo(
        f"\n{status}: {rec['stop_reason']}\n"
        f"{rec['num_chains']} chains x {rec['draws_per_chain']} draws, "
        f"{rec['divergences']} divergences, step sizes "
        f"{', '.join(f'{s:.3f}' for s in rec['step_size'])}, mean acceptance "
        f"{rec['mean_acceptance']:.2f}, {rec['mean_leapfrog_steps']:.1f} leapfrog steps per draw"
    )
    for hint in rec.get("hints", []):
        click.secho(f"hint: {hint}", fg="yellow", err=True)
    t = rec["timings_s"]
    parts = [f"{k} {t[k]:.1f}" for k in ("mode", "compile_wait", "warmup", "sampling",
                                         "output") if k in t]
    click.echo(f"wall time {rec['wall_time_s']:.1f} s ({', '.join(parts)}; compilation included)")
    if rec.get("resumed_from_block") is not None:
        click.echo(f"resumed from a checkpoint at block {rec['resumed_from_block']}")
    for f in rec["files"]:
        click.echo(f"  wrote {f}")
    if json_path:
        click.echo(f"  wrote {write_json(rec, json_path)}")


@click.command()
@click.option("--out", "out_dir", default="cosmoemu_demo", show_default=True,
              type=click.Path(file_okay=False), help="Directory for chains and the plot.")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write means, stds, R-hat, ESS, divergences and wall time as JSON.")
@click.option("--seed", default=0, show_default=True, type=int, help="PRNG seed.")
@click.option("--no-plot", is_flag=True, help="Skip the triangle plot.")
@click.option("--tau-prior", type=click.Choice(["lowE", "planck2018"]), default="lowE",
              show_default=True,
              help="lowE: Planck's lowE-alone tau = 0.0506 ± 0.0086, the constraint that belongs "
                   "beside plik_lite; planck2018: the TT,TE,EE+lowE posterior 0.0544 ± 0.0073 "
                   "(counts the high-ell pull on tau twice).")
@click.option("--no-cache", is_flag=True, help="Do not use the persistent compilation cache "
              "(also: COSMOEMU_JAX_CACHE=off).")
def demo(out_dir: str, json_path: str | None, seed: int, no_plot: bool, tau_prior: str,
         no_cache: bool) -> None:
    """Planck 2018 lite ΛCDM posterior with the shipped emulators and NUTS (the main job).

    Planck 2018 plik_lite TTTEEE + two low-ell TT bins + a τ prior (default: lowE alone),
    ΛCDM + A_planck, the shipped CMB and derived-parameter emulators, NUTS with 4 chains until
    R̂−1 < 0.01 and ESS ≥ 1000. Prints the posterior beside the Planck 2018 TT,TE,EE+lowE values.
    """
    t_start = time.perf_counter()
    _enable_cache(not no_cache)
    from .._errors import ConfigError
    from . import _demo
    from ._from_config import load_run_config
    from ._report import run_config

    try:
        run = load_run_config(_demo.demo_config(tau_prior))
    except ConfigError as err:
        raise click.ClickException(
            f"{err}\nThe demo needs the shipped emulators (lcdm_cmb_tt/te/ee, lcdm_derived)."
        ) from err
    loc, scale = _demo.TAU_PRIORS[tau_prior]
    click.echo(f"Planck 2018 plik_lite TTTEEE + low-ell TT + tau prior N({loc}, {scale}) "
               f"({tau_prior}), LCDM + A_planck, NUTS with {run.nuts.num_chains} chains")
    report = run_config(
        run, Path(out_dir) / "planck_lite_lcdm", seed=seed, reference=_demo.PLANCK2018,
        reference_name=_demo.PLANCK2018_NAME, plot=not no_plot, plot_params=_demo.PLOT_PARAMS,
        t_start=t_start,
    )
    report.record["tau_prior"] = {"name": tau_prior, "mean": loc, "std": scale}
    _echo_report(report, json_path, _demo.DEMO_NOTES[tau_prior])


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--output", default=None, help="Output root (default: the config's `output`, "
              "else chains/<config name>).")
@click.option("--seed", default=None, type=int, help="PRNG seed (default: sampler.nuts.seed).")
@click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
              help="Write the run record (means, R-hat, ESS, timings) as JSON.")
@click.option("--no-plot", is_flag=True, help="Skip the triangle plot.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--no-cache", is_flag=True, help="Do not use the persistent compilation cache.")
@click.option("--restart", is_flag=True, help="Start afresh: delete an existing checkpoint "
              "(ROOT.checkpoint.npz/.json) instead of resuming from it.")
def sample(config: str, output: str | None, seed: int | None, json_path: str | None,
           no_plot: bool, no_progress: bool, no_cache: bool, restart: bool) -> None:
    """Sample the posterior described by CONFIG (YAML, Cobaya-like) with NUTS.

    Writes Cobaya/GetDist chains (ROOT.1.txt …, ROOT.paramnames, ROOT.input.yaml), a summary
    table (ROOT.summary.txt) and a triangle plot (ROOT.triangle.png).

    Resumable: the run is saved after every block of draws to ROOT.checkpoint.npz (and a
    readable ROOT.checkpoint.json); run the same command again after a crash or a kill and it
    continues from the last saved block, with the draws an uninterrupted run gives. A checkpoint
    of another config or seed is refused (delete it, or use --restart or another --output). The
    checkpoint is deleted once the chains are written.

    The chains are split over all local devices (GPUs) when the number of chains is a multiple
    of their number (else over as many as divide it).
    """
    t_start = time.perf_counter()
    _enable_cache(not no_cache)
    from .._errors import ConfigError
    from ._checkpoint import CheckpointMismatch
    from ._from_config import load_run_config
    from ._report import run_config

    try:
        run = load_run_config(config)
    except (ConfigError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    root = output or run.output or str(Path("chains") / Path(config).stem)
    try:
        report = run_config(run, root, seed=seed, plot=not no_plot, progress=not no_progress,
                            t_start=t_start, checkpoint=True, restart=restart,
                            announce=click.echo)
    except CheckpointMismatch as err:
        raise click.ClickException(str(err)) from err
    _echo_report(report, json_path, f"Posterior of {config}")
