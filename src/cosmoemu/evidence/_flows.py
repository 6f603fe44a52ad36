r"""Normalizing flows from flowjax and their tempered log-density.

Two coupling flows (Dinh et al. 2017; Durkan et al. 2019), both from flowjax:

- ``"realnvp"``: affine coupling layers (fast; the default).
- ``"rqspline"``: rational-quadratic spline coupling layers (more flexible, ~10x slower to train
  on CPU).

Every flow is a bijection :math:`z = g(x)` to a Gaussian base. The *temperature* :math:`T` is
the variance of that base, for every kind of flow:

.. math::

    \ln q_T(x) = \ln \mathcal{N}\big(g(x);\, 0,\, T\,\mathbb{1}\big)
        + \ln\left\lvert\det \frac{\partial g}{\partial x}\right\rvert ,

so :math:`q_1` is the flow as trained and :math:`q_T` with :math:`T < 1` is a normalised density
with narrower tails.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import paramax

from .._config import check_choice, check_keys, get
from .._errors import ConfigError

__all__ = ["FLOW_KINDS", "FlowConfig", "init_flow", "log_density"]

FLOW_KINDS = ("realnvp", "rqspline")
_EVAL_CHUNK = 8192


@dataclass(frozen=True)
class FlowConfig:
    """Architecture and training settings of a flow.

    Attributes:
        kind: ``"realnvp"`` (affine coupling) or ``"rqspline"`` (rational-quadratic spline).
        flow_layers: number of coupling layers.
        nn_width: width of each conditioner network's hidden layers.
        nn_depth: number of hidden layers of each conditioner.
        knots: spline knots (``"rqspline"`` only).
        interval: the spline acts on ``[-interval, interval]`` of the whitened variables and
            is the identity outside (``"rqspline"`` only).
        batch_size: samples per optimisation step.
        learning_rate: Adam learning rate.
        max_epochs: upper limit on passes over the training data.
        patience: stop after this many epochs without a better validation loss.
        validation_fraction: share of the training samples held out for early stopping.
    """

    kind: str = "realnvp"
    flow_layers: int = 6
    nn_width: int = 32
    nn_depth: int = 1
    knots: int = 8
    interval: float = 5.0
    batch_size: int = 256
    learning_rate: float = 2e-3
    max_epochs: int = 40
    patience: int = 4
    validation_fraction: float = 0.1

    @classmethod
    def from_options(cls, kind: str, options: Mapping[str, Any] | None = None) -> FlowConfig:
        """Defaults for ``kind`` updated with ``options`` (checked: names and types).

        Raises:
            ConfigError: on an unknown kind, an unknown option or a value of the wrong type.
        """
        check_choice(kind, FLOW_KINDS, "flow")
        config = cls(kind=kind, **_KIND_DEFAULTS[kind])
        options = dict(options or {})
        fields = [f for f in asdict(config) if f != "kind"]
        check_keys(options, fields, where="flow_options")
        updates = {}
        for name in options:
            typ = float if isinstance(getattr(config, name), float) else int
            value = get(options, name, typ, where="flow_options")
            if value <= 0 or (name == "validation_fraction" and value >= 1):
                allowed = "in (0, 1)" if name == "validation_fraction" else "positive"
                raise ConfigError(f"flow_options.{name}", f"must be {allowed}, got {value!r}")
            updates[name] = value
        return replace(config, **updates)


_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "realnvp": {},
    "rqspline": {"flow_layers": 4, "nn_width": 32, "knots": 8, "batch_size": 512},
}


def _build(config: FlowConfig, dim: int, key: jax.Array):
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import StandardNormal
    from flowjax.flows import coupling_flow

    transformer = None
    if config.kind == "rqspline":
        transformer = RationalQuadraticSpline(knots=config.knots, interval=config.interval)
    return coupling_flow(
        key,
        base_dist=StandardNormal((dim,)),
        transformer=transformer,
        flow_layers=config.flow_layers,
        nn_width=config.nn_width,
        nn_depth=config.nn_depth,
        invert=True,  # fast density evaluation, which is all we need
    )


def _key(seed: int) -> jax.Array:
    # Building a flow runs dozens of small eager JAX operations, each compiled on first use;
    # with RBG keys the random ones compile several times faster than with threefry (3 s
    # instead of 7-10 s on a loaded 2-core machine). They only draw the initial weights and the
    # coupling permutations, where statistical quality beyond "random" does not matter.
    return jr.key(seed, impl="unsafe_rbg")


@functools.lru_cache(maxsize=32)
def _template(config: FlowConfig, dim: int, dtype: str):
    """One flow per architecture (and float type): its non-array parts (closures) are shared by
    every fit, so jitted functions of the flow compile once per architecture."""
    return _build(config, dim, _key(0))


def init_flow(config: FlowConfig, dim: int, seed: int):
    """Freshly initialised flow, partitioned into trainable ``params`` and ``static``.

    Every coupling layer starts as the identity (the conditioners' output layers are zero, see
    :func:`_identity_start`): the untrained flow is the standard normal, i.e. the whitened
    Gaussian in the sampled parameters, and training moves away from it only where that lowers
    the validation loss. (From random weights, a flow in 157 dimensions fitted to 9,000 samples
    never got back to the Gaussian's validation loss: it overfits before it unlearns its start.)

    Args:
        config: the architecture.
        dim: number of parameters, at least 2.
        seed: seeds the initial weights and the coupling layers' permutations.

    Returns:
        ``(params, static)`` as from ``equinox.partition``; ``static`` holds the non-trainable
        parts (permutations, functions).
    """
    if dim < 2:
        raise ValueError(f"coupling flows need at least 2 parameters, got dim={dim}")
    template = _template(config, dim, str(jnp.zeros(()).dtype))
    fresh = _build(config, dim, _key(seed))
    old, treedef = jax.tree.flatten(template, is_leaf=_is_non_trainable)
    new = jax.tree.leaves(fresh, is_leaf=_is_non_trainable)
    # arrays (weights, permutations) from the fresh flow, functions from the template
    merged = [
        n if eqx.is_array(n) or _is_non_trainable(n) else o
        for o, n in zip(old, new, strict=True)
    ]
    flow = _identity_start(jax.tree.unflatten(treedef, merged))
    return eqx.partition(flow, eqx.is_inexact_array, is_leaf=_is_non_trainable)


def _identity_start(flow):
    """The flow with every coupling conditioner's output layer zeroed: each coupling layer is
    then its transformer at its default parameters (flowjax adds those to the conditioner's
    output), the identity for both kinds, and the untrained flow is the whitened Gaussian."""
    from flowjax.bijections import Coupling

    def output_layers(tree):
        nodes = jax.tree.leaves(tree, is_leaf=lambda n: isinstance(n, Coupling))
        layers = [n.conditioner.layers[-1] for n in nodes if isinstance(n, Coupling)]
        return [a for layer in layers for a in (layer.weight, layer.bias)]

    return eqx.tree_at(output_layers, flow, replace_fn=jnp.zeros_like)


def _is_non_trainable(leaf: Any) -> bool:
    return isinstance(leaf, paramax.NonTrainable)


def _log_q(params, static, x: jax.Array, temperature: jax.Array) -> jax.Array:
    """Tempered flow log-density of one whitened point ``x`` of shape ``(dim,)``."""
    flow = paramax.unwrap(eqx.combine(params, static))
    z, log_det = flow.bijection.inverse_and_log_det(x)
    dim = x.shape[-1]
    return (
        -0.5 * jnp.sum(z**2) / temperature
        - 0.5 * dim * jnp.log(2 * math.pi * temperature)
        + log_det
    )


@eqx.filter_jit
def _log_q_batch(params, static, x, temperature):
    return jax.vmap(_log_q, in_axes=(None, None, 0, None))(params, static, x, temperature)


def param_dtype(params) -> np.dtype:
    """Float type of the flow's parameters (float32 unless x64 was on when it was built)."""
    leaves = [leaf for leaf in jax.tree.leaves(params) if eqx.is_inexact_array(leaf)]
    return leaves[0].dtype if leaves else jnp.zeros(()).dtype


def log_density(params, static, x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Tempered log-density :math:`\\ln q_T(x)` of whitened points, evaluated in chunks.

    Args:
        params, static: the flow, as from :func:`init_flow` or training.
        x: whitened points, shape ``(n, dim)``.
        temperature: variance of the Gaussian base, > 0.

    Returns:
        float64 array of shape ``(n,)`` (the flow itself runs in the float type of its
        parameters: float32 unless JAX's x64 mode was on when it was built).
    """
    x = np.asarray(x)
    n = x.shape[0]
    dtype = param_dtype(params)
    out = np.empty(n, dtype=np.float64)
    temp = jnp.asarray(temperature, dtype=dtype)
    for start in range(0, n, _EVAL_CHUNK):
        chunk = x[start : start + _EVAL_CHUNK]
        m = chunk.shape[0]
        if m < _EVAL_CHUNK:  # pad, so every call has one shape (one compilation)
            chunk = np.concatenate([chunk, np.zeros((_EVAL_CHUNK - m, x.shape[1]))])
        values = _log_q_batch(params, static, jnp.asarray(chunk, dtype=dtype), temp)
        out[start : start + m] = np.asarray(values, dtype=np.float64)[:m]
    return out
