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
from ._derived import COSMOLOGY, DERIVED, NUISANCE, latex_label
from ._priors import Independent, Prior, ScalarPrior, VectorPrior
from ._transforms import Bijection, Identity, LowerBound, SoftInterval, UpperBound

__all__ = ["Posterior", "block_names", "element_label"]


def block_names(name: str, size: int) -> tuple[str, ...]:
    """Names of the elements of a parameter block, 1-based: ``dz`` → ``dz_1 … dz_n``."""
    return tuple(f"{name}_{i}" for i in range(1, int(size) + 1))


def element_label(label: str, i: int) -> str:
    """LaTeX label of element ``i`` (1-based) of a block labelled ``label``: ``\\delta z_{1}``."""
    base = f"{{{label}}}" if any(c in label for c in "_^") else label
    return f"{base}_{{{i}}}"


def _take(x: jax.Array, idx: tuple[int, ...]) -> jax.Array:
    """``x[..., idx]``, a static slice when ``idx`` is a contiguous range."""
    if idx == tuple(range(idx[0], idx[0] + len(idx))):
        return x[..., idx[0]:idx[0] + len(idx)]
    return x[..., np.asarray(idx)]


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
            if name in NUISANCE:
                what, entry = NUISANCE[name]
                raise ConfigError(where, f"needs the parameter '{name}' ({what}){via}; add it "
                                         f"under params, usually as  {entry}")
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
        priors: sampled parameter name → :class:`Prior` (order = position order). A
            :class:`VectorPrior` (e.g. :class:`MvNormal`, :class:`Independent`) of size ``n``
            makes ``name`` a block of ``n`` parameters ``name_1 … name_n`` (see
            :func:`block_names`); those are the sampled names.
        likelihoods: name → likelihood object with ``inputs`` (names it reads) and
            ``from_values(mapping) -> scalar`` (:class:`~cosmoemu.likelihoods.PlanckLite`,
            :class:`~cosmoemu.likelihoods.GaussianLikelihood`). The mapping holds every
            parameter by name, and each block also whole, as a vector ``(n,)`` under its name.
        theory: emulators providing spectra and derived scalars (None when no likelihood or
            derived parameter needs them).
        fixed: parameter name → value; a vector ``(n,)`` fixes a block ``name_1 … name_n``.
        derived: names of derived parameters to record (``H0``, ``Omega_m``, ``sigma8``, ``S8``,
            ``thetastar``…).
        labels: LaTeX labels overriding the defaults; a block's label ``L`` labels its
            elements ``L_{1} …``.

    Raises:
        ConfigError: naming the parameter or likelihood: unknown or missing names, a prior or
            fixed value outside the emulator box.

    A prior on an emulator input must lie inside the emulator box: finite prior bounds outside
    it are an error, infinite ones (a Gaussian) are cut at the box and the prior renormalised.

    The log-prior is a sum of terms: scalar priors of one kind are evaluated together as one
    vectorised term, and each joint (non-factorising) vector prior acts on its block.
    """

    sampled: tuple[str, ...] = eqx.field(static=True)
    priors: tuple[ScalarPrior, ...]  # each sampled parameter's (marginal) prior
    fixed: tuple[tuple[str, float], ...] = eqx.field(static=True)
    derived: tuple[str, ...] = eqx.field(static=True)
    blocks: tuple[tuple[str, tuple[str, ...]], ...] = eqx.field(static=True)
    likelihood_names: tuple[str, ...] = eqx.field(static=True)
    likelihoods: tuple[Any, ...]
    theory: EmulatorTheory | None
    labels: tuple[tuple[str, str], ...] = eqx.field(static=True)
    _like_plan: tuple[tuple[str, ...], tuple[str, ...]] = eqx.field(static=True)
    _derived_plan: tuple[tuple[str, ...], tuple[str, ...]] = eqx.field(static=True)
    _groups: tuple[tuple[str, tuple[int, ...]], ...] = eqx.field(static=True)
    _order: tuple[int, ...] = eqx.field(static=True)
    # prior terms: scalar priors grouped by kind, and joint vector priors on their indices
    _scalar_terms: tuple[tuple[type, tuple[int, ...]], ...] = eqx.field(static=True)
    _joint: tuple[VectorPrior, ...]
    _joint_idx: tuple[tuple[int, ...], ...] = eqx.field(static=True)
    # small constant tables, kept static (hashable tuples) so they stay numpy inside jit
    _bounds_t: tuple = eqx.field(static=True)  # (2, ndim) prior support
    _box_t: tuple = eqx.field(static=True)  # (2, ndim) emulator box (±inf where none)
    softness: np.ndarray

    def __init__(
        self,
        priors: Mapping[str, Prior],
        likelihoods: Mapping[str, Any],
        theory: EmulatorTheory | None = None,
        fixed: Mapping[str, float | ArrayLike] | None = None,
        derived: Sequence[str] = (),
        labels: Mapping[str, str] | None = None,
    ) -> None:
        if not priors:
            raise ConfigError("params", "no sampled parameter (give at least one a prior)")
        if not likelihoods:
            raise ConfigError("likelihood", "no likelihood given")
        for name in priors:
            if name in (fixed or {}):
                raise ConfigError(f"params.{name}", "is both sampled and fixed")
        # expand blocks: parameter (block) name → element names
        entries: dict[str, tuple[str, ...]] = {}
        blocks: list[tuple[str, tuple[str, ...]]] = []
        scalar: dict[str, ScalarPrior] = {}
        joint: list[tuple[tuple[str, ...], VectorPrior]] = []
        for name, prior in priors.items():
            if isinstance(prior, ScalarPrior):
                entries[name] = (name,)
                scalar[name] = prior
            elif isinstance(prior, VectorPrior):
                elems = entries[name] = block_names(name, prior.size)
                blocks.append((name, elems))
                scalar.update(zip(elems, prior.marginals(), strict=True))
                if not isinstance(prior, Independent):
                    joint.append((elems, prior))
            else:
                raise TypeError(f"prior of {name!r} must be a ScalarPrior or a VectorPrior, "
                                f"got {type(prior).__name__}")
        fixed_values: dict[str, float] = {}
        for name, value in (fixed or {}).items():
            value = np.asarray(value, dtype=np.float64)
            if value.ndim == 0:
                entries[name] = (name,)
                fixed_values[name] = float(value)
            elif value.ndim == 1:
                elems = entries[name] = block_names(name, value.size)
                blocks.append((name, elems))
                fixed_values.update(zip(elems, value.tolist(), strict=True))
            else:
                raise ConfigError(f"params.{name}", f"a fixed block must be a vector, got shape "
                                                    f"{value.shape}")
        owner = {}
        for name, elems in entries.items():
            for e in elems:
                if e in owner or (e != name and e in entries):
                    first = owner.get(e, e)
                    raise ConfigError(f"params.{name}", f"its element name '{e}' clashes with "
                                                        f"parameter '{first}'")
                owner[e] = name
        fixed = fixed_values
        base = set(scalar) | set(fixed)
        like_inputs = [n for lik in likelihoods.values() for n in lik.inputs]
        known = set(like_inputs) | {n for spec in DERIVED.values() for n in spec.needs}
        known |= set(theory.inputs) if theory is not None else set()
        if _reaches_cosmology([*like_inputs, *derived]):
            known |= set(COSMOLOGY_PARAMS)
        known -= set(theory.provides) if theory is not None else set()
        # a derived name may be sampled when a likelihood reads it (KiDS samples S8)
        known -= (set(DERIVED) - set(like_inputs)) | {COSMOLOGY}
        for name, elems in entries.items():
            if name not in known and not known.intersection(elems):
                raise ConfigError(f"params.{name}",
                                  unknown_name_message("parameter", name, sorted(known)))
        visible = base | {b for b, _ in blocks}  # what likelihoods may read
        for lname, lik in likelihoods.items():
            _plan(lik.inputs, visible, theory, f"likelihood.{lname}")
        like_plan = _plan(like_inputs, visible, theory, "likelihood")
        for name in derived:
            if name in visible:
                raise ConfigError(f"params.{name}", "is sampled or fixed, so cannot be derived")
            _plan([name], visible, theory, f"params.{name}")
        derived_plan = _plan(list(derived), visible, theory, "params")
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
        for name, elems in entries.items():
            if name not in consumed and not consumed.intersection(elems):
                allowed = sorted(consumed | (set(theory.inputs) if theory else set()))
                raise ConfigError(
                    f"params.{name}",
                    unknown_name_message("parameter", name, allowed)
                    + " — no likelihood, emulator or derived parameter uses it",
                )
        box = {p: (lo, hi) for p, lo, hi in theory.box} if uses_theory else {}
        in_joint = {e for elems, _ in joint for e in elems}
        for e, prior in scalar.items():
            if e in box and e in in_joint:
                raise ConfigError(f"params.{owner[e]}.prior",
                                  f"'{e}' is an emulator input: its prior must be a scalar "
                                  "kind that can be cut at the emulator box, not a joint one")
            scalar[e] = self._fit_box(owner[e], prior, box.get(e))
        for name, value in fixed.items():
            if name in box and not box[name][0] <= value <= box[name][1]:
                raise ConfigError(
                    f"params.{owner[name]}",
                    f"fixed value {value} is outside the emulator box {list(box[name])}",
                )
        self.sampled = tuple(scalar)
        self.priors = tuple(scalar.values())
        self.fixed = tuple(fixed.items())
        self.derived = tuple(derived)
        self.blocks = tuple(blocks)
        self.likelihood_names = tuple(likelihoods)
        self.likelihoods = tuple(likelihoods.values())
        self.theory = theory if uses_theory else None
        user = dict(labels or {})
        names = [*self.sampled, *self.derived]
        self.labels = tuple((n, self._label(n, owner.get(n, n), user)) for n in names)
        self._like_plan = like_plan
        self._derived_plan = derived_plan
        position = {n: i for i, n in enumerate(self.sampled)}
        self._joint = tuple(prior for _, prior in joint)
        self._joint_idx = tuple(tuple(position[e] for e in elems) for elems, _ in joint)
        kinds: dict[type, list[int]] = {}
        for i, (n, p) in enumerate(zip(self.sampled, self.priors, strict=True)):
            if n not in in_joint:
                kinds.setdefault(type(p), []).append(i)
        self._scalar_terms = tuple((k, tuple(idx)) for k, idx in kinds.items())
        support = np.array([p.support for p in self.priors], dtype=np.float64).T
        self._bounds_t = tuple(map(tuple, support.tolist()))
        finite = np.isfinite(support)
        groups = {"soft": finite[0] & finite[1], "lower": finite[0] & ~finite[1],
                  "upper": ~finite[0] & finite[1], "free": ~finite[0] & ~finite[1]}
        self._groups = tuple((k, tuple(int(i) for i in np.flatnonzero(m)))
                             for k, m in groups.items() if m.any())
        self._order = tuple(int(i) for i in np.argsort(
            np.concatenate([idx for _, idx in self._groups])))
        boxes = np.array([box.get(n, (-np.inf, np.inf)) for n in self.sampled]).T
        self._box_t = tuple(map(tuple, boxes.tolist()))
        widths = support[1] - support[0]
        self.softness = np.where(np.isfinite(widths), 0.25 * widths, 1.0)

    @staticmethod
    def _label(name: str, entry: str, user: Mapping[str, str]) -> str:
        if name in user or name == entry:
            return user.get(name, latex_label(name))
        i = int(name[len(entry) + 1:])  # an element of block `entry`
        return element_label(user.get(entry, latex_label(entry)), i)

    @staticmethod
    def _fit_box(name: str, prior: ScalarPrior, box: tuple[float, float] | None) -> ScalarPrior:
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
        return prior.truncate(*box)

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
        intervals, else the prior's width (its standard deviation; first steps of a mode
        search)."""
        scale = np.array([p.width for p in self.priors], dtype=np.float64)
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
        """Sum of the normalised log-priors at physical ``x``, shape ``(..., ndim)`` → ``(...)``.

        −inf outside the support. One vectorised term per kind of scalar prior, one per joint
        block prior (the priors' numbers are constants of the compiled function).
        """
        x = jnp.asarray(x)
        x = x.astype(jnp.result_type(x.dtype, jnp.float32))
        total = jnp.zeros(x.shape[:-1], x.dtype)
        for kind, idx in self._scalar_terms:
            total = total + kind.stacked_logpdf([self.priors[i] for i in idx], _take(x, idx))
        for idx, prior in zip(self._joint_idx, self._joint, strict=True):
            total = total + prior.logpdf(_take(x, idx))
        return total

    @property
    def prior_terms(self) -> tuple[tuple[tuple[str, ...], Prior], ...]:
        """The factors of the prior: (parameter names, prior on them), scalar and joint."""
        joint = {i for idx in self._joint_idx for i in idx}
        terms = [((self.sampled[i],), p) for i, p in enumerate(self.priors) if i not in joint]
        terms += [(tuple(self.sampled[i] for i in idx), prior)
                  for idx, prior in zip(self._joint_idx, self._joint, strict=True)]
        return tuple(terms)

    def sample_prior(self, key: jax.Array, n: int) -> jax.Array:
        """``n`` independent draws from the (joint) prior, physical, shape ``(n, ndim)``."""
        x = [None] * self.ndim
        terms = self.prior_terms
        for k, (names, prior) in zip(jax.random.split(key, len(terms)), terms, strict=True):
            draws = prior.sample(k, (n,))
            for j, name in enumerate(names):
                x[self.sampled.index(name)] = draws if draws.ndim == 1 else draws[:, j]
        return jnp.stack(x, axis=-1)

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
        for block, elems in self.blocks:  # each block also as a vector
            values[block] = jnp.stack([values[e] for e in elems])
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
        """A central physical point: each (marginal) prior's centre, shape ``(ndim,)`` float64."""
        return np.array([p.centre for p in self.priors])

    def label(self, name: str) -> str:
        """LaTeX label (no $) of a sampled or derived parameter."""
        return dict(self.labels).get(name, latex_label(name))
