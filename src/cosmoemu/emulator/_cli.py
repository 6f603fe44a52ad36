"""``cosmoemu train`` and ``cosmoemu validate``."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
def train(config: str) -> None:
    """Train an emulator from CONFIG (YAML: data, kind, architecture, schedule, output)."""
    raise click.ClickException("`cosmoemu train` is not implemented yet")


@click.command()
@click.argument("emulator")
@click.argument("data", type=click.Path())
def validate(emulator: str, data: str) -> None:
    """Accuracy report of EMULATOR (name or path) against the spectra in DATA (a store)."""
    raise click.ClickException("`cosmoemu validate` is not implemented yet")
