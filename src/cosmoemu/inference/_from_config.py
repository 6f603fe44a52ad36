"""Posterior and sampler settings from a Cobaya-style YAML config.

.. code-block:: yaml

    theory:
      emulators: {cmb_tt: lcdm_cmb_tt, cmb_te: lcdm_cmb_te, cmb_ee: lcdm_cmb_ee,
                  derived: lcdm_derived}
      cosmology: {omega_nu: 0.000644899, N_eff: 3.046}   # what the emulators assume (default)
    likelihood:
      planck_2018_lite: {spectra: TTTEEE, low_ell_bins: true}
    params:
      omega_b: {prior: {min: 0.019, max: 0.026}, ref: 0.0224, latex: \\Omega_\\mathrm{b}h^2}
      tau_reio: {prior: {dist: norm, loc: 0.0544, scale: 0.0073}}
      A_planck: {prior: {dist: norm, loc: 1.0, scale: 0.0025}}
      H0: {derived: true}
      omega_cdm: 0.12          # a number: fixed
    sampler:
      nuts: {chains: 4, target_rhat: 0.01, target_ess: 1000, seed: 1}
    output: chains/planck_lite

A parameter with a ``prior`` is sampled, a number or ``{value: x}`` is fixed, and
``{derived: true}`` (or a mapping with only ``latex``) is derived. Prior kinds (``dist``) are
looked up in :data:`~cosmoemu.inference.PRIORS`: ``uniform`` (default), ``norm`` (truncated by
``min``/``max``), ``loguniform``, ``mvnorm``.

A ``shape: n`` makes a block of ``n`` parameters named ``name_1 … name_n`` (the names in the
chains and GetDist; likelihoods read them, or the whole block under ``name`` as a vector):

.. code-block:: yaml

    params:
      dz: {shape: 5, prior: {dist: mvnorm, mean: [0, 0, 0, 0, 0], cov: data/dz_cov.txt},
           latex: \\delta z}                 # labels \\delta z_{1} …
      m: {shape: 5, prior: {dist: norm, loc: 0.0, scale: 0.02}, ref: 0.0}   # iid elements
      f: {shape: 5, value: 0.0}                # a fixed block (a number is broadcast)

``mean`` and ``cov`` are lists or files (text via ``numpy.loadtxt``, or ``.npy``); relative paths
are read from the config file's directory. ``ref`` of a block is a number or ``n`` numbers.

Likelihood entries are keyed by a name; the kind is the ``type`` field or, without it, the name,
looked up in the likelihood registry (``planck_2018_lite``, ``desi_dr2_bao``, ``gaussian``, or
any :func:`~cosmoemu.likelihoods.register_likelihood` name). Theory products are looked up in the
product registry (:func:`~cosmoemu.theory.register_product`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._config import check_choice, check_keys, get, load_yaml
from .._errors import ConfigError, unknown_name_message
from ..likelihoods import likelihood_from_config, likelihood_names
from ..likelihoods._base import using_config_dir
from ..theory import SETTING_NAMES, EmulatorTheory, load_theory, product_names
from ._nuts import INITS, NUTSConfig
from ._posterior import Posterior, block_names
from ._priors import ScalarPrior, prior_from_config

__all__ = ["RunConfig", "load_run_config", "posterior_from_config", "LIKELIHOOD_TYPES"]

PARAM_KEYS = ("prior", "ref", "latex", "proposal", "value", "derived", "shape")
"""Every key a ``params`` entry may have."""
TOP_KEYS = ("theory", "likelihood", "params", "sampler", "output")
LIKELIHOOD_TYPES = likelihood_names()  # the built-in ones; see cosmoemu.likelihoods
# YAML name -> NUTSConfig field
NUTS_KEYS = {
    "chains": "num_chains",
    "warmup": "num_warmup",
    "block_size": "block_size",
    "max_draws": "max_draws",
    "min_draws": "min_draws",
    "target_rhat": "target_rhat",
    "target_ess": "target_ess",
    "target_accept": "target_accept",
    "max_tree_depth": "max_num_doublings",
    "init": "init",
    "optimizer_steps": "optimizer_steps",
    "init_scale": "init_scale",
    "adapt_metric": "adapt_metric",
}


@dataclass
class RunConfig:
    """Everything ``cosmoemu sample`` needs from a config.

    Attributes:
        posterior: the target.
        nuts: sampler settings.
        seed: PRNG seed (``sampler.nuts.seed``, default 0).
        reference: starting values from the ``ref`` fields.
        output: output root (``output``), or None.
        config: the config as read (written next to the chains).
    """

    posterior: Posterior
    nuts: NUTSConfig
    seed: int
    reference: dict[str, float]
    output: str | None
    config: dict[str, Any]


def _theory(cfg: Any, emulators: Mapping[str, Any] | None) -> EmulatorTheory | None:
    if cfg is None and not emulators:
        return None
    cfg = cfg or {}
    check_keys(cfg, ("emulators", "cosmology", "omega_nu"), "theory")
    spec = get(cfg, "emulators", dict, {}, where="theory")
    for key, value in spec.items():
        if key not in product_names():
            raise ConfigError(f"theory.emulators.{key}",
                              unknown_name_message("theory product", key, product_names()))
        if not isinstance(value, str):
            raise ConfigError(f"theory.emulators.{key}",
                              f"expected an emulator name or model path, got {value!r}")
    given = dict(emulators or {})
    to_load = {k: v for k, v in spec.items() if k not in given}
    names = {**{k: str(v) for k, v in spec.items()}, **{k: k for k in given if k not in spec}}
    if to_load:
        for key, value in to_load.items():
            try:
                given[key] = load_theory({key: value}).emulators[key]
            except (FileNotFoundError, KeyError, ValueError, OSError) as err:
                raise ConfigError(f"theory.emulators.{key}",
                                  f"cannot load emulator {value!r}: {err}") from err
    settings = dict(get(cfg, "cosmology", dict, {}, where="theory"))
    for key in settings:
        if key not in SETTING_NAMES:
            raise ConfigError(f"theory.cosmology.{key}",
                              unknown_name_message("cosmology setting", key, SETTING_NAMES))
        get(settings, key, float, where="theory.cosmology")
    if "omega_nu" in cfg:  # the older spelling of theory.cosmology.omega_nu
        if "omega_nu" in settings:
            raise ConfigError("theory.omega_nu", "also given as theory.cosmology.omega_nu")
        settings["omega_nu"] = get(cfg, "omega_nu", float, where="theory")
    try:
        return EmulatorTheory(given, names=names, settings=settings)
    except ValueError as err:
        field = "theory.cosmology" if "setting" in str(err) else "theory.emulators"
        raise ConfigError(field, str(err)) from err


def _shape(entry: Mapping[str, Any], where: str) -> int | None:
    """The size of a block (``shape: n`` or ``shape: [n]``), or None for a scalar."""
    if "shape" not in entry:
        return None
    shape = entry["shape"]
    if isinstance(shape, list) and len(shape) == 1:
        shape = shape[0]
    if not isinstance(shape, int) or isinstance(shape, bool) or shape < 1:
        raise ConfigError(f"{where}.shape", f"expected a positive integer (blocks are vectors), "
                                            f"got {entry['shape']!r}")
    return shape


def _numbers(value: Any, size: int | None, field: str) -> float | np.ndarray:
    """A number, or for a block a list of ``size`` numbers (a number is broadcast)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if size is None else np.full(size, float(value))
    if size is not None and isinstance(value, list):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.shape == (size,):
            return array
        raise ConfigError(field, f"expected {size} numbers for a block of shape {size}, got "
                                 f"{value!r}")
    raise ConfigError(field, f"expected a number{' or a list' if size else ''}, got {value!r}")


def _ref(name: str, value: Any, size: int | None = None) -> dict[str, float]:
    """Reference (starting) values of a parameter or of each element of a block."""
    where = f"params.{name}.ref"
    if isinstance(value, Mapping):
        check_keys(value, ("dist", "loc", "scale", "min", "max"), where)
        if "loc" in value:
            value = value["loc"]
            where = f"{where}.loc"
        elif "min" in value and "max" in value:
            value = 0.5 * (get(value, "min", float, where=where) +
                           get(value, "max", float, where=where))
        else:
            raise ConfigError(where, f"expected a number or {{dist: norm, loc: m, scale: s}}, "
                                     f"got {value!r}")
    elif not isinstance(value, int | float | list) or isinstance(value, bool):
        raise ConfigError(where, f"expected a number or {{dist: norm, loc: m, scale: s}}, "
                                 f"got {value!r}")
    numbers = _numbers(value, size, where)
    if size is None:
        return {name: float(numbers)}
    return dict(zip(block_names(name, size), np.asarray(numbers).tolist(), strict=True))


def _params(cfg: Mapping[str, Any], base_dir: Path | None = None):
    """Priors (vector priors for blocks), fixed values, derived names, labels, references."""
    priors, fixed, derived, labels, reference = {}, {}, [], {}, {}
    for name, entry in cfg.items():
        name = str(name)
        where = f"params.{name}"
        if isinstance(entry, bool):
            raise ConfigError(where, f"expected a number or a mapping, got {entry!r}")
        if isinstance(entry, int | float):
            fixed[name] = float(entry)
            continue
        if entry is None:
            entry = {"derived": True}
        if not isinstance(entry, Mapping):
            raise ConfigError(where, f"expected a number or a mapping, got {entry!r}")
        if "latex" in entry:
            labels[name] = str(get(entry, "latex", str, where=where))
        size = _shape(entry, where)
        check_keys(entry, PARAM_KEYS, where)
        if "prior" in entry:
            check_keys(entry, ("prior", "ref", "latex", "proposal", "shape"), where)
            priors[name] = prior_from_config(entry["prior"], f"{where}.prior", size=size,
                                             base_dir=base_dir)
            if "ref" in entry:
                prior = priors[name]
                block = None if isinstance(prior, ScalarPrior) else prior.size
                reference.update(_ref(name, entry["ref"], block))
        elif "value" in entry:
            check_keys(entry, ("value", "latex", "shape"), where)
            fixed[name] = _numbers(entry["value"], size, f"{where}.value")
        else:
            check_keys(entry, ("derived", "latex"), where)
            if get(entry, "derived", bool, True, where=where) is not True:
                raise ConfigError(where, "needs a prior (sampled), a value (fixed) or "
                                         "derived: true")
            derived.append(name)
    return priors, fixed, derived, labels, reference


def posterior_from_config(
    config: Mapping[str, Any] | str | Path, *, emulators: Mapping[str, Any] | None = None
) -> Posterior:
    """The :class:`Posterior` a config describes (see the module docstring for the layout).

    Args:
        config: a mapping or a YAML file path.
        emulators: product key → emulator object, used instead of (or besides)
            ``theory.emulators`` (e.g. emulators built in Python).

    Raises:
        ConfigError: naming the field: unknown parameter/likelihood/product names, bad priors,
            a prior outside the emulator box, missing data files.
    """
    return load_run_config(config, emulators=emulators).posterior


def load_run_config(
    config: Mapping[str, Any] | str | Path, *, emulators: Mapping[str, Any] | None = None
) -> RunConfig:
    """Posterior, sampler settings, seed, reference point and output root from a config."""
    cfg = load_yaml(config) if isinstance(config, str | Path) else dict(config)
    base_dir = Path(config).parent if isinstance(config, str | Path) else None
    check_keys(cfg, TOP_KEYS)
    likes = get(cfg, "likelihood", dict)
    if not likes:
        raise ConfigError("likelihood", "give at least one likelihood")
    with using_config_dir(base_dir):  # relative data paths are read from the config's dir
        likelihoods = {str(n): likelihood_from_config(str(n), c) for n, c in likes.items()}
    params_cfg = get(cfg, "params", dict)
    priors, fixed, derived, labels, reference = _params(params_cfg, base_dir)
    theory = _theory(cfg.get("theory"), emulators)
    posterior = Posterior(priors, likelihoods, theory=theory, fixed=fixed, derived=derived,
                          labels=labels)
    for name, value in reference.items():
        lo, hi = posterior.priors[posterior.sampled.index(name)].support
        if not lo < value < hi:
            field = next((f"params.{b}.ref" for b, elems in posterior.blocks if name in elems),
                         f"params.{name}.ref")
            raise ConfigError(field, f"{value} ({name}) is outside the prior [{lo}, {hi}]")
    nuts, seed = _sampler(cfg.get("sampler"))
    output = get(cfg, "output", str, None)
    return RunConfig(posterior, nuts, seed, reference, output, cfg)


def _sampler(cfg: Any) -> tuple[NUTSConfig, int]:
    if cfg is None:
        return NUTSConfig(), 0
    if not isinstance(cfg, Mapping):
        raise ConfigError("sampler", f"expected a mapping like {{nuts: {{...}}}}, got {cfg!r}")
    check_keys(cfg, ("nuts",), "sampler")
    nuts = cfg.get("nuts") or {}
    where = "sampler.nuts"
    check_keys(nuts, (*NUTS_KEYS, "seed"), where)
    types = {f.name: f.type for f in fields(NUTSConfig)}
    kwargs: dict[str, Any] = {}
    for key, attr in NUTS_KEYS.items():
        if key not in nuts:
            continue
        kind = {"int": int, "float": float, "str": str, "bool": bool}[types[attr]]
        value = get(nuts, key, kind, where=where)
        if kind is int and value < (0 if key == "warmup" else 1):
            raise ConfigError(f"{where}.{key}", f"must be >= 1, got {value}")
        if kind is float and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where}.{key}", f"must be a positive number, got {value}")
        kwargs[attr] = value
    if "init" in kwargs:
        check_choice(kwargs["init"], INITS, f"{where}.init")
    try:
        config = NUTSConfig(**kwargs)
    except ValueError as err:
        raise ConfigError(where, str(err)) from err
    return config, get(nuts, "seed", int, 0, where=where)
