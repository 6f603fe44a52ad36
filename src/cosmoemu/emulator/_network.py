"""The one dense network every emulator uses (dense and PCA kinds share it).

A multilayer perceptron as an Equinox module (a pytree): weights, biases and, for the trainable
activation, per-unit ``alpha`` and ``beta``. It acts on ``(..., n_in)`` and returns
``(..., n_out)``; the last layer is linear. With ``input_degree`` d > 1 the inputs are first
expanded into their monomials of degree 1..d; with no hidden layer that is a polynomial
(fitted in closed form by ``train_emulator(..., solver="lstsq")``), the most accurate emulator
of a smooth function over a small region such as a posterior's 5σ ellipsoid.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .._errors import unknown_name_message

__all__ = ["MLP", "ACTIVATIONS", "init_mlp", "alsing_activation", "polynomial_features",
           "n_polynomial_features"]


def alsing_activation(x: ArrayLike, alpha: ArrayLike, beta: ArrayLike) -> Array:
    r"""Trainable activation of Alsing et al. (2020), used by CosmoPower.

    .. math::
        f(x) = \left[\beta + \sigma(\alpha x)\,(1 - \beta)\right] x

    with :math:`\sigma` the logistic sigmoid and ``alpha``, ``beta`` one value per unit. It
    interpolates between a linear unit (``beta = 1``) and SiLU-like gating (``beta = 0``).

    Args:
        x: pre-activations, shape ``(..., n_units)``.
        alpha: gate sharpness, shape ``(n_units,)``.
        beta: linear fraction, shape ``(n_units,)``.

    Returns:
        Activations, shape ``(..., n_units)``.
    """
    return (beta + jax.nn.sigmoid(alpha * x) * (1.0 - beta)) * x


ACTIVATIONS: dict[str, Callable[[Array], Array] | None] = {
    "alsing": None,  # trainable, handled with its parameters
    "tanh": jnp.tanh,
    "silu": jax.nn.silu,
    "gelu": jax.nn.gelu,
    "relu": jax.nn.relu,
}


@functools.lru_cache(maxsize=32)
def _monomial_index(n_in: int, degree: int) -> np.ndarray:
    """``(n_features, degree)`` input indices of each monomial; ``n_in`` pads (stands for 1)."""
    rows = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(n_in), d):
            rows.append(list(combo) + [n_in] * (degree - d))
    return np.asarray(rows, np.int32)


def n_polynomial_features(n_in: int, degree: int) -> int:
    """Number of monomials of degree 1..``degree`` in ``n_in`` variables."""
    return len(_monomial_index(int(n_in), int(degree)))


def polynomial_features(x: ArrayLike, degree: int) -> Array:
    """Monomials of degree 1..``degree`` of the last axis of ``x``.

    Args:
        x: ``(..., n_in)``.
        degree: highest total degree (1 returns ``x``).

    Returns:
        ``(..., n_features)``: degree-1 terms first (``x`` itself), then degree 2
        (``x_i x_j``, i <= j), and so on. No constant term (the layer's bias is one).
    """
    x = jnp.asarray(x)
    if degree == 1:
        return x
    index = _monomial_index(int(x.shape[-1]), int(degree))
    padded = jnp.concatenate([x, jnp.ones((*x.shape[:-1], 1), x.dtype)], axis=-1)
    return jnp.prod(padded[..., index], axis=-1)


class MLP(eqx.Module):
    """Dense network ``n_in -> hidden... -> n_out`` with a linear last layer.

    Attributes:
        weights: tuple of ``(n_in_l, n_out_l)`` matrices.
        biases: tuple of ``(n_out_l,)`` vectors.
        alphas: tuple of ``(n_hidden_l,)`` (trainable activation only, else empty).
        betas: tuple of ``(n_hidden_l,)`` (trainable activation only, else empty).
        activation: name, one of :data:`ACTIVATIONS`.
        input_degree: 1, or d > 1 to feed the monomials of degree 1..d of the inputs
            (see :func:`polynomial_features`).
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    alphas: tuple[Array, ...]
    betas: tuple[Array, ...]
    activation: str = eqx.field(static=True)
    input_degree: int = eqx.field(static=True, default=1)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(n_features, hidden..., n_out)``; ``n_features`` is the number of
        inputs, or of their monomials when ``input_degree`` > 1."""
        return (int(self.weights[0].shape[0]), *(int(w.shape[1]) for w in self.weights))

    def __call__(self, x: ArrayLike) -> Array:
        """Forward pass.

        Args:
            x: standardised inputs, shape ``(..., n_in)``.

        Returns:
            Network outputs, shape ``(..., n_out)``, in the dtype of ``x``.
        """
        x = polynomial_features(x, self.input_degree)
        dtype = x.dtype
        n_hidden = len(self.weights) - 1
        act = ACTIVATIONS[self.activation]
        for i in range(n_hidden):
            x = x @ jnp.asarray(self.weights[i], dtype) + jnp.asarray(self.biases[i], dtype)
            if act is None:
                x = alsing_activation(
                    x, jnp.asarray(self.alphas[i], dtype), jnp.asarray(self.betas[i], dtype)
                )
            else:
                x = act(x)
        return x @ jnp.asarray(self.weights[-1], dtype) + jnp.asarray(self.biases[-1], dtype)


def init_mlp(
    key: Array,
    sizes: Sequence[int],
    activation: str = "alsing",
    dtype: type | np.dtype = np.float32,
    input_degree: int = 1,
) -> MLP:
    """Initialise a network with Glorot-normal weights and zero biases.

    The trainable activation starts near SiLU (``alpha ~ 1``, ``beta ~ 0``) with a little noise so
    that units differ.

    Args:
        key: PRNG key.
        sizes: ``(n_in, hidden..., n_out)``, at least two entries.
        activation: one of :data:`ACTIVATIONS`.
        dtype: float dtype of the parameters.
        input_degree: expand the ``sizes[0]`` inputs into their monomials of degree
            1..``input_degree`` before the first layer.

    Returns:
        The initialised :class:`MLP` (numpy arrays as leaves).

    Raises:
        ValueError: on an unknown activation or fewer than two sizes.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(unknown_name_message("activation", activation, ACTIVATIONS))
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"network sizes must be >= 2 positive widths, got {sizes}")
    if not (isinstance(input_degree, int) and input_degree >= 1):
        raise ValueError(f"input_degree must be an integer >= 1, got {input_degree!r}")
    sizes[0] = n_polynomial_features(sizes[0], input_degree)
    keys = jax.random.split(key, 3 * len(sizes))
    weights, biases, alphas, betas = [], [], [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        std = np.sqrt(2.0 / (n_in + n_out))
        w = std * jax.random.normal(keys[3 * i], (n_in, n_out))
        weights.append(np.asarray(w, dtype))
        biases.append(np.zeros(n_out, dtype))
        if activation == "alsing" and i < len(sizes) - 2:
            alphas.append(
                np.asarray(1.0 + 0.1 * jax.random.normal(keys[3 * i + 1], (n_out,)), dtype)
            )
            betas.append(np.asarray(0.1 * jax.random.normal(keys[3 * i + 2], (n_out,)), dtype))
    return MLP(tuple(weights), tuple(biases), tuple(alphas), tuple(betas), activation,
               input_degree)
