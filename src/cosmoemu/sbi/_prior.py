"""The prior of an SBI model: a mapping name → prior spec, read by the inference priors.

Each entry is either a prior spec as under ``params.NAME.prior`` of a sampling config
(``{"dist": "norm", "loc": 0.0, "scale": 3.0}``, ``{"min": 0, "max": 1}``, ...) or a block,
``{"shape": n, "prior": {...}}``, whose elements are named ``NAME_1 … NAME_n`` as in the
sampling configs. The parsing is :func:`cosmoemu.inference.prior_from_config`: there is one
prior system.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._config import check_keys
from .._errors import ConfigError
from ..inference._from_config import _shape
from ..inference._posterior import block_names
from ..inference._priors import Prior, VectorPrior, prior_from_config

__all__ = ["parse_prior", "plain_prior"]


def plain_prior(prior: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping as JSON-safe builtins (checked: it must round-trip through JSON)."""
    if not isinstance(prior, Mapping) or not prior:
        raise ConfigError("prior", f"expected a non-empty mapping name -> prior spec, got "
                                   f"{prior!r}")
    try:
        return json.loads(json.dumps({str(k): v for k, v in prior.items()}))
    except (TypeError, ValueError) as err:
        raise ConfigError("prior", f"must hold plain numbers and strings (it is saved as "
                                   f"JSON): {err}") from err


def parse_prior(prior: Mapping[str, Any]) -> tuple[dict[str, Prior], tuple[str, ...]]:
    """Priors by (block) name and the names of the parameters, blocks expanded, in order.

    Returns:
        ``(priors, names)``: ``priors`` as :class:`~cosmoemu.inference.Posterior` takes them;
        ``names`` the columns of ``theta``, ``(D,)``.

    Raises:
        ConfigError: naming the bad entry.
    """
    priors: dict[str, Prior] = {}
    names: list[str] = []
    for name, entry in plain_prior(prior).items():
        where = f"prior.{name}"
        if not isinstance(entry, Mapping):
            raise ConfigError(where, f"expected a prior spec mapping, got {entry!r}")
        if "shape" in entry:
            check_keys(entry, ("shape", "prior"), where)
            size = _shape(entry, where)
            if "prior" not in entry:
                raise ConfigError(f"{where}.prior", "is required for a block")
            p = prior_from_config(entry["prior"], f"{where}.prior", size=size)
        else:
            p = prior_from_config(entry, where)
        priors[name] = p
        names += block_names(name, p.size) if isinstance(p, VectorPrior) else [name]
    if len(set(names)) != len(names):
        raise ConfigError("prior", f"parameter names repeat: {names}")
    return priors, tuple(names)
