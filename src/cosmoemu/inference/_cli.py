"""``cosmoemu sample`` and ``cosmoemu demo``.

Heavy imports (JAX, BlackJAX, GetDist) happen inside the commands, so ``cosmoemu --help`` stays
instant. Both commands keep JAX's persistent compilation cache in ``~/.cache/cosmoemu/jax``
(``$XDG_CACHE_HOME`` respected; ``--no-cache`` turns it off): a second run skips most of the
compilation.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click


def _enable_cache(enabled: bool) -> None:
    if not enabled:
        return
    import jax

    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "cosmoemu" / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


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
    t = rec["timings_s"]
    parts = [f"{k} {t[k]:.1f}" for k in ("mode", "compile_wait", "warmup", "sampling",
                                         "output") if k in t]
    click.echo(f"wall time {rec['wall_time_s']:.1f} s ({', '.join(parts)}; compilation included)")
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
@click.option("--no-cache", is_flag=True, help="Do not use the persistent compilation cache.")
def demo(out_dir: str, json_path: str | None, seed: int, no_plot: bool, no_cache: bool) -> None:
    """Planck 2018 lite ΛCDM posterior with the shipped emulators and NUTS (the main job).

    Planck 2018 plik_lite TTTEEE + two low-ell TT bins + a τ prior, ΛCDM + A_planck, the shipped
    CMB and derived-parameter emulators, NUTS with 4 chains until R̂−1 < 0.01 and ESS ≥ 1000.
    Prints the posterior beside the Planck 2018 TT,TE,EE+lowE values.
    """
    t_start = time.perf_counter()
    _enable_cache(not no_cache)
    from .._errors import ConfigError
    from ._demo import DEMO_CONFIG, DEMO_NOTE, PLANCK2018, PLANCK2018_NAME, PLOT_PARAMS
    from ._from_config import load_run_config
    from ._report import run_config

    try:
        run = load_run_config(DEMO_CONFIG)
    except ConfigError as err:
        raise click.ClickException(
            f"{err}\nThe demo needs the shipped emulators (lcdm_cmb_tt/te/ee, lcdm_derived)."
        ) from err
    click.echo("Planck 2018 plik_lite TTTEEE + low-ell TT + tau prior, LCDM + A_planck, "
               f"NUTS with {run.nuts.num_chains} chains")
    report = run_config(
        run, Path(out_dir) / "planck_lite_lcdm", seed=seed, reference=PLANCK2018,
        reference_name=PLANCK2018_NAME, plot=not no_plot, plot_params=PLOT_PARAMS,
        t_start=t_start,
    )
    _echo_report(report, json_path, DEMO_NOTE)


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
def sample(config: str, output: str | None, seed: int | None, json_path: str | None,
           no_plot: bool, no_progress: bool, no_cache: bool) -> None:
    """Sample the posterior described by CONFIG (YAML, Cobaya-like) with NUTS.

    Writes Cobaya/GetDist chains (ROOT.1.txt …, ROOT.paramnames, ROOT.input.yaml), a summary
    table (ROOT.summary.txt) and a triangle plot (ROOT.triangle.png).
    """
    t_start = time.perf_counter()
    _enable_cache(not no_cache)
    from .._errors import ConfigError
    from ._from_config import load_run_config
    from ._report import run_config

    try:
        run = load_run_config(config)
    except (ConfigError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    root = output or run.output or str(Path("chains") / Path(config).stem)
    report = run_config(run, root, seed=seed, plot=not no_plot, progress=not no_progress,
                        t_start=t_start)
    _echo_report(report, json_path, f"Posterior of {config}")
