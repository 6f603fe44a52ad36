"""``cosmoemu train`` and ``cosmoemu validate``."""

from __future__ import annotations

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--store",
    default=None,
    type=click.Path(file_okay=False),
    help="Use this data store instead of the config's data.store.",
)
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("--overwrite-package", is_flag=True,
              help="Allow output.path inside the installed cosmoemu package (replaces a shipped "
                   "model); refused without it.")
def train(config: str, store: str | None, no_progress: bool, overwrite_package: bool) -> None:
    """Train an emulator from CONFIG (YAML: data, emulator, error_model, training, output).

    Relative paths in CONFIG (data.store, output.path, training.checkpoint) are relative to
    the working directory; the config is checked, and the box compared with the store's
    design, before any training. Re-running with `training.checkpoint` set resumes an
    interrupted run.
    """
    from .._errors import ConfigError
    from ..data import StoreError
    from ._trainconfig import train_from_config

    try:
        result = train_from_config(config, progress=not no_progress, store=store,
                                   overwrite_package=overwrite_package)
    except (ConfigError, StoreError, FileNotFoundError) as err:
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
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    "out_dir",
    default="accuracy_report",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for the page and plots.",
)
@click.option("--label", default=None, help="Report name (default: the data directory's name).")
@click.option("--no-timing", is_flag=True, help="Skip the prediction-time measurement.")
@click.option("--quantity", default=None,
              help="The store's product to compare with, for models that do not record what "
                   "they emulate.")
@click.option("--k-range", nargs=2, type=float, default=None, metavar="KMIN KMAX",
              help="P(k) only: the k range [1/Mpc] of the metric (default 1e-3 5).")
@click.option("--z-max", type=float, default=None,
              help="P(k) only: the largest redshift of the metric (default 3).")
def validate(emulator: str, data: str, out_dir: str, label: str | None, no_timing: bool,
             quantity: str | None, k_range: tuple[float, float] | None,
             z_max: float | None) -> None:
    """Accuracy report of EMULATOR against the outputs in DATA (a store never used in training).

    EMULATOR is a shipped name, a model path, a comma-separated list of them, or `all`. What
    each emulates is read from its manifest. Writes OUT/LABEL.md with percentiles of the error
    and one PNG of 68/95/99 % bands each (for P(k, z): bands vs k, one panel per z).

    Matter power spectra: EMULATOR `pk:lcdm` or `pk:w0wacdm` (the shipped transfer and boost
    emulators; `lcdm` and `w0wacdm` alone also work), or `pk:NAME=TRANSFER,BOOST` (two model
    names or paths, reported as model NAME). DATA needs pk_lin (pk_nonlin and derived sigma8
    are compared when present). Per cosmology the metric is the largest |P_emu/P_CAMB - 1| over
    --k-range and z <= --z-max; OUT/LABEL.md gives its percentiles for the linear and
    non-linear spectra and sigma8 with pass/fail at the 99th percentile against the model's
    targets, OUT/LABEL.json the same figures, and OUT/LABEL_pk_lin.png, LABEL_pk_nonlin.png
    the bands vs k at z = 0, 0.5, 1, 2, 3.
    """
    from ..matter._model import MODELS

    if emulator.startswith("pk:") or emulator in MODELS:
        if quantity is not None:
            raise click.ClickException("--quantity does not apply to P(k) models (pk:...)")
        _validate_pk(emulator, data, out_dir, label, not no_timing, k_range, z_max)
        return
    if k_range is not None or z_max is not None:
        raise click.ClickException("--k-range and --z-max apply to P(k) models only "
                                   "(EMULATOR pk:MODEL)")

    from ._registry import list_emulators
    from ._validate import validate_emulators

    names = list_emulators() if emulator == "all" else [e for e in emulator.split(",") if e]
    try:
        md, results = validate_emulators(names, data, out_dir, label=label, timing=not no_timing,
                                         quantity=quantity)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    for r in results:
        pc = r.percentiles()
        unit = {"sigma": "sigma_ell", "noise": "sigma_noise"}.get(r.metric, "relative")
        click.echo(
            f"{r.name:20s} n={len(r.params):5d}  max error ({unit}): median "
            f"{pc['p50']:.3g}, 99% {pc['p99']:.3g}, max {pc['p100']:.3g}"
        )
    click.echo(f"report: {md}")


def _validate_pk(spec: str, data: str, out_dir: str, label: str | None, timing: bool,
                 k_range: tuple[float, float] | None, z_max: float | None) -> None:
    from ..matter._validate import parse_pk_model, validate_matter_power

    kwargs: dict = {}
    if k_range is not None:
        kwargs["k_range"] = k_range
    if z_max is not None:
        kwargs["z_max"] = z_max
    try:
        res = validate_matter_power(parse_pk_model(spec), data, out_dir, label=label,
                                    timing=timing, **kwargs)
    except (ValueError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from err
    s = res.summary
    for what in ("linear", "nonlinear", "sigma8"):
        b = s[what]
        if b is None:
            continue
        pc = b["percentiles"]
        figures = (f"median {pc['p50']:.3g}, 99% {pc['p99']:.3g}, max {pc['max']:.3g}" if pc
                   else "no cosmology compared")
        verdict = ("" if b["pass"] is None else
                   f"  target {b['target']:.3g}: {'pass' if b['pass'] else 'FAIL'}")
        click.echo(f"{res.model + ' ' + what:20s} n={b['n']:5d}  relative error: {figures}"
                   f"{verdict}")
    click.echo(f"report: {res.report}")
