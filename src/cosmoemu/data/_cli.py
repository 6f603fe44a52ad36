"""``cosmoemu generate``: training spectra from a Boltzmann code, resumable, on any executor."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["local", "dask", "mpi"]), default=None,
              help="Where samples run (default: the config's execution.executor, else local).")
@click.option("--address", default=None, metavar="ADDR",
              help="Dask scheduler address (tcp://host:8786); none: a LocalCluster.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel Boltzmann processes (default: the usable cores).")
@click.option("--retry-failed", is_flag=True, help="Also recompute rows that failed before.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def generate(
    config: str,
    executor: str | None,
    address: str | None,
    workers: int | None,
    retry_failed: bool,
    no_progress: bool,
) -> None:
    """Generate training spectra described by CONFIG (YAML).

    \b
    Re-running the same command resumes: finished chunks are kept and only missing samples
    are computed. Failed cosmologies are recorded in the store (failures.jsonl) and do not
    stop the run; the exit code is non-zero only for a bad config, output path or executor,
    or when another run is writing the same store (it holds STORE/.lock).
    Examples: examples/generate_quick.yaml (32 cosmologies, ~10 s each per core),
    examples/generate_lcdm_cmb.yaml.
    """
    import signal

    from .._errors import ConfigError
    from ._executors import ExecutorUnavailable
    from ._generate import generate as run
    from ._lock import StoreLocked

    def _terminate(signum: int, frame: object) -> None:  # batch systems send SIGTERM first
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = run(config, kind=executor, address=address, workers=workers,
                      retry_failed=retry_failed, progress=not no_progress)
    except (ConfigError, FileNotFoundError, StoreLocked) as err:
        raise click.ClickException(str(err)) from err
    except ExecutorUnavailable as err:  # from --executor / --address: name the option
        option = (f"--executor {executor}" if err.setting == "executor" and executor
                  else f"--address {address}" if err.setting == "address" and address
                  else None)
        raise click.ClickException(f"{option}: {err}" if option else str(err)) from err
    except KeyboardInterrupt:
        click.echo("interrupted: finished chunks are kept; run the same command to resume",
                   err=True)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(str(summary))
