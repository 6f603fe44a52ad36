"""``cosmoemu generate``: training spectra from a Boltzmann code (filled in by the data issue)."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
def generate(config: str) -> None:
    """Generate training spectra described by CONFIG (YAML)."""
    raise click.ClickException("`cosmoemu generate` is not implemented yet")
