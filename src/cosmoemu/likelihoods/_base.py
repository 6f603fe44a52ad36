"""The likelihood protocol and the registry through which configs name likelihoods.

A likelihood is a pytree (usually an ``equinox.Module``) that declares what it reads:

* :attr:`~Likelihood.products`: theory products by name, each with the extent of the axes it
  needs, e.g. ``{"cmb_tt": {"ell": (2, 2508)}}``; ``"cosmology"`` (no axes) asks for the
  :class:`~cosmoemu.cosmology.Cosmology` the posterior builds from the parameters and the
  theory's fixed settings;
* :attr:`~Likelihood.params`: scalars read by name — sampled or fixed parameters (nuisances such
  as ``A_planck``), derived parameters, or scalar products of the theory (``rdrag``);

and computes a scalar log-likelihood with ``from_values(values)`` from a mapping holding all of
them (``values["cmb_tt"]``: raw C_ℓ from ℓ = 2; ``values["cosmology"]``; ``values["A_planck"]``).
It is called inside ``jit``, ``grad`` and ``vmap``.

Configs resolve names through :func:`likelihood_from_config`: the ``type`` field, or the entry's
name, is looked up among the factories given to :func:`register_likelihood` (or is an import path
``package.module:factory``). A factory takes the entry's options and its dotted config path and
raises :class:`~cosmoemu._errors.ConfigError` naming the field.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import jax

from .._errors import ConfigError, unknown_name_message

__all__ = [
    "COSMOLOGY",
    "Likelihood",
    "LikelihoodFactory",
    "register_likelihood",
    "likelihood_names",
    "likelihood_from_config",
    "config_dir",
    "using_config_dir",
]

COSMOLOGY = "cosmology"
"""The product name under which a likelihood asks for the :class:`Cosmology`."""


@runtime_checkable
class Likelihood(Protocol):
    """What the posterior needs of a likelihood (see the module docstring)."""

    @property
    def products(self) -> Mapping[str, Mapping[str, tuple[float, float]]]:
        """Theory products read: name → {axis name: (first, last) value needed}."""
        ...

    @property
    def params(self) -> tuple[str, ...]:
        """Scalar parameters read by name (nuisances, sampled, derived, theory scalars)."""
        ...

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every name :meth:`from_values` reads: ``(*products, *params)``."""
        ...

    def from_values(self, values: Mapping[str, Any]) -> jax.Array:
        """The scalar log-likelihood from a mapping holding :attr:`inputs`."""
        ...


LikelihoodFactory = Callable[[Mapping[str, Any], str], Likelihood]
"""``factory(options, where) -> Likelihood``: ``options`` is the config entry without ``type``;
``where`` its dotted path (``likelihood.<name>``) for :class:`ConfigError` messages."""

_REGISTRY: dict[str, LikelihoodFactory] = {}
_CONFIG_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "cosmoemu_likelihood_config_dir", default=None)


def config_dir() -> Path | None:
    """The directory of the config file whose likelihoods are being built (for factories that
    read data files given by relative paths), or None (a config given as a mapping)."""
    return _CONFIG_DIR.get()


@contextlib.contextmanager
def using_config_dir(path: str | Path | None) -> Iterator[None]:
    """Within the block, :func:`config_dir` returns ``path``."""
    token = _CONFIG_DIR.set(None if path is None else Path(path))
    try:
        yield
    finally:
        _CONFIG_DIR.reset(token)


def register_likelihood(name: str, factory: LikelihoodFactory, *, replace: bool = False) -> None:
    """Make ``name`` usable as a likelihood ``type`` in configs.

    Raises:
        ValueError: ``name`` is taken (pass ``replace=True`` to override it).
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"likelihood '{name}' is already registered")
    _REGISTRY[name] = factory


def likelihood_names() -> tuple[str, ...]:
    """Registered likelihood names."""
    return tuple(_REGISTRY)


def _import_factory(target: str, field: str) -> LikelihoodFactory:
    module, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(field, f"cannot import likelihood factory '{target}': {err}") from err
    if not callable(factory):
        raise ConfigError(field, f"'{target}' is not callable")
    return factory


def likelihood_from_config(name: str, cfg: Any) -> Likelihood:
    """The likelihood a config entry ``likelihood: {name: cfg}`` describes.

    Args:
        name: the entry's key; also its type when ``cfg`` has no ``type`` field.
        cfg: a mapping of options (or None for none).

    Raises:
        ConfigError: naming the field: not a mapping, an unknown type, or a factory's complaint.
    """
    where = f"likelihood.{name}"
    cfg = {} if cfg is None else cfg
    if not isinstance(cfg, Mapping):
        raise ConfigError(where, f"expected a mapping of options, got {cfg!r}")
    kind = cfg.get("type", name)
    field = f"{where}.type" if "type" in cfg else where
    if not isinstance(kind, str):
        raise ConfigError(field, f"expected a likelihood name, got {kind!r}")
    if kind in _REGISTRY:
        factory = _REGISTRY[kind]
    elif ":" in kind:
        factory = _import_factory(kind, field)
    else:
        raise ConfigError(field, unknown_name_message("likelihood", kind, likelihood_names()))
    options = {k: v for k, v in cfg.items() if k != "type"}
    return factory(options, where)
