"""Sampling a :class:`Posterior` with NUTS and turning the draws into :class:`Chains`."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .._errors import unknown_name_message
from ._chains import Chains
from ._checkpoint import Checkpoint, array_digest
from ._driver import NUTSResult, compile_block_ahead, sample_nuts
from ._mode import find_mode
from ._nuts import NUTSConfig
from ._posterior import Posterior

__all__ = ["SampleResult", "adapt_softness", "posterior_identity", "sample_posterior"]

logger = logging.getLogger(__name__)


@dataclass
class SampleResult:
    """Chains in physical parameters plus the sampler's record.

    Attributes:
        chains: physical draws, derived values and ``minuslogpost``.
        nuts: the unconstrained draws and sampler statistics.
        timings: seconds per stage (``mode``, ``compile_wait``, ``warmup``, ``sampling``,
            ``total``), compilation included.
        posterior: the posterior as sampled (its soft-wall scales set by
            :func:`adapt_softness`); ``nuts`` positions are in its unconstrained coordinates.
    """

    chains: Chains
    nuts: NUTSResult
    timings: dict[str, float]
    posterior: Posterior | None = None

    @property
    def divergences(self) -> int:
        """Divergent transitions among the kept draws."""
        return int(np.sum(self.nuts.divergent))

    @property
    def converged(self) -> bool:
        return self.nuts.converged


class _Observer(eqx.Module):
    """Per draw: physical position, log|dx/du| and derived parameters (inside the NUTS loop)."""

    posterior: Posterior

    def __call__(self, u: jax.Array):
        x = self.posterior.constrain(u)
        return x, self.posterior.log_det_jacobian(u), self.posterior.derived_values(x)


@eqx.filter_jit
def _coords(posterior: Posterior, u: jax.Array):
    """Physical position and per-parameter log|dx/du| at ``u``."""
    return posterior.constrain(u), posterior._apply(u, "log_det_jacobian")


@eqx.filter_jit
def _inverse_coords(posterior: Posterior, x: jax.Array):
    """Unconstrained position and per-parameter log|dx/du| at physical ``x``."""
    u = posterior.unconstrain(x)
    return u, posterior._apply(u, "log_det_jacobian")


def _reference(posterior: Posterior, reference: Mapping[str, float] | None) -> np.ndarray:
    """Start of the mode search: ``reference``, else a likelihood's own ``starting_point``
    (for likelihoods with many local maxima, e.g. ``seismic_traces``), else prior centres."""
    ref = posterior.reference_point()
    bounds = {n: tuple(p.support) for n, p in zip(posterior.sampled, posterior.priors,
                                                  strict=True)}
    for lik in posterior.likelihoods:
        suggest = getattr(lik, "starting_point", None)
        if not callable(suggest):
            continue
        for name, value in suggest(bounds).items():
            lo, hi = bounds.get(name, (np.nan, np.nan))
            if name not in (reference or {}) and lo < float(value) < hi:
                ref[posterior.sampled.index(name)] = float(value)
    for name, value in (reference or {}).items():
        if name not in posterior.sampled:
            raise KeyError(unknown_name_message("sampled parameter", name, posterior.sampled))
        lo, hi = posterior.priors[posterior.sampled.index(name)].support
        if not lo < float(value) < hi:
            raise ValueError(f"reference value {name} = {value} is outside the prior [{lo}, {hi}]")
        ref[posterior.sampled.index(name)] = float(value)
    return ref


def posterior_identity(posterior: Posterior,
                       reference: Mapping[str, float] | None = None) -> dict[str, Any]:
    """What identifies a posterior in a checkpoint: its parameter names, the SHA-256 of its
    arrays (data, covariances, emulator weights, prior settings) and the reference point."""
    return {"sampled": list(posterior.sampled), "derived": list(posterior.derived),
            "arrays_sha256": array_digest(eqx.filter(posterior, eqx.is_array)),
            "reference": {k: float(v) for k, v in (reference or {}).items()}}


def sample_posterior(
    posterior: Posterior,
    key: jax.Array,
    config: NUTSConfig | None = None,
    *,
    reference: Mapping[str, float] | None = None,
    progress: bool = True,
    checkpoint: Checkpoint | str | Path | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> SampleResult:
    """Sample ``posterior`` with NUTS in unconstrained coordinates; return physical chains.

    Args:
        posterior: the target.
        key: PRNG key (record its seed to repeat a run).
        config: sampler settings (:class:`NUTSConfig`); default 4 chains until R̂−1 < 0.01 and
            ESS ≥ 1000 for every sampled parameter.
        reference: starting values ``name -> value`` for the mode search (others: the priors'
            centres). For ``init="window"`` all chains start there, jittered (see
            :func:`~cosmoemu.inference.sample_nuts`).
        progress: show a progress bar.
        checkpoint: a :class:`~cosmoemu.inference.Checkpoint` (or its path stem) to save the
            run to after every block and to resume from: a run killed and started again with
            the same posterior, ``key``, ``config`` and ``reference`` continues after its last
            saved block, skipping the soft-wall adaptation and the mode search, and gives the
            draws of an uninterrupted run. :func:`posterior_identity` is added to its tag; the
            adapted soft walls are saved with it. The files stay when the run ends (calling
            again returns the finished run at once); remove them with
            :meth:`~cosmoemu.inference.Checkpoint.remove` once the chains are written.
        devices: split the chains over these devices (default all local ones; see
            :func:`~cosmoemu.inference.sample_nuts`).

    Returns:
        :class:`SampleResult`.

    Raises:
        CheckpointMismatch: ``checkpoint`` holds another run.
    """
    cfg = config or NUTSConfig()
    t0 = time.perf_counter()
    dtype = jnp.zeros(()).dtype
    x_ref = _reference(posterior, reference)
    u_ref = np.asarray(_inverse_coords(posterior, jnp.asarray(x_ref, dtype))[0], np.float64)
    t_soft = 0.0
    scale = posterior.coordinate_scale()
    saved = None
    if checkpoint is not None:
        ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint(checkpoint)
        ckpt.tag = {**ckpt.tag, "posterior": posterior_identity(posterior, reference)}
        saved = ckpt.load(ckpt.identity(cfg, key, posterior.ndim, dtype))
        checkpoint = ckpt
    # the NUTS block compiles (seconds) while the soft walls are adapted and the mode is found:
    # the adapted posterior differs only in arrays, so the compiled block serves it
    block = compile_block_ahead(posterior.logdensity, key, posterior.ndim, dtype, cfg,
                                _Observer(posterior), devices)
    if saved is not None:
        extra = saved["extra"]
        posterior = posterior.with_softness(extra["softness"])
        u_ref, scale, t_soft = extra["position"], extra["scale"], float(extra["soft_seconds"])
    elif cfg.init == "laplace":
        posterior, u_ref, scale = adapt_softness(posterior, u_ref)
        t_soft = time.perf_counter() - t0
    if checkpoint is not None:
        checkpoint.extra = {"softness": np.asarray(posterior.softness), "position": u_ref,
                            "scale": np.asarray(scale), "soft_seconds": np.asarray(t_soft)}
    t_call = time.perf_counter()
    res = sample_nuts(posterior.logdensity, key, jnp.asarray(u_ref, dtype), cfg,
                      observe=_Observer(posterior), scale=scale, progress=progress, block=block,
                      checkpoint=checkpoint)
    t_call = time.perf_counter() - t_call
    x, log_jac, derived = res.observed
    # the physical log-posterior: the sampled density without the change of variables
    logpost = res.logdensity.astype(np.float64) - np.asarray(log_jac, np.float64)
    chains = Chains(
        names=posterior.sampled,
        derived_names=posterior.derived,
        samples=np.asarray(x, np.float64),
        derived=np.asarray(derived, np.float64),
        minuslogpost=-logpost,
        weights=np.ones(logpost.shape),
        labels=dict(posterior.labels),
    )
    timings = dict(res.timings)
    timings["mode"] = timings.get("mode", 0.0) + t_soft
    # the sampler's time (summed over the sessions of a resumed run), this call's own
    # overhead, and the soft-wall adaptation when an earlier session did it
    timings["total"] = (res.timings["total"] + time.perf_counter() - t0 - t_call
                        + (t_soft if saved is not None else 0.0))
    return SampleResult(chains=chains, nuts=res, timings=timings, posterior=posterior)


def adapt_softness(
    posterior: Posterior, u0: ArrayLike, min_distance: float = 2.0
) -> tuple[Posterior, np.ndarray]:
    """Soft-wall scales that keep a narrow posterior Gaussian in the unconstrained space.

    Finds the mode from ``u0`` with the default (logistic-like) walls and its Laplace width σ
    in each physical parameter. A bounded parameter whose mode lies more than
    ``min_distance`` σ from both bounds gets walls of softness
    s = max(distance − 4σ, distance/2)/7, so that within 4σ of the mode (or, nearer a wall,
    within half the distance to it) dx/du differs from 1 by less than e⁻⁷ and ``u`` is ``x``
    there; the others (posteriors that reach a bound) keep the default.

    Returns:
        (the posterior with new softness, the mode in its unconstrained coordinates, ten times
        the Laplace width of each of those coordinates: a scale for the next mode search).
    """
    u_mode, inv_u, _ = find_mode(posterior.logdensity, jnp.asarray(u0),
                                 scale=posterior.coordinate_scale())
    dtype = jnp.asarray(u0).dtype
    x, log_slope = (np.asarray(a, np.float64)
                    for a in _coords(posterior, jnp.asarray(u_mode, dtype)))
    sigma = np.exp(log_slope) * np.sqrt(np.diag(inv_u))
    softness = np.array(posterior.softness, np.float64)
    for i, prior in enumerate(posterior.priors):
        lo, hi = prior.support
        if not (np.isfinite(lo) and np.isfinite(hi)):
            continue
        distance = min(x[i] - lo, hi - x[i])
        if distance > min_distance * sigma[i]:
            # far from the walls (> 8σ): identity within 4σ of the mode; nearer (2σ-8σ, e.g. a
            # Gaussian prior cut at the emulator box 4.5σ away): identity within half the
            # distance, the bend sharp and beyond it rather than soft across the posterior
            bend = max(distance - 4.0 * sigma[i], 0.5 * distance)
            softness[i] = min(softness[i], bend / 7.0)
    adapted = posterior.with_softness(softness)
    logger.info("soft-wall scales: %s", dict(zip(posterior.sampled, softness, strict=True)))
    u_new, log_slope_new = (np.asarray(a, np.float64)
                            for a in _inverse_coords(adapted, jnp.asarray(x, dtype)))
    return adapted, u_new, 10.0 * sigma / np.exp(log_slope_new)
