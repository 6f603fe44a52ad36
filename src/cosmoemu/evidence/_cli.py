"""``cosmoemu evidence``: ln Z from posterior chains with the learnt harmonic mean."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("chains", type=click.Path(path_type=Path))
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the result and its diagnostics to this JSON file.",
)
@click.option(
    "--flow", type=click.Choice(["realnvp", "rqspline"]), default="realnvp", show_default=True,
    help="Normalizing flow: affine coupling (fast) or rational-quadratic spline.",
)
@click.option(
    "--temperature", "-T", type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None, help="Variance of the flow's Gaussian base, in (0, 1) [default: 0.8 up to 10 "
    "parameters, closer to 1 above (0.949 at 157), see cosmoemu.evidence.default_temperature].",
)
@click.option(
    "--params", default=None,
    help="Comma-separated sampled parameters, in any order (default: those the chains name as "
         "sampled). Only needed when the files do not say which are sampled; derived "
         "parameters and subsets are refused (ln Z needs exactly the sampled ones).",
)
@click.option(
    "--burn-in", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
    help="Fraction of each chain to drop from its start.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the flow fit.")
@click.option("--progress/--no-progress", default=True, help="Progress bar during the fit.")
def evidence(
    chains: Path,
    json_file: Path | None,
    flow: str,
    temperature: float | None,
    params: str | None,
    burn_in: float,
    seed: int,
    progress: bool,
) -> None:
    """Estimate the Bayesian evidence ln Z from the posterior CHAINS.

    CHAINS is a chain root (chains/run for chains/run.1.txt, ...), one of its chain files, or a
    folder holding the chains of one root, in the cosmoemu/Cobaya layout (ROOT.1.txt with a
    '# weight minuslogpost ...' header) or the GetDist one (ROOT_1.txt + ROOT.paramnames). The
    minuslogpost column must be -(ln L + ln prior) with the prior normalised.
    """
    import warnings

    from ._evidence import evidence as estimate

    names = [p.strip() for p in params.split(",") if p.strip()] if params else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the diagnostics are printed below
            result = estimate(
                chains,
                params=names,
                burn_in=burn_in,
                flow=flow,
                temperature=temperature,
                seed=seed,
                progress=progress,
            )
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    lines = str(result).splitlines()
    click.echo("\n".join(line for line in lines if not line.lstrip().startswith("WARNING")))
    if result.names:
        click.echo(f"  parameters: {', '.join(result.names)}")
    for message in result.warnings:
        click.secho(f"WARNING: {message}", fg="red", bold=True, err=True)
    if json_file is not None:
        data = {"chains": str(chains), **result.to_dict()}
        json_file.write_text(json.dumps(data, indent=2) + "\n")
        click.echo(f"  written to {json_file}")
