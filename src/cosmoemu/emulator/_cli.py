"""``cosmoemu train`` and ``cosmoemu validate``."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def train(config: str, no_progress: bool) -> None:
    """Train an emulator from CONFIG (YAML: data, emulator, error_model, training, output).

    Re-running with `training.checkpoint` set resumes an interrupted run.
    """
    from .._errors import ConfigError
    from ._trainconfig import train_from_config

    try:
        result = train_from_config(config, progress=not no_progress)
    except (ConfigError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    emu = result.emulator
    tr = emu.metadata["training"]
    click.echo(f"trained {emu!r}")
    click.echo(
        f"  {tr['n_train']} training + {tr['n_val']} validation samples, epochs per stage "
        f"{tr['epochs_per_stage']}, best validation loss {tr['best_val_loss']:.4e}"
    )
    if "pca" in emu.metadata:
        p = emu.metadata["pca"]
        click.echo(
            f"  PCA: {p['n_components']} components, max reconstruction error "
            f"{p['max_reconstruction_error']:.3e} (rms {p['rms_reconstruction_error']:.3e})"
        )
    click.echo(f"  written to {' + '.join(result.summary['files'])}")


@click.command()
@click.argument("emulator")
@click.argument("data", type=click.Path())
def validate(emulator: str, data: str) -> None:
    """Accuracy report of EMULATOR (name or path) against the spectra in DATA (a store)."""
    raise click.ClickException("`cosmoemu validate` is not implemented yet")
