"""``cosmoemu evidence``: ln Z from posterior chains (filled in by the evidence issue)."""

from __future__ import annotations

import click


@click.command()
@click.argument("chains", type=click.Path())
def evidence(chains: str) -> None:
    """Estimate the Bayesian evidence from CHAINS with the learnt harmonic mean."""
    raise click.ClickException("`cosmoemu evidence` is not implemented yet")
