"""``cosmoemu sbi train CONFIG`` and ``cosmoemu sbi posterior CONFIG --observed FILE``.

The config (YAML)::

    method: nle                      # nle, npe or nre
    simulations: sims.npz            # arrays theta (n, D) and x (n, N); relative to the config
    prior:                           # name -> prior spec, as under params.NAME.prior
      theta: {shape: 2, prior: {dist: norm, loc: 0.0, scale: 1.0}}
    seed: 0
    options: {ensemble: 8}           # cosmoemu.sbi.NetConfig fields
    output: models/nle               # the estimator's STEM.npz + STEM.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

KEYS = ("method", "simulations", "prior", "seed", "options", "output")


def _config(path: Path) -> tuple[dict[str, Any], Path]:
    import yaml

    from .._config import check_keys
    from .._errors import ConfigError

    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise click.ClickException(f"cannot read {path}: {err}") from err
    if not isinstance(cfg, dict):
        raise click.ClickException(f"{path}: expected a mapping at the top level")
    try:
        check_keys(cfg, KEYS, "sbi config")
        for key in ("method", "prior", "output"):
            if key not in cfg:
                raise ConfigError(key, "is required")
    except ConfigError as err:
        raise click.ClickException(str(err)) from err
    return cfg, path.parent


def _rel(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


@click.group()
def sbi() -> None:
    """Simulation-based inference: train NLE/NPE/NRE, sample their posteriors."""


@sbi.command("train")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--progress/--no-progress", default=False, help="Progress bars over epochs.")
def train_cmd(config: Path, progress: bool) -> None:
    """Train the estimator CONFIG describes and save it (STEM.npz + STEM.json)."""
    import numpy as np

    from ._io import save_estimator
    from ._train import train

    cfg, base = _config(config)
    if "simulations" not in cfg:
        raise click.ClickException("sbi config: 'simulations' (an npz with theta and x) is "
                                   "required to train")
    sims = _rel(base, cfg["simulations"])
    try:
        with np.load(sims, allow_pickle=False) as f:
            theta, x = f["theta"], f["x"]
    except (OSError, KeyError, ValueError) as err:
        raise click.ClickException(f"cannot read theta and x from {sims}: {err}") from err
    try:
        est = train(cfg["method"], theta, x, cfg["prior"], seed=int(cfg.get("seed", 0)),
                    options=cfg.get("options"), progress=progress)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    npz, js = save_estimator(est, _rel(base, cfg["output"]))
    epochs = [h["epochs"] for h in est.history]
    click.echo(f"{cfg['method'].upper()}: {est.n_members} networks on {est.n_simulations} "
               f"simulations ({est.theta_dim} parameters, {est.x_dim} data), epochs {epochs}, "
               f"{est.fit_seconds:.1f} s\n  written to {npz} and {js.name}")


@sbi.command("posterior")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--observed", required=True, type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="The observed data: a .npy file or a text file of N numbers.")
@click.option("--output", "root", type=click.Path(path_type=Path), default=None,
              help="Chain root (default: the estimator's stem + '.posterior').")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--progress/--no-progress", default=False)
def posterior_cmd(config: Path, observed: Path, root: Path | None, seed: int,
                  progress: bool) -> None:
    """Sample the posterior of the trained estimator at the observed data; write chains.

    NLE: NUTS on ln q(x_o|θ) + ln π(θ); the chains' minuslogpost is -(ln L + ln π) with the
    NLE's normalised likelihood, so `cosmoemu evidence ROOT` gives the model's ln p(x_o)
    (`cosmoemu.sbi.evidence` adds the NLE's own error). NRE: NUTS on ln r + ln π; NPE:
    independent draws of q(θ|x_o). Their chains carry no likelihood normalisation (minuslogpost
    is -(ln r + ln π) for an NRE, NaN for an NPE): `cosmoemu evidence` on them is refused or
    meaningless.
    """
    import numpy as np

    from ..inference._chains_io import write_chains
    from ._evidence import posterior
    from ._io import load_estimator

    cfg, base = _config(config)
    stem = _rel(base, cfg["output"])
    est = load_estimator(stem)
    x = np.load(observed) if observed.suffix == ".npy" else np.loadtxt(observed, ndmin=1)
    try:
        res = posterior(est, np.asarray(x, np.float64).reshape(-1), seed, progress=progress)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    chains = getattr(res, "chains", res)
    root = root or stem.with_name(stem.name + ".posterior")
    meta = {"sbi": {"method": est.method, "estimator": str(stem), "observed": str(observed),
                    "seed": seed, "n_simulations": est.n_simulations},
            "prior": est.prior}
    write_chains(root, chains, meta)
    n = sum(len(s) for s in chains.samples)
    click.echo(f"{n} draws in {chains.n_chains} chains written to {root}.*")
    if est.method == "nle":
        click.echo(f"  evidence: cosmoemu evidence {root}")
    else:
        click.secho(f"  an {est.method.upper()} has divided p(x_o) out: these chains do not "
                    "give the model evidence (train an NLE for that)", fg="yellow", err=True)
