"""``cosmoemu sample`` and ``cosmoemu demo`` (filled in by the inference issue)."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Planck 2018 lite ΛCDM posterior with the shipped emulators and NUTS (the main job)."""
    click.echo(
        "cosmoemu demo will run: Planck 2018 plik_lite TTTEEE + low-ell TT bins + a tau prior,\n"
        "ΛCDM + A_planck, the shipped CMB emulators, NUTS with 4 chains, and print the posterior\n"
        "table beside the Planck 2018 values. It is not implemented yet."
    )


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
def sample(config: str) -> None:
    """Sample the posterior described by CONFIG (YAML, Cobaya-like)."""
    raise click.ClickException("`cosmoemu sample` is not implemented yet")
