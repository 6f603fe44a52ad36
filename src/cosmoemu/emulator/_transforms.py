"""Output transforms: small invertible steps between network space and physical units.

An emulator's output is a chain of steps applied after the network (``decode``, in JAX) and,
reversed, to the training data (``encode``, in NumPy). Each step is one idea:

- :class:`Affine` — standardisation, ``y * scale + shift``;
- :class:`PCA` — principal-component basis, ``coefficients @ components``;
- :class:`Pow10` — the output was emulated as ``log10``;
- :class:`ParamFactor` — a known factor of the parameters, e.g. :math:`A_s e^{-2\\tau}`, so the
  network learns only what physics does not already give.

Steps are Equinox modules (pytrees) and serialise to a JSON spec plus named arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .._errors import unknown_name_message

__all__ = [
    "Transform",
    "Affine",
    "PCA",
    "Pow10",
    "ParamFactor",
    "decode_chain",
    "encode_chain",
    "transform_from_spec",
]


class Transform(eqx.Module):
    """Base class: ``decode`` maps network space to physical, ``encode`` the reverse."""

    type_name: ClassVar[str] = ""

    def decode(self, y: Array, theta: Array) -> Array:
        """Network space -> physical (JAX). ``theta``: physical parameters ``(..., n_params)``."""
        raise NotImplementedError

    def encode(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Physical -> network space (NumPy, float64), for training data."""
        raise NotImplementedError

    def spec(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able description and the arrays it refers to (keys start with ``prefix``)."""
        raise NotImplementedError


class Affine(Transform):
    """``decode(y) = y * scale + shift``; standardisation when shift/scale are mean/std.

    Attributes:
        shift: shape ``(n,)``.
        scale: shape ``(n,)``, non-zero.
    """

    shift: Array
    scale: Array
    type_name: ClassVar[str] = "affine"

    def decode(self, y: Array, theta: Array | None = None) -> Array:
        return y * jnp.asarray(self.scale, y.dtype) + jnp.asarray(self.shift, y.dtype)

    def encode_jax(self, y: Array) -> Array:
        """``(y - shift) / scale`` in JAX, in the dtype of ``y`` (used for inputs)."""
        return (y - jnp.asarray(self.shift, y.dtype)) / jnp.asarray(self.scale, y.dtype)

    def encode(self, y: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        return (np.asarray(y, np.float64) - np.asarray(self.shift, np.float64)) / np.asarray(
            self.scale, np.float64
        )

    def spec(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {
            f"{prefix}/shift": np.asarray(self.shift),
            f"{prefix}/scale": np.asarray(self.scale),
        }
        return {
            "type": self.type_name,
            "shift": f"{prefix}/shift",
            "scale": f"{prefix}/scale",
        }, arrays

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Affine:
        return cls(arrays[spec["shift"]], arrays[spec["scale"]])

    @classmethod
    def standardise(cls, data: np.ndarray, axis: int = 0, floor: float = 0.0) -> Affine:
        """Fit ``shift = mean``, ``scale = std`` over ``axis`` (zero spread -> scale 1)."""
        data = np.asarray(data, np.float64)
        mean = data.mean(axis=axis)
        std = data.std(axis=axis)
        std = np.where(std > floor, std, 1.0)
        return cls(mean, std)


class PCA(Transform):
    """Principal-component basis: ``decode(c) = c @ components`` (rows orthonormal).

    Attributes:
        components: shape ``(n_components, n_modes)``, orthonormal rows.
    """

    components: Array
    type_name: ClassVar[str] = "pca"

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def decode(self, y: Array, theta: Array | None = None) -> Array:
        return y @ jnp.asarray(self.components, y.dtype)

    def encode(self, y: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(y, np.float64) @ np.asarray(self.components, np.float64).T

    def spec(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        key = f"{prefix}/components"
        return {"type": self.type_name, "components": key}, {key: np.asarray(self.components)}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> PCA:
        return cls(arrays[spec["components"]])


class Pow10(Transform):
    """``decode(y) = 10**y``: the quantity was emulated as its base-10 logarithm."""

    type_name: ClassVar[str] = "pow10"

    def decode(self, y: Array, theta: Array | None = None) -> Array:
        # exp(y ln 10): ~3x faster than jnp.power(10, y) on CPU, same float32 rounding
        return jnp.exp(y * jnp.asarray(np.log(10.0), y.dtype))

    def encode(self, y: np.ndarray, theta: np.ndarray | None = None) -> np.ndarray:
        y = np.asarray(y, np.float64)
        if np.any(~(y > 0)):
            bad = np.argwhere(~(y > 0))[0]
            raise ValueError(
                f"log10 output transform needs strictly positive outputs; found {y[tuple(bad)]!r} "
                f"at index {tuple(int(b) for b in bad)}. Use `log10: false` for quantities that "
                "change sign (e.g. C_ell^TE)."
            )
        return np.log10(y)

    def spec(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"type": self.type_name}, {}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Pow10:
        return cls()


class ParamFactor(Transform):
    r"""Multiply by a known positive factor of the physical parameters.

    .. math::
        f(\theta) = \exp\Big(c + \sum_i a_i\,\theta_i + \sum_i b_i \ln\theta_i\Big)

    e.g. :math:`A_s e^{-2\tau}` is ``c = ln(1e-10)``, ``a = {ln10^{10}A_s: 1, tau_reio: -2}``.

    Attributes:
        const: the constant ``c``.
        linear: ``a``, one per parameter, shape ``(n_params,)``.
        log: ``b``, one per parameter, shape ``(n_params,)``.
    """

    linear: Array
    log: Array
    const: float = eqx.field(static=True)
    type_name: ClassVar[str] = "param_factor"

    def log_factor(self, theta: ArrayLike) -> Array:
        """``ln f(theta) - c`` (without the constant), shape ``(...)`` for ``(..., n_params)``."""
        theta = jnp.asarray(theta)
        lin = jnp.asarray(self.linear, theta.dtype)
        lg = jnp.asarray(self.log, theta.dtype)
        # ln(theta) only where a coefficient is non-zero, so other parameters may be <= 0
        return theta @ lin + jnp.log(jnp.where(lg != 0, theta, 1.0)) @ lg

    def decode(self, y: Array, theta: Array) -> Array:
        # exp(c) is taken in float64 once: in float32, exp(-23 + ...) would lose 1e-6 relative
        scale = jnp.asarray(np.exp(self.const), y.dtype)
        return y * (scale * jnp.exp(self.log_factor(theta.astype(y.dtype))))[..., None]

    def encode(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, np.float64)
        logf = self.const + theta @ np.asarray(self.linear, np.float64)
        lg = np.asarray(self.log, np.float64)
        if np.any(lg != 0):
            logf = logf + np.log(np.where(lg != 0, theta, 1.0)) @ lg
        return np.asarray(y, np.float64) / np.exp(logf)[..., None]

    def spec(self, prefix: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {
            "type": self.type_name,
            "const": float(self.const),
            "linear": [float(v) for v in np.asarray(self.linear)],
            "log": [float(v) for v in np.asarray(self.log)],
        }, {}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ParamFactor:
        return cls(
            np.asarray(spec["linear"], np.float64),
            np.asarray(spec["log"], np.float64),
            float(spec["const"]),
        )

    @classmethod
    def from_names(
        cls,
        parameters: Sequence[str],
        linear: Mapping[str, float] | None = None,
        log: Mapping[str, float] | None = None,
        const: float = 0.0,
    ) -> ParamFactor:
        """Build from ``{parameter name: coefficient}`` mappings; unknown names are an error."""
        parameters = list(parameters)

        def vec(mapping: Mapping[str, float] | None, what: str) -> np.ndarray:
            out = np.zeros(len(parameters))
            for name, value in (mapping or {}).items():
                if name not in parameters:
                    raise ValueError(
                        unknown_name_message(f"parameter in factor.{what}", name, parameters)
                    )
                out[parameters.index(name)] = float(value)
            return out

        return cls(vec(linear, "linear"), vec(log, "log"), float(const))


_TYPES: dict[str, type[Transform]] = {t.type_name: t for t in (Affine, PCA, Pow10, ParamFactor)}


def transform_from_spec(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Transform:
    """Rebuild a step from its JSON spec; an unknown ``type`` is an error."""
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ValueError(f"unknown output transform type {kind!r}; known: {', '.join(_TYPES)}")
    return _TYPES[kind].from_spec(spec, arrays)  # type: ignore[attr-defined]


def decode_chain(steps: Sequence[Transform], y: Array, theta: Array) -> Array:
    """Apply ``steps`` in order (network output -> physical)."""
    for step in steps:
        y = step.decode(y, theta)
    return y


def encode_chain(steps: Sequence[Transform], y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Apply the steps' ``encode`` in reverse order (physical -> network targets)."""
    for step in reversed(list(steps)):
        y = step.encode(y, theta)
    return y
