"""One-dimensional priors, normalised on their support: uniform and (truncated) Gaussian.

A prior knows its density and its support (the posterior maps ℝ onto the support with a
bijection from :mod:`._transforms`). Densities are normalised in the physical parameter so that
``minuslogpost = −(ln L + ln π)`` is properly normalised (the evidence code relies on it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike
from scipy import special, stats

from .._config import check_choice, check_keys, get
from .._errors import ConfigError

__all__ = ["Prior", "Uniform", "Normal", "prior_from_config"]


class Prior(eqx.Module):
    """Interface of a 1-d prior (all methods elementwise and jit-safe)."""

    def logpdf(self, x: ArrayLike) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def centre(self) -> float:  # pragma: no cover - interface
        """A central value (the default reference point)."""
        raise NotImplementedError

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:  # pragma: no cover
        raise NotImplementedError

    def truncate(self, lo: float, hi: float) -> Prior:  # pragma: no cover - interface
        """The prior restricted (and renormalised) to ``[lo, hi]`` ∩ support."""
        raise NotImplementedError


class Uniform(Prior):
    """Uniform on ``[lo, hi]``: ln π = −ln(hi − lo) inside, −inf outside."""

    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)

    def __init__(self, lo: float, hi: float) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"uniform prior needs finite min < max, got min={lo}, max={hi}")
        self.lo, self.hi = float(lo), float(hi)

    def logpdf(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        inside = (x >= self.lo) & (x <= self.hi)
        return jnp.where(inside, -math.log(self.hi - self.lo), -jnp.inf).astype(
            jnp.result_type(x.dtype, jnp.float32)
        )

    @property
    def support(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def centre(self) -> float:
        return 0.5 * (self.lo + self.hi)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.uniform(key, shape, minval=self.lo, maxval=self.hi)

    def truncate(self, lo: float, hi: float) -> Uniform:
        return Uniform(max(lo, self.lo), min(hi, self.hi))


class Normal(Prior):
    """Gaussian N(loc, scale²), optionally truncated to ``[lo, hi]`` and renormalised there.

    .. math:: \\ln π(x) = -\\tfrac12 z^2 - \\ln(\\sqrt{2π}\\,σ) - \\ln[Φ(b) - Φ(a)],
              \\quad z = (x-μ)/σ,\\ a = (lo-μ)/σ,\\ b = (hi-μ)/σ
    """

    loc: float = eqx.field(static=True)
    scale: float = eqx.field(static=True)
    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    log_norm: float = eqx.field(static=True)

    def __init__(
        self, loc: float, scale: float, lo: float = -math.inf, hi: float = math.inf
    ) -> None:
        if not (math.isfinite(loc) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"normal prior needs finite loc and scale > 0, got {loc}, {scale}")
        if not hi > lo:
            raise ValueError(f"normal prior truncation needs min < max, got {lo}, {hi}")
        a, b = (lo - loc) / scale, (hi - loc) / scale
        # log(Φ(b) − Φ(a)) without cancellation: use the tail on the side where it is small
        if a > 0:
            mass = special.log_ndtr(-a) + math.log1p(-math.exp(special.log_ndtr(-b) -
                                                               special.log_ndtr(-a)))
        else:
            mass = special.log_ndtr(b) + math.log1p(-math.exp(special.log_ndtr(a) -
                                                              special.log_ndtr(b)))
        if not math.isfinite(mass):
            raise ValueError(
                f"normal prior N({loc}, {scale}) has no mass in [{lo}, {hi}]"
            )
        self.loc, self.scale, self.lo, self.hi = float(loc), float(scale), float(lo), float(hi)
        self.log_norm = float(-0.5 * math.log(2 * math.pi) - math.log(scale) - mass)

    def logpdf(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        z = (x - self.loc) / self.scale
        inside = (x >= self.lo) & (x <= self.hi)
        return jnp.where(inside, -0.5 * z * z + self.log_norm, -jnp.inf)

    @property
    def support(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def centre(self) -> float:
        if self.lo < self.loc < self.hi:
            return self.loc
        a, b = (self.lo - self.loc) / self.scale, (self.hi - self.loc) / self.scale
        return float(stats.truncnorm.median(a, b, loc=self.loc, scale=self.scale))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        a, b = (self.lo - self.loc) / self.scale, (self.hi - self.loc) / self.scale
        return self.loc + self.scale * jax.random.truncated_normal(key, a, b, shape)

    def truncate(self, lo: float, hi: float) -> Normal:
        return Normal(self.loc, self.scale, max(lo, self.lo), min(hi, self.hi))


_DISTS = ("uniform", "norm")


def prior_from_config(cfg: Mapping[str, Any], where: str) -> Prior:
    """A prior from a Cobaya-style mapping.

    ``{min: a, max: b}`` (uniform), ``{dist: uniform, min: a, max: b}``, or
    ``{dist: norm, loc: m, scale: s}`` with optional ``min``/``max`` truncation.

    Raises:
        ConfigError: naming ``where`` (e.g. ``params.omega_b.prior``) and the bad field.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(where, f"expected a mapping like {{min: a, max: b}}, got {cfg!r}")
    dist = get(cfg, "dist", str, "uniform", where=where)
    check_choice(dist, _DISTS, f"{where}.dist")
    lo = get(cfg, "min", float, -math.inf, where=where)
    hi = get(cfg, "max", float, math.inf, where=where)
    try:
        if dist == "uniform":
            check_keys(cfg, ("dist", "min", "max"), where)
            for key, value in (("min", lo), ("max", hi)):
                if not math.isfinite(value):
                    raise ConfigError(f"{where}.{key}", "a uniform prior needs finite min and max")
            return Uniform(lo, hi)
        check_keys(cfg, ("dist", "loc", "scale", "min", "max"), where)
        return Normal(get(cfg, "loc", float, where=where), get(cfg, "scale", float, where=where),
                      lo, hi)
    except ValueError as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(where, str(err)) from err
