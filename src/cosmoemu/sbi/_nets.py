r"""The networks of the three SBI methods and their log-densities (pure JAX, one point).

All three see whitened variables (:class:`~cosmoemu.evidence._whiten.Whitening` fitted to the
training simulations): :math:`a = L_a^{-1}(\cdot - \mu_a)`.

- ``"nle"``: a conditional coupling flow (flowjax) :math:`q(x_w \mid \theta_w)`; in the data's
  own units :math:`\ln q(x\mid\theta) = \ln q(x_w\mid\theta_w) + \ln\lvert\det L_x^{-1}\rvert`,
  normalised over :math:`x`.
- ``"npe"``: a conditional coupling flow :math:`q(\theta_w \mid x_w)`, normalised over
  :math:`\theta`.
- ``"nre"``: an MLP classifier :math:`f(\theta_w, x_w)` trained with the binary loss (joint pairs
  against pairs with the :math:`\theta` of another simulation), whose optimum is
  :math:`f = \ln p(x\mid\theta) - \ln p(x)`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import paramax

from .._config import check_choice, check_keys, get
from .._errors import ConfigError

__all__ = ["METHODS", "NetConfig", "build", "template"]

METHODS = ("nle", "npe", "nre")


@dataclass(frozen=True)
class NetConfig:
    """Architecture and training settings of one estimator.

    Attributes:
        flow_layers: coupling layers of the flows (NLE, NPE).
        nn_width: width of the hidden layers (flow conditioners; the NRE classifier).
        nn_depth: hidden layers (flow conditioners; the NRE classifier).
        batch_size: simulations per optimisation step.
        learning_rate: Adam learning rate.
        max_epochs: upper limit on passes over the training simulations.
        patience: stop after this many epochs without a better validation loss.
        validation_fraction: share of the simulations held out for early stopping.
        ensemble: independently initialised and split networks; their spread is the
            estimator's error on :math:`\\ln Z` (NLE).
        bootstrap: 1: each member trains on a bootstrap resample (with replacement) of its
            training simulations, so that the members' spread includes the error from the
            finite number of simulations (shared training data would hide it); 0: on the
            simulations themselves.
        linear: NLE: 1 (default) precondition the data with the least-squares linear model
            of x given θ and its residual covariance (:class:`~cosmoemu.sbi.Regression`), so
            the flow learns what a linear-Gaussian model misses; 0: the flow sees the
            whitened data.
    """

    flow_layers: int = 5
    nn_width: int = 64
    nn_depth: int = 1
    batch_size: int = 256
    learning_rate: float = 1e-3
    max_epochs: int = 300
    patience: int = 15
    validation_fraction: float = 0.1
    ensemble: int = 8
    bootstrap: int = 1
    linear: int = 1

    @classmethod
    def from_options(cls, method: str, options: Mapping[str, Any] | None = None) -> NetConfig:
        """Defaults for ``method`` updated with ``options`` (names and types checked)."""
        check_choice(method, METHODS, "method")
        config = cls(**_METHOD_DEFAULTS[method])
        options = dict(options or {})
        fields = list(asdict(config))
        check_keys(options, fields, where="options")
        updates = {}
        for name in options:
            typ = float if isinstance(getattr(config, name), float) else int
            value = get(options, name, typ, where="options")
            bad = value < 0 if name in ("bootstrap", "linear") else value <= 0
            if bad or (name == "validation_fraction" and value >= 1):
                allowed = "in (0, 1)" if name == "validation_fraction" else "positive"
                raise ConfigError(f"options.{name}", f"must be {allowed}, got {value!r}")
            updates[name] = value
        return replace(config, **updates)


_METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "nle": {},
    "npe": {},
    "nre": {"nn_width": 128, "nn_depth": 2, "learning_rate": 5e-4},
}


def _key(seed: int) -> jax.Array:
    # as in cosmoemu.evidence._flows: RBG keys compile the eager initialisation faster; they
    # draw only initial weights and permutations
    return jr.key(seed, impl="unsafe_rbg")


def _build(method: str, config: NetConfig, theta_dim: int, x_dim: int, key: jax.Array):
    if method == "nre":
        return eqx.nn.MLP(theta_dim + x_dim, "scalar", config.nn_width, config.nn_depth,
                          activation=jax.nn.silu, key=key)
    from flowjax.distributions import StandardNormal
    from flowjax.flows import coupling_flow

    dim, cond = (x_dim, theta_dim) if method == "nle" else (theta_dim, x_dim)
    if dim < 2:
        what = "data" if method == "nle" else "parameters"
        raise ValueError(f"{method.upper()} uses coupling flows, which need at least 2 {what} "
                         f"dimensions, got {dim}")
    return coupling_flow(key, base_dist=StandardNormal((dim,)), cond_dim=cond,
                         flow_layers=config.flow_layers, nn_width=config.nn_width,
                         nn_depth=config.nn_depth, invert=True)


def _is_non_trainable(leaf: Any) -> bool:
    return isinstance(leaf, paramax.NonTrainable)


def _split(module):
    return eqx.partition(module, eqx.is_inexact_array, is_leaf=_is_non_trainable)


@functools.lru_cache(maxsize=32)
def template(method: str, config: NetConfig, theta_dim: int, x_dim: int, seed: int):
    """``(params, static)`` of a network built with ``seed``. One ``static`` per architecture
    and seed (cached): every ensemble member shares it (the coupling permutations and the
    functions), so jitted functions compile once and members differ only in ``params``."""
    return _split(_build(method, config, theta_dim, x_dim, _key(seed)))


def build(method: str, config: NetConfig, theta_dim: int, x_dim: int, seed: int,
          member: int) -> Any:
    """Fresh trainable parameters of ensemble member ``member`` (the shared ``static`` is
    :func:`template` with ``seed``)."""
    _, static = template(method, config, theta_dim, x_dim, seed)
    fresh, _ = _split(_build(method, config, theta_dim, x_dim,
                             _key(seed * 1009 + 7919 * (member + 1))))
    return fresh


def log_q(params, static, target: jax.Array, condition: jax.Array) -> jax.Array:
    """Flow log-density of whitened ``target`` ``(..., dim)`` given whitened ``condition``
    ``(..., cond_dim)`` → ``(...)``."""
    flow = paramax.unwrap(eqx.combine(params, static))
    return flow.log_prob(target, condition)


def logit(params, static, theta: jax.Array, x: jax.Array) -> jax.Array:
    """NRE classifier output :math:`f(\\theta_w, x_w)` for one pair → scalar."""
    mlp = eqx.combine(params, static)
    return mlp(jnp.concatenate([theta, x], axis=-1))
