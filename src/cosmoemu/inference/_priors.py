"""Priors, normalised on their support: an open set of kinds, registered by name.

A prior knows its log-density (normalised in the physical parameter, so that
``minuslogpost = −(ln L + ln π)`` is properly normalised — the evidence code relies on it), its
support (the posterior maps ℝ onto it with a bijection from :mod:`._transforms`), a sampler
(``jax.random``), a centre (the default reference point) and a scale (a rough width, for the
mode search's first steps).

Two families:

* :class:`ScalarPrior` — one parameter (``uniform``, ``norm`` with optional ``min``/``max``
  truncation, ``loguniform``). Its numbers are static floats, and a subclass writes its density
  as :meth:`ScalarPrior.density`, a function of a table of those numbers, so the posterior
  evaluates all priors of one kind as one vectorised term.
* :class:`VectorPrior` — a block of ``size`` parameters (``mvnorm``, or :class:`Independent`
  priors per element).

New kinds plug in with :func:`register_prior` (a name for the YAML ``dist`` field and a
``from_config`` classmethod); the posterior needs no change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from scipy import special, stats

from .._config import check_choice, check_keys, get
from .._errors import ConfigError
from .._linalg import gaussian_factors

__all__ = [
    "PRIORS",
    "Independent",
    "LogUniform",
    "MvNormal",
    "Normal",
    "Prior",
    "ScalarPrior",
    "Uniform",
    "VectorPrior",
    "prior_from_config",
    "register_prior",
]

PRIORS: dict[str, type[Prior]] = {}
"""YAML ``dist`` name → prior class (with a ``from_config`` classmethod)."""


def register_prior(name: str) -> Callable[[type[Prior]], type[Prior]]:
    """Class decorator: make a prior kind available as ``prior: {dist: name, ...}``.

    The class needs ``from_config(cfg, where, *, size, base_dir) -> Prior``.
    """

    def add(cls: type[Prior]) -> type[Prior]:
        if name in PRIORS and PRIORS[name] is not cls:
            raise ValueError(f"prior kind {name!r} is already registered ({PRIORS[name]})")
        PRIORS[name] = cls
        cls.kind = name
        return cls

    return add


class Prior(eqx.Module):
    """Interface of a prior on ``size`` parameters."""

    kind: ClassVar[str] = ""

    @property
    def size(self) -> int:  # pragma: no cover - interface
        """Number of parameters it acts on."""
        raise NotImplementedError

    def logpdf(self, x: ArrayLike) -> jax.Array:  # pragma: no cover - interface
        raise NotImplementedError

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], where: str, *, size: int | None = None,
                    base_dir: Path | None = None) -> Prior:  # pragma: no cover - interface
        """The prior a YAML mapping describes (``where``: its dotted field, for errors)."""
        raise NotImplementedError


# --------------------------------------------------------------------------- scalar priors
class ScalarPrior(Prior):
    """A prior on one parameter; ``logpdf`` is elementwise and jit-safe.

    Subclasses list in ``table`` the (static float) fields their density reads and implement
    :meth:`density` with plain broadcasting arithmetic on them: the posterior then evaluates all
    priors of one kind at once, the fields stacked into arrays.
    """

    table: ClassVar[tuple[str, ...]] = ()
    flat: ClassVar[bool] = False  # True: the density is constant on the support

    @property
    def size(self) -> int:
        return 1

    @staticmethod
    def density(t: Mapping[str, jax.Array], x: jax.Array) -> jax.Array:  # pragma: no cover
        """ln π at ``x`` inside the support, with ``t[field]`` broadcastable against ``x``."""
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:  # pragma: no cover - interface
        raise NotImplementedError

    @property
    def centre(self) -> float:  # pragma: no cover - interface
        """A central value (the default reference point)."""
        raise NotImplementedError

    @property
    def width(self) -> float:  # pragma: no cover - interface
        """A rough width (the standard deviation), for the first steps of a mode search."""
        raise NotImplementedError

    def truncate(self, lo: float, hi: float) -> ScalarPrior:  # pragma: no cover - interface
        """The prior restricted (and renormalised) to ``[lo, hi]`` ∩ support."""
        raise NotImplementedError

    @classmethod
    def stacked_logpdf(cls, priors: Sequence[ScalarPrior], x: jax.Array) -> jax.Array:
        """Σ_i ln π_i(x_i) for priors of this class, ``x`` ``(..., k)`` → ``(...)``.

        The priors' numbers become constant arrays at trace time; outside a support the result
        is −inf (with finite gradients). For a ``flat`` kind the constant is summed in float64.
        """
        dt = x.dtype
        lo, hi, safe = (np.array(v, np.float64) for v in
                        zip(*((*p.support, p.centre) for p in priors), strict=True))
        inside = (x >= jnp.asarray(lo, dt)) & (x <= jnp.asarray(hi, dt))
        if cls.flat:
            t = {f: np.array([getattr(p, f) for p in priors], np.float64) for f in cls.table}
            const = float(np.sum(cls.density(t, np.asarray(safe))))
            return jnp.where(jnp.all(inside, axis=-1), jnp.asarray(const, dt), -jnp.inf)
        x_safe = jnp.where(inside, x, jnp.asarray(safe, dt))
        t = {f: jnp.asarray(np.array([getattr(p, f) for p in priors], np.float64), dt)
             for f in cls.table}
        return jnp.sum(jnp.where(inside, cls.density(t, x_safe), -jnp.inf), axis=-1)

    def logpdf(self, x: ArrayLike) -> jax.Array:
        """ln π(x), elementwise, normalised on the support (−inf outside)."""
        x = jnp.asarray(x)
        x = x.astype(jnp.result_type(x.dtype, jnp.float32))
        return type(self).stacked_logpdf([self], x[..., None])


def _finite(cfg: Mapping[str, Any], key: str, where: str, kind: str) -> float:
    value = get(cfg, key, float, math.inf, where=where)
    if not math.isfinite(value):
        raise ConfigError(f"{where}.{key}", f"a {kind} prior needs finite min and max, got "
                                            f"{key}={cfg.get(key, '(missing)')!r}")
    return value


@register_prior("uniform")
class Uniform(ScalarPrior):
    """Uniform on ``[lo, hi]``: ln π = −ln(hi − lo) inside, −inf outside."""

    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    table: ClassVar[tuple[str, ...]] = ("lo", "hi")
    flat: ClassVar[bool] = True

    def __init__(self, lo: float, hi: float) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise ValueError(f"uniform prior needs finite min < max, got min={lo}, max={hi}")
        self.lo, self.hi = float(lo), float(hi)

    @staticmethod
    def density(t, x):
        return 0.0 * x - np.log(t["hi"] - t["lo"])

    @property
    def support(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def centre(self) -> float:
        return 0.5 * (self.lo + self.hi)

    @property
    def width(self) -> float:
        return (self.hi - self.lo) / math.sqrt(12.0)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        return jax.random.uniform(key, shape, minval=self.lo, maxval=self.hi)

    def truncate(self, lo: float, hi: float) -> Uniform:
        return Uniform(max(lo, self.lo), min(hi, self.hi))

    @classmethod
    def from_config(cls, cfg, where, *, size=None, base_dir=None) -> Uniform:
        """``{min: a, max: b}`` (``dist: uniform`` is the default)."""
        check_keys(cfg, ("dist", "min", "max"), where)
        return cls(_finite(cfg, "min", where, "uniform"), _finite(cfg, "max", where, "uniform"))


def _log_mass(a: float, b: float) -> float:
    """log(Φ(b) − Φ(a)) without cancellation (the tail on the side where it is small)."""
    if a > 0:
        return float(special.log_ndtr(-a) + math.log1p(-math.exp(special.log_ndtr(-b) -
                                                                   special.log_ndtr(-a))))
    return float(special.log_ndtr(b) + math.log1p(-math.exp(special.log_ndtr(a) -
                                                              special.log_ndtr(b))))


@register_prior("norm")
class Normal(ScalarPrior):
    """Gaussian N(loc, scale²), optionally truncated to ``[lo, hi]`` and renormalised there.

    .. math:: \\ln π(x) = -\\tfrac12 z^2 - \\ln(\\sqrt{2π}\\,σ) - \\ln[Φ(b) - Φ(a)],
              \\quad z = (x-μ)/σ,\\ a = (lo-μ)/σ,\\ b = (hi-μ)/σ
    """

    loc: float = eqx.field(static=True)
    scale: float = eqx.field(static=True)
    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    log_norm: float = eqx.field(static=True)
    table: ClassVar[tuple[str, ...]] = ("loc", "scale", "log_norm")

    def __init__(
        self, loc: float, scale: float, lo: float = -math.inf, hi: float = math.inf
    ) -> None:
        if not (math.isfinite(loc) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"normal prior needs finite loc and scale > 0, got {loc}, {scale}")
        if not hi > lo:
            raise ValueError(f"normal prior truncation needs min < max, got {lo}, {hi}")
        mass = _log_mass((lo - loc) / scale, (hi - loc) / scale)
        if not math.isfinite(mass):
            raise ValueError(f"normal prior N({loc}, {scale}) has no mass in [{lo}, {hi}]")
        self.loc, self.scale, self.lo, self.hi = float(loc), float(scale), float(lo), float(hi)
        self.log_norm = float(-0.5 * math.log(2 * math.pi) - math.log(scale) - mass)

    @staticmethod
    def density(t, x):
        z = (x - t["loc"]) / t["scale"]
        return -0.5 * z * z + t["log_norm"]

    @property
    def support(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def _ab(self) -> tuple[float, float]:
        return (self.lo - self.loc) / self.scale, (self.hi - self.loc) / self.scale

    @property
    def centre(self) -> float:
        if self.lo < self.loc < self.hi:
            return self.loc
        return float(stats.truncnorm.median(*self._ab, loc=self.loc, scale=self.scale))

    @property
    def width(self) -> float:
        if math.isinf(self.lo) and math.isinf(self.hi):
            return self.scale
        return float(stats.truncnorm.std(*self._ab, scale=self.scale))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        return self.loc + self.scale * jax.random.truncated_normal(key, *self._ab, shape)

    def truncate(self, lo: float, hi: float) -> Normal:
        return Normal(self.loc, self.scale, max(lo, self.lo), min(hi, self.hi))

    @classmethod
    def from_config(cls, cfg, where, *, size=None, base_dir=None) -> Normal:
        """``{dist: norm, loc: m, scale: s}``, optionally truncated by ``min``/``max``."""
        check_keys(cfg, ("dist", "loc", "scale", "min", "max"), where)
        return cls(get(cfg, "loc", float, where=where), get(cfg, "scale", float, where=where),
                   get(cfg, "min", float, -math.inf, where=where),
                   get(cfg, "max", float, math.inf, where=where))


@register_prior("loguniform")
class LogUniform(ScalarPrior):
    """Log-uniform (reciprocal) on ``[lo, hi]``, ``0 < lo < hi``: ln π = −ln x − ln ln(hi/lo)."""

    lo: float = eqx.field(static=True)
    hi: float = eqx.field(static=True)
    log_norm: float = eqx.field(static=True)
    table: ClassVar[tuple[str, ...]] = ("log_norm",)

    def __init__(self, lo: float, hi: float) -> None:
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            raise ValueError(f"log-uniform prior needs finite 0 < min < max, got min={lo}, "
                             f"max={hi}")
        self.lo, self.hi = float(lo), float(hi)
        self.log_norm = -math.log(math.log(self.hi / self.lo))

    @staticmethod
    def density(t, x):
        return -jnp.log(x) + t["log_norm"]

    @property
    def support(self) -> tuple[float, float]:
        return self.lo, self.hi

    @property
    def centre(self) -> float:
        return math.sqrt(self.lo * self.hi)  # the median

    @property
    def width(self) -> float:
        span = math.log(self.hi / self.lo)
        mean = (self.hi - self.lo) / span
        return math.sqrt(max((self.hi**2 - self.lo**2) / (2 * span) - mean**2, 0.0))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        return jnp.exp(jax.random.uniform(key, shape, minval=math.log(self.lo),
                                          maxval=math.log(self.hi)))

    def truncate(self, lo: float, hi: float) -> LogUniform:
        return LogUniform(max(lo, self.lo), min(hi, self.hi))

    @classmethod
    def from_config(cls, cfg, where, *, size=None, base_dir=None) -> LogUniform:
        """``{dist: loguniform, min: a, max: b}`` with ``0 < a < b``."""
        check_keys(cfg, ("dist", "min", "max"), where)
        lo = _finite(cfg, "min", where, "log-uniform")
        if lo <= 0:
            raise ConfigError(f"{where}.min", f"a log-uniform prior needs min > 0, got {lo}")
        return cls(lo, _finite(cfg, "max", where, "log-uniform"))


# --------------------------------------------------------------------------- vector priors
class VectorPrior(Prior):
    """A prior on a block of parameters: ``logpdf`` maps ``(..., size)`` → ``(...)``."""

    def marginals(self) -> tuple[ScalarPrior, ...]:  # pragma: no cover - interface
        """Each element's marginal prior (support, centre, width of each parameter)."""
        raise NotImplementedError

    @property
    def centre(self) -> np.ndarray:
        return np.array([p.centre for p in self.marginals()])

    @property
    def width(self) -> np.ndarray:
        return np.array([p.width for p in self.marginals()])


class Independent(VectorPrior):
    """Independent scalar priors on the elements of a block (``iid`` when all the same).

    The posterior treats the elements as separate scalar parameters.
    """

    priors: tuple[ScalarPrior, ...]

    def __init__(self, priors: Sequence[ScalarPrior]) -> None:
        priors = tuple(priors)
        if not priors or not all(isinstance(p, ScalarPrior) for p in priors):
            raise ValueError(f"Independent needs one or more scalar priors, got {priors}")
        self.priors = priors

    @classmethod
    def iid(cls, prior: ScalarPrior, size: int) -> Independent:
        """The same prior on each of ``size`` elements."""
        return cls((prior,) * int(size))

    @property
    def size(self) -> int:
        return len(self.priors)

    def marginals(self) -> tuple[ScalarPrior, ...]:
        return self.priors

    def logpdf(self, x: ArrayLike) -> jax.Array:
        x = jnp.asarray(x)
        return sum(p.logpdf(x[..., i]) for i, p in enumerate(self.priors))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        keys = jax.random.split(key, self.size)
        return jnp.stack([p.sample(k, shape) for k, p in zip(keys, self.priors, strict=True)],
                         axis=-1)


def _array(value: Any, field: str, base_dir: Path | None, ndim: int) -> np.ndarray:
    """A list, a number or a file (text via numpy.loadtxt, or .npy) as a float64 array."""
    if isinstance(value, str):
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        if not path.is_file():
            raise ConfigError(field, f"file '{path}' does not exist (relative paths are read "
                                     "from the config file's directory)")
        try:
            array = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, ndmin=ndim)
        except (ValueError, OSError) as err:
            raise ConfigError(field, f"cannot read numbers from '{path}': {err}") from err
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ConfigError(field, f"expected numbers or a file path, got {value!r}") from err
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != ndim:
        raise ConfigError(field, f"expected a {ndim}-d array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ConfigError(field, "contains non-finite values")
    return array


@register_prior("mvnorm")
class MvNormal(VectorPrior):
    """Multivariate Gaussian N(mean, cov) on a block of parameters (unbounded).

    .. math:: \\ln π(x) = -\\tfrac12 (x-μ)^T C^{-1} (x-μ) - \\tfrac12 \\ln\\det(2π C)

    Args:
        mean: shape ``(n,)``.
        cov: shape ``(n, n)``, symmetric positive definite.

    Raises:
        ValueError: shapes disagree, or ``cov`` is not symmetric or not positive definite.
    """

    mean: np.ndarray
    whitening: np.ndarray  # L⁻¹, with cov = L Lᵀ
    chol: np.ndarray
    log_norm: float = eqx.field(static=True)

    def __init__(self, mean: ArrayLike, cov: ArrayLike) -> None:
        mean = np.asarray(mean, dtype=np.float64)
        cov = np.asarray(cov, dtype=np.float64)
        if mean.ndim != 1 or mean.size == 0:
            raise ValueError(f"mean must be a non-empty vector, got shape {mean.shape}")
        n = mean.size
        if cov.shape != (n, n):
            raise ValueError(f"cov has shape {cov.shape}, expected ({n}, {n}) to match the "
                             f"mean's {n} values")
        chol, self.whitening, self.log_norm = gaussian_factors(cov)
        self.mean, self.chol = mean, chol

    @property
    def size(self) -> int:
        return int(np.shape(self.mean)[0])

    @property
    def cov(self) -> np.ndarray:
        """The covariance, float64 ``(n, n)``."""
        chol = np.asarray(self.chol)
        return chol @ chol.T

    def marginals(self) -> tuple[Normal, ...]:
        sd = np.sqrt(np.diag(self.cov))
        return tuple(Normal(float(m), float(s)) for m, s in zip(np.asarray(self.mean), sd,
                                                                  strict=True))

    def logpdf(self, x: ArrayLike) -> jax.Array:
        """ln π at ``x`` ``(..., n)`` → ``(...)``."""
        x = jnp.asarray(x)
        dt = jnp.result_type(x.dtype, jnp.float32)
        r = (x.astype(dt) - jnp.asarray(self.mean, dt)) @ jnp.asarray(self.whitening, dt).T
        return -0.5 * jnp.sum(r * r, axis=-1) + jnp.asarray(self.log_norm, dt)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Draws of shape ``shape + (n,)``."""
        z = jax.random.normal(key, (*shape, self.size))
        return jnp.asarray(self.mean, z.dtype) + z @ jnp.asarray(self.chol, z.dtype).T

    @classmethod
    def from_config(cls, cfg, where, *, size=None, base_dir=None) -> MvNormal:
        """``{dist: mvnorm, mean: list-or-file, cov: list-or-file}``.

        A file is read with ``numpy.loadtxt`` (``.npy``: ``numpy.load``), relative to
        ``base_dir``; a number as ``mean`` is broadcast to ``size`` elements.
        """
        check_keys(cfg, ("dist", "mean", "cov"), where)
        for key in ("mean", "cov"):
            if key not in cfg:
                raise ConfigError(f"{where}.{key}", "is required but missing")
        raw = cfg["mean"]
        if isinstance(raw, int | float) and not isinstance(raw, bool) and size is not None:
            mean = np.full(size, float(raw))
        else:
            mean = _array(raw, f"{where}.mean", base_dir, 1)
        if size is not None and mean.shape != (size,):
            raise ConfigError(f"{where}.mean", f"has {mean.size} values for a block of shape "
                                               f"{size}")
        cov = _array(cfg["cov"], f"{where}.cov", base_dir, 2)
        try:
            return cls(mean, cov)
        except ValueError as err:
            raise ConfigError(f"{where}.cov", str(err)) from err


# --------------------------------------------------------------------------- from a config
def prior_from_config(
    cfg: Mapping[str, Any], where: str, *, size: int | None = None,
    base_dir: str | Path | None = None,
) -> Prior:
    """A prior from a Cobaya-style mapping; ``dist`` names a registered kind (:data:`PRIORS`).

    ``{min: a, max: b}`` (uniform), ``{dist: uniform, min: a, max: b}``,
    ``{dist: norm, loc: m, scale: s}`` with optional ``min``/``max`` truncation,
    ``{dist: loguniform, min: a, max: b}`` or ``{dist: mvnorm, mean: …, cov: …}``.

    Args:
        cfg: the mapping.
        where: its dotted field (e.g. ``params.omega_b.prior``), for errors.
        size: for a parameter block, its number of elements: a scalar prior then applies to
            each element (:class:`Independent`), a vector prior must match it.
        base_dir: directory that relative file paths (``mean``, ``cov``) are read from.

    Raises:
        ConfigError: naming ``where`` (e.g. ``params.omega_b.prior``) and the bad field.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(where, f"expected a mapping like {{min: a, max: b}}, got {cfg!r}")
    dist = get(cfg, "dist", str, "uniform", where=where)
    check_choice(dist, PRIORS, f"{where}.dist")
    cls = PRIORS[dist]
    base = Path(base_dir) if base_dir is not None else None
    try:
        prior = cls.from_config(cfg, where, size=size, base_dir=base)
    except ConfigError:
        raise
    except ValueError as err:
        raise ConfigError(where, str(err)) from err
    if isinstance(prior, ScalarPrior):
        return prior if size is None else Independent.iid(prior, size)
    if size is not None and prior.size != size:
        raise ConfigError(where, f"acts on {prior.size} parameters but the block has shape "
                                 f"{size}")
    return prior
