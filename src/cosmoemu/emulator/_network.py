"""The one dense network every emulator uses (dense and PCA kinds share it).

A multilayer perceptron as an Equinox module (a pytree): weights, biases and, for the trainable
activation, per-unit ``alpha`` and ``beta``. It acts on ``(..., n_in)`` and returns
``(..., n_out)``; the last layer is linear.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .._errors import unknown_name_message

__all__ = ["MLP", "ACTIVATIONS", "init_mlp", "alsing_activation"]


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


class MLP(eqx.Module):
    """Dense network ``n_in -> hidden... -> n_out`` with a linear last layer.

    Attributes:
        weights: tuple of ``(n_in_l, n_out_l)`` matrices.
        biases: tuple of ``(n_out_l,)`` vectors.
        alphas: tuple of ``(n_hidden_l,)`` (trainable activation only, else empty).
        betas: tuple of ``(n_hidden_l,)`` (trainable activation only, else empty).
        activation: name, one of :data:`ACTIVATIONS`.
    """

    weights: tuple[Array, ...]
    biases: tuple[Array, ...]
    alphas: tuple[Array, ...]
    betas: tuple[Array, ...]
    activation: str = eqx.field(static=True)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Layer widths ``(n_in, hidden..., n_out)``."""
        return (int(self.weights[0].shape[0]), *(int(w.shape[1]) for w in self.weights))

    def __call__(self, x: ArrayLike) -> Array:
        """Forward pass.

        Args:
            x: standardised inputs, shape ``(..., n_in)``.

        Returns:
            Network outputs, shape ``(..., n_out)``, in the dtype of ``x``.
        """
        x = jnp.asarray(x)
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
) -> MLP:
    """Initialise a network with Glorot-normal weights and zero biases.

    The trainable activation starts near SiLU (``alpha ~ 1``, ``beta ~ 0``) with a little noise so
    that units differ.

    Args:
        key: PRNG key.
        sizes: ``(n_in, hidden..., n_out)``, at least two entries.
        activation: one of :data:`ACTIVATIONS`.
        dtype: float dtype of the parameters.

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
    return MLP(tuple(weights), tuple(biases), tuple(alphas), tuple(betas), activation)
