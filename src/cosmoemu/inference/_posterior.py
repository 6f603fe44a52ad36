"""The posterior: priors × likelihoods, with the theory from emulators, as a pure JAX pytree.

Positions are flat vectors in the order of :attr:`Posterior.sampled`. Two coordinate systems:

* physical ``x`` (``logprior``, ``loglike``, ``logpost``, ``derived_values``);
* unconstrained ``u`` with ``x = constrain(u)``; :meth:`Posterior.logdensity` is
  ``logpost(constrain(u)) + log|dx/du|``, the density a gradient sampler explores. Bounded
  parameters use soft walls (:class:`~cosmoemu.inference.SoftInterval`) whose scale
  :meth:`Posterior.with_softness` sets: the sampler makes them small for parameters whose
  posterior is narrow and far from the bounds, so that ``u`` is ``x`` there and the
  posterior keeps its near-Gaussian shape (a logit map bends strongly degenerate posteriors).

Priors are normalised in ``x``, so ``−logpost`` is the ``minuslogpost`` column of the chains.
The public methods are jitted (``eqx.filter_jit``), so calling them eagerly is fast after the first
call; inside an outer ``jit``/``grad``/``vmap`` they inline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .._errors import ConfigError, unknown_name_message
from ..cosmology import COSMOLOGY_PARAMS, Cosmology
from ..cosmology._cosmology import REQUIRED as COSMOLOGY_REQUIRED
from ..theory import SETTING_NAMES, EmulatorTheory
from ._derived import COSMOLOGY, DERIVED, latex_label
from ._priors import Normal, Prior, Uniform
from ._transforms import Bijection, Identity, LowerBound, SoftInterval, UpperBound

__all__ = ["Posterior"]


def _plan(want: Sequence[str], base: set[str], theory: EmulatorTheory | None, where: str):
    """Resolve ``want`` into (theory products, derived names in evaluation order).

    ``cosmology`` is a node of its own: the Cosmology built from ω_b, ω_cdm, h (which must be
    sampled or fixed), any other cosmology parameter present, and the theory's fixed settings.
    """
    provides = set(theory.provides) if theory is not None else set()
    products: list[str] = []
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in base or name in products or name in order:
            return
        if name == COSMOLOGY:
            for dep in COSMOLOGY_REQUIRED:
                if dep not in base:
                    raise ConfigError(f"params.{dep}", "must be sampled or fixed: the cosmology "
                                      f"needed by {' -> '.join((*chain, name))} reads it")
            order.append(name)
        elif name in provides:
            products.append(name)
        elif name in DERIVED:
            for dep in DERIVED[name].needs:
                visit(dep, (*chain, name))
            order.append(name)
        else:
            via = f" (needed by {' -> '.join(chain)})" if chain else ""
            allowed = sorted(base | provides | set(DERIVED))
            raise ConfigError(where, unknown_name_message("parameter", name, allowed) + via)

    for name in want:
        visit(name, ())
    return tuple(products), tuple(order)


def _reaches_cosmology(names: Sequence[str]) -> bool:
    """Whether any of ``names`` is, or (through derived parameters) needs, the Cosmology."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name == COSMOLOGY:
            return True
        if name in DERIVED and name not in seen:
            seen.add(name)
            todo.extend(DERIVED[name].needs)
    return False


def _check_theory(likelihoods: Mapping[str, Any], theory: EmulatorTheory, base: set[str]):
    """Each likelihood's product axes are covered; no parameter overrides a fixed setting."""
    for lname, lik in likelihoods.items():
        for product, axes in getattr(lik, "products", {}).items():
            if axes and product in theory.products:
                try:
                    theory.check_request(product, axes)
                except ValueError as err:
                    raise ConfigError(f"likelihood.{lname}", str(err)) from None
    clash = sorted(base & set(SETTING_NAMES))
    if clash:
        fixed = ", ".join(f"{k} = {v:g}" for k, v in theory.settings.items())
        raise ConfigError(f"params.{clash[0]}", f"is fixed by the theory's emulators (trained "
                          f"with {fixed}); change it with theory.cosmology, not as a parameter")


class Posterior(eqx.Module):
    """Log-posterior of sampled parameters: priors, likelihoods, emulator theory, derived values.

    Args:
        priors: sampled parameter name → :class:`Prior` (order = position order).
        likelihoods: name → likelihood object with ``inputs`` (names it reads) and
            ``from_values(mapping) -> scalar`` (:class:`~cosmoemu.likelihoods.PlanckLite`,
            :class:`~cosmoemu.likelihoods.GaussianLikelihood`).
        theory: emulators providing spectra and derived scalars (None when no likelihood or
            derived parameter needs them).
        fixed: parameter name → value.
        derived: names of derived parameters to record (``H0``, ``Omega_m``, ``sigma8``, ``S8``,
            ``thetastar``…).
        labels: LaTeX labels overriding the defaults.

    Raises:
        ConfigError: naming the parameter or likelihood: unknown or missing names, a prior or
            fixed value outside the emulator box.

    A prior on an emulator input must lie inside the emulator box: finite prior bounds outside
    it are an error, infinite ones (a Gaussian) are cut at the box and the prior renormalised.
    """

    sampled: tuple[str, ...] = eqx.field(static=True)
    priors: tuple[Prior, ...]
    fixed: tuple[tuple[str, float], ...] = eqx.field(static=True)
    derived: tuple[str, ...] = eqx.field(static=True)
    likelihood_names: tuple[str, ...] = eqx.field(static=True)
    likelihoods: tuple[Any, ...]
    theory: EmulatorTheory | None
    labels: tuple[tuple[str, str], ...] = eqx.field(static=True)
    _like_plan: tuple[tuple[str, ...], tuple[str, ...]] = eqx.field(static=True)
    _derived_plan: tuple[tuple[str, ...], tuple[str, ...]] = eqx.field(static=True)
    _groups: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)
    _order: tuple[int, ...] = eqx.field(static=True)
    _uniform: tuple[int, ...] = eqx.field(static=True)
    _normal: tuple[int, ...] = eqx.field(static=True)
    # small constant tables, kept static (hashable tuples) so they stay numpy inside jit
    _bounds_t: tuple = eqx.field(static=True)  # (2, ndim) prior support
    _normal_t: tuple = eqx.field(static=True)  # (3, n_normal): loc, scale, log-normalisation
    _box_t: tuple = eqx.field(static=True)  # (2, ndim) emulator box (±inf where none)
    softness: np.ndarray

    def __init__(
        self,
        priors: Mapping[str, Prior],
        likelihoods: Mapping[str, Any],
        theory: EmulatorTheory | None = None,
        fixed: Mapping[str, float] | None = None,
        derived: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
    ) -> None:
        fixed = {k: float(v) for k, v in (fixed or {}).items()}
        if not priors:
            raise ConfigError("params", "no sampled parameter (give at least one a prior)")
        if not likelihoods:
            raise ConfigError("likelihood", "no likelihood given")
        for name in priors:
            if name in fixed:
                raise ConfigError(f"params.{name}", "is both sampled and fixed")
        base = set(priors) | set(fixed)
        like_inputs = [n for lik in likelihoods.values() for n in lik.inputs]
        known = set(like_inputs) | {n for spec in DERIVED.values() for n in spec.needs}
        known |= set(theory.inputs) if theory is not None else set()
        if _reaches_cosmology([*like_inputs, *derived]):
            known |= set(COSMOLOGY_PARAMS)
        known -= set(theory.provides) if theory is not None else set()
        known -= set(DERIVED) | {COSMOLOGY}
        for name in (*priors, *fixed):
            if name not in known:
                raise ConfigError(f"params.{name}",
                                  unknown_name_message("parameter", name, sorted(known)))
        for lname, lik in likelihoods.items():
            _plan(lik.inputs, base, theory, f"likelihood.{lname}")
        like_plan = _plan(like_inputs, base, theory, "likelihood")
        for name in derived:
            if name in base:
                raise ConfigError(f"params.{name}", "is sampled or fixed, so cannot be derived")
            _plan([name], base, theory, f"params.{name}")
        derived_plan = _plan(list(derived), base, theory, "params")
        uses_theory = bool(like_plan[0] or derived_plan[0])
        consumed = set(like_inputs) | set(derived)
        for plan in (like_plan, derived_plan):
            for name in plan[1]:
                consumed |= set(COSMOLOGY_PARAMS) if name == COSMOLOGY else set(DERIVED[name].needs)
        if uses_theory:
            _check_theory(likelihoods, theory, base)
            consumed |= set(theory.inputs)
            for p in theory.inputs:
                if p not in base:
                    raise ConfigError(
                        f"params.{p}",
                        "is an input of the emulators and must be sampled or fixed "
                        f"(emulator inputs: {', '.join(theory.inputs)})",
                    )
        for name in base:
            if name not in consumed:
                allowed = sorted(consumed | (set(theory.inputs) if theory else set()))
                raise ConfigError(
                    f"params.{name}",
                    unknown_name_message("parameter", name, allowed)
                    + " — no likelihood, emulator or derived parameter uses it",
                )
        box = {p: (lo, hi) for p, lo, hi in theory.box} if uses_theory else {}
        priors = {k: self._fit_box(k, v, box.get(k)) for k, v in priors.items()}
        for name, value in fixed.items():
            if name in box and not box[name][0] <= value <= box[name][1]:
                raise ConfigError(
                    f"params.{name}",
                    f"fixed value {value} is outside the emulator box {list(box[name])}",
                )
        self.sampled = tuple(priors)
        self.priors = tuple(priors.values())
        self.fixed = tuple(fixed.items())
        self.derived = tuple(derived)
        self.likelihood_names = tuple(likelihoods)
        self.likelihoods = tuple(likelihoods.values())
        self.theory = theory if uses_theory else None
        user = dict(labels or {})
        self.labels = tuple((n, user.get(n, latex_label(n))) for n in (*priors, *derived))
        self._like_plan = like_plan
        self._derived_plan = derived_plan
        support = np.array([p.support for p in self.priors], dtype=np.float64).T
        self._bounds_t = tuple(map(tuple, support.tolist()))
        finite = np.isfinite(support)
        kinds = {"soft": finite[0] & finite[1], "lower": finite[0] & ~finite[1],
                 "upper": ~finite[0] & finite[1], "free": ~finite[0] & ~finite[1]}
        self._groups = tuple((k, tuple(int(i) for i in np.flatnonzero(m)))
                             for k, m in kinds.items() if m.any())
        self._order = tuple(int(i) for i in np.argsort(
            np.concatenate([idx for _, idx in self._groups])))
        self._uniform = tuple(i for i, p in enumerate(self.priors) if isinstance(p, Uniform))
        self._normal = tuple(i for i, p in enumerate(self.priors) if isinstance(p, Normal))
        if len(self._uniform) + len(self._normal) != self.ndim:
            raise TypeError("priors must be Uniform or Normal")
        normal = np.array([[self.priors[i].loc, self.priors[i].scale, self.priors[i].log_norm]
                           for i in self._normal], dtype=np.float64).reshape(-1, 3).T
        self._normal_t = tuple(map(tuple, normal.tolist()))
        boxes = np.array([box.get(n, (-np.inf, np.inf)) for n in self.sampled]).T
        self._box_t = tuple(map(tuple, boxes.tolist()))
        widths = support[1] - support[0]
        self.softness = np.where(np.isfinite(widths), 0.25 * widths, 1.0)

    @staticmethod
    def _fit_box(name: str, prior: Prior, box: tuple[float, float] | None) -> Prior:
        if box is None:
            return prior
        lo, hi = prior.support
        for end, value in (("min", lo), ("max", hi)):
            if math.isfinite(value) and not box[0] <= value <= box[1]:
                raise ConfigError(
                    f"params.{name}.prior.{end}",
                    f"{value} lies outside the emulator box {list(box)}; the prior of an "
                    f"emulator input must lie inside its box",
                )
        if isinstance(prior, Normal | Uniform):
            return prior.truncate(*box)
        return prior

    # ---------------------------------------------------------------- coordinates
    @property
    def _bounds(self) -> np.ndarray:
        return np.array(self._bounds_t, dtype=np.float64)

    @property
    def _box(self) -> np.ndarray:
        return np.array(self._box_t, dtype=np.float64)

    @property
    def ndim(self) -> int:
        """Number of sampled parameters."""
        return len(self.sampled)

    @property
    def bijections(self) -> tuple[tuple[tuple[int, ...], Bijection], ...]:
        """(parameter indices, bijection acting on them) per kind of support."""
        out = []
        lo, hi = self._bounds
        for kind, idx in self._groups:
            ix = np.asarray(idx)
            if kind == "soft":
                bij = SoftInterval(lo[ix], hi[ix], jnp.asarray(self.softness)[ix])
            elif kind == "lower":
                bij = LowerBound(lo[ix])
            elif kind == "upper":
                bij = UpperBound(hi[ix])
            else:
                bij = Identity()
            out.append((idx, bij))
        return tuple(out)

    def coordinate_scale(self) -> np.ndarray:
        """A rough width of each unconstrained coordinate ``(ndim,)``: the soft-wall scale for
        intervals, the prior's scale for Gaussians, else 1 (first steps of a mode search)."""
        scale = np.ones(self.ndim)
        for i, p in enumerate(self.priors):
            if isinstance(p, Normal):
                scale[i] = p.scale
        soft = [i for kind, idx in self._groups if kind == "soft" for i in idx]
        scale[soft] = np.asarray(self.softness)[soft]
        return scale

    def with_softness(self, softness: ArrayLike) -> Posterior:
        """The same posterior with other soft-wall scales ``(ndim,)`` (physical units).

        Only the unconstrained coordinates change (``logpost`` does not); jitted code is reused.
        """
        softness = np.asarray(softness, dtype=np.float64)
        if softness.shape != (self.ndim,) or not np.all(softness > 0):
            raise ValueError(f"softness must be ({self.ndim},) positive values, got {softness}")
        return eqx.tree_at(lambda p: p.softness, self, softness)

    def _apply(self, v: jax.Array, method: str) -> jax.Array:
        parts = [getattr(b, method)(v[..., np.asarray(idx)]) for idx, b in self.bijections]
        return jnp.concatenate(parts, axis=-1)[..., np.asarray(self._order)]

    @eqx.filter_jit
    def constrain(self, u: ArrayLike) -> jax.Array:
        """Physical position ``x``, shape ``(..., ndim)``, from unconstrained ``u``."""
        return self._apply(jnp.asarray(u), "forward")

    @eqx.filter_jit
    def unconstrain(self, x: ArrayLike) -> jax.Array:
        """Unconstrained ``u`` from physical ``x`` (inside the prior support)."""
        return self._apply(jnp.asarray(x), "inverse")

    @eqx.filter_jit
    def log_det_jacobian(self, u: ArrayLike) -> jax.Array:
        """``log|det dx/du|``, shape ``(...)``."""
        return jnp.sum(self._apply(jnp.asarray(u), "log_det_jacobian"), axis=-1)

    # ---------------------------------------------------------------- densities
    @eqx.filter_jit
    def logprior(self, x: ArrayLike) -> jax.Array:
        """Sum of the normalised log-priors at physical ``x``, shape ``(..., ndim)`` → ``(...)``."""
        x = jnp.asarray(x)
        dt = jnp.result_type(x.dtype, jnp.float32)
        lo, hi = jnp.asarray(self._bounds[0], dt), jnp.asarray(self._bounds[1], dt)
        inside = jnp.all((x >= lo) & (x <= hi), axis=-1)
        total = jnp.zeros(x.shape[:-1], dt)
        if self._uniform:
            iu = np.asarray(self._uniform)
            total = total - float(np.sum(np.log(self._bounds[1, iu] - self._bounds[0, iu])))
        if self._normal:
            loc, scale, norm = (jnp.asarray(a, dt) for a in np.array(self._normal_t))
            z = (x[..., np.asarray(self._normal)] - loc) / scale
            total = total + jnp.sum(-0.5 * z * z + norm, axis=-1)
        return jnp.where(inside, total, -jnp.inf)

    def _inside(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(all emulator inputs inside their box, x with outside values moved inside)."""
        lo, hi = jnp.asarray(self._box[0], x.dtype), jnp.asarray(self._box[1], x.dtype)
        ok = (x >= lo) & (x <= hi)
        box = self._box
        finite = np.isfinite(box).all(0)
        centre = jnp.asarray(np.where(finite, 0.5 * np.where(finite, box, 0.0).sum(0), 0.0),
                             x.dtype)
        return jnp.all(ok), jnp.where(ok, x, centre)

    def _values(self, x: jax.Array, plan) -> dict[str, jax.Array]:
        values = {n: x[i] for i, n in enumerate(self.sampled)}
        values.update({n: jnp.asarray(v, x.dtype) for n, v in self.fixed})
        products, order = plan
        if self.theory is not None and products:
            values.update(self.theory.compute(values, products))
        for name in order:
            if name == COSMOLOGY:
                values[name] = (Cosmology.from_params(values) if self.theory is None
                                else self.theory.cosmology(values))
            else:
                values[name] = DERIVED[name].fn(values)
        return values

    @eqx.filter_jit
    def loglikes(self, x: ArrayLike) -> jax.Array:
        """Each likelihood's log-likelihood at one physical ``x`` ``(ndim,)`` → ``(n_like,)``.

        −inf (all entries) where an emulator input leaves the emulator box: no extrapolation.
        """
        x = jnp.asarray(x)
        if x.ndim != 1 or x.shape[0] != self.ndim:
            raise ValueError(f"position must have shape ({self.ndim},) for {self.sampled}; "
                             f"got {x.shape} (use jax.vmap for batches)")
        inside, safe = self._inside(x)
        values = self._values(safe, self._like_plan)
        lls = jnp.stack([lik.from_values(values) for lik in self.likelihoods])
        lls = jnp.where(jnp.isnan(lls), -jnp.inf, lls)
        return jnp.where(inside, lls, -jnp.inf)

    @eqx.filter_jit
    def loglike(self, x: ArrayLike) -> jax.Array:
        """Total log-likelihood at one physical position ``x`` ``(ndim,)``."""
        return jnp.sum(self.loglikes(x))

    @eqx.filter_jit
    def logpost(self, x: ArrayLike) -> jax.Array:
        """ln L + ln π at one physical position (unnormalised posterior, normalised prior)."""
        lp = self.logprior(x)
        return jnp.where(jnp.isfinite(lp), lp + self.loglike(x), -jnp.inf)

    @eqx.filter_jit
    def logdensity(self, u: ArrayLike) -> jax.Array:
        """Log-density of the unconstrained ``u`` ``(ndim,)``: logpost(x(u)) + log|dx/du|."""
        u = jnp.asarray(u)
        return self.logpost(self.constrain(u)) + self.log_det_jacobian(u)

    @eqx.filter_jit
    def derived_values(self, x: ArrayLike) -> jax.Array:
        """Derived parameters at one physical ``x`` ``(ndim,)`` → ``(n_derived,)``."""
        x = jnp.asarray(x)
        if not self.derived:
            return jnp.zeros((0,), x.dtype)
        _, safe = self._inside(x)
        values = self._values(safe, self._derived_plan)
        return jnp.stack([jnp.asarray(values[n], x.dtype) for n in self.derived])

    # ---------------------------------------------------------------- helpers
    def reference_point(self) -> np.ndarray:
        """A central physical point: each prior's centre, shape ``(ndim,)`` float64."""
        return np.array([p.centre for p in self.priors])

    def label(self, name: str) -> str:
        """LaTeX label (no $) of a sampled or derived parameter."""
        return dict(self.labels).get(name, latex_label(name))
