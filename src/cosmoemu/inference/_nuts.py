"""NUTS for many chains at once, as pure functions: :func:`init` and :func:`step_block`.

As in BlackJAX, the sampler is a state and functions of it: :func:`init` builds a
:class:`NUTSState` for every chain; :func:`step_block` runs ``num_steps`` NUTS transitions of
every chain (one ``vmap`` inside one ``lax.scan``, so it compiles once) and returns the new state
and a :class:`NUTSInfo` of named per-step diagnostics; :func:`end_warmup` fixes the adapted step
sizes. The PRNG key is always passed in. The driver that runs blocks until R̂ and ESS targets are
met, with a progress bar and ahead-of-time compilation, is :func:`~cosmoemu.inference.sample_nuts`.

Example:
    >>> import jax, jax.numpy as jnp
    >>> logdensity = lambda u: -0.5 * jnp.sum(u**2)
    >>> state = init(jnp.zeros((4, 2)), logdensity, jnp.full(4, 0.5))
    >>> state, info = step_block(jax.random.key(0), state, logdensity, jnp.eye(2),
    ...                          jnp.asarray(False), jnp.asarray(0.8), num_steps=10)
    >>> info.position.shape, info.is_divergent.shape
    ((10, 4, 2), (10, 4))

References:
    Hoffman & Gelman 2014 (NUTS, dual averaging); Betancourt 2017 (multinomial NUTS).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import blackjax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import DualAveragingAdaptationState, dual_averaging_adaptation
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

from ._mode import evaluate

__all__ = [
    "CHAIN_AXIS",
    "INITS",
    "NUTSConfig",
    "NUTSInfo",
    "NUTSState",
    "chain_mesh",
    "chain_sharding",
    "end_warmup",
    "init",
    "restart_step_size",
    "step_block",
    "window_adaptation",
]

logger = logging.getLogger(__name__)

INITS = ("laplace", "window")
CHAIN_AXIS = "chains"
"""Name of the mesh axis the chains are split over."""
STEP_JITTER = 0.2
"""Each transition uses step size ε·U(1 − j, 1 + j)."""


@dataclass(frozen=True)
class NUTSConfig:
    """Settings of :func:`~cosmoemu.inference.sample_nuts`.

    Attributes:
        num_chains: chains run together (vmapped).
        num_warmup: warmup steps per chain (rounded up to whole blocks). With ``init="laplace"``
            the chains start in the typical set with a good metric, and the warmup only tunes
            the step size; ``init="window"`` uses at least 300.
        block_size: steps per compiled block; diagnostics are checked after each block.
        max_draws: most kept draws per chain.
        min_draws: fewest kept draws per chain before stopping.
        target_rhat: stop when R̂ − 1 is below this for every parameter …
        target_ess: … and bulk and tail ESS are at least this.
        target_accept: dual-averaging target of the mean acceptance probability.
        max_num_doublings: NUTS tree depth limit (at most 2^depth − 1 leapfrog steps).
        init: ``"laplace"`` (mode + inverse Hessian metric) or ``"window"`` (BlackJAX window
            adaptation, dense metric).
        optimizer_steps: most Newton iterations when finding the mode.
        init_scale: chains start at mode + init_scale × (Laplace draws).
        adapt_metric: with ``init="laplace"``, re-estimate the dense metric during the warmup
            from the chains' own draws (after every warmup block but the last: the covariance
            of the second half of the warmup draws so far, pooled over chains, shrunk towards
            the Laplace metric by 10/(n + 10) for n pooled draws), restarting the step-size
            adaptation each time. For posteriors the Laplace approximation misjudges (long
            tails, quadratic degeneracies such as an intrinsic-alignment amplitude whose
            signal enters as A and A²); it needs at least 2 warmup blocks.
    """

    num_chains: int = 4
    num_warmup: int = 100
    block_size: int = 100
    max_draws: int = 10_000
    min_draws: int = 200
    target_rhat: float = 0.01
    target_ess: float = 1000.0
    target_accept: float = 0.8
    max_num_doublings: int = 8
    init: str = "laplace"
    optimizer_steps: int = 100
    init_scale: float = 1.0
    adapt_metric: bool = False

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"NUTSConfig.init: got {self.init!r}; allowed: {', '.join(INITS)}")
        for name in ("num_chains", "block_size", "max_draws", "max_num_doublings"):
            if getattr(self, name) < 1:
                raise ValueError(f"NUTSConfig.{name} must be >= 1, got {getattr(self, name)}")
        if (self.adapt_metric and self.init == "laplace"
                and math.ceil(self.num_warmup / self.block_size) < 2):
            raise ValueError(f"NUTSConfig.adapt_metric needs at least 2 warmup blocks "
                             f"(num_warmup > block_size = {self.block_size}), got num_warmup = "
                             f"{self.num_warmup}")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"NUTSConfig.target_accept must be in (0, 1), got "
                             f"{self.target_accept}")


class NUTSState(NamedTuple):
    """Every chain's state between transitions.

    Attributes:
        position: ``(n_chains, d)`` current points (unconstrained).
        logdensity: ``(n_chains,)`` log-density there.
        logdensity_grad: ``(n_chains, d)`` its gradient.
        step_size: ``(n_chains,)`` step size of transitions that do not adapt it.
        adaptation: per-chain dual-averaging state of the step size (BlackJAX's), leaves
            ``(n_chains,)``.
    """

    position: jax.Array
    logdensity: jax.Array
    logdensity_grad: jax.Array
    step_size: jax.Array
    adaptation: DualAveragingAdaptationState


class NUTSInfo(NamedTuple):
    """Named diagnostics of every transition of a block; leaves ``(num_steps, n_chains, …)``.

    Attributes:
        position: ``(num_steps, n_chains, d)`` the draws.
        logdensity: ``(num_steps, n_chains)`` log-density of each draw.
        is_divergent: ``(num_steps, n_chains)`` whether the transition diverged.
        acceptance_rate: ``(num_steps, n_chains)`` its mean acceptance probability.
        num_integration_steps: ``(num_steps, n_chains)`` its leapfrog steps.
        observed: ``observe(position)`` at each draw (leaves ``(num_steps, n_chains, …)``), or
            None without ``observe``.
    """

    position: jax.Array
    logdensity: jax.Array
    is_divergent: jax.Array
    acceptance_rate: jax.Array
    num_integration_steps: jax.Array
    observed: Any = None


def strong_types(tree):
    """The same pytree with weak types made strong.

    A weakly typed leaf (a Python scalar turned into an array) and a strong one of the same
    dtype are different jit signatures: states kept strong keep :func:`step_block` to one
    compilation.
    """
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


def chain_mesh(num_chains: int, devices: Sequence[jax.Device] | None = None) -> Mesh | None:
    """The 1-D mesh (axis ``"chains"``) the chains are split over, or None for one device.

    All of ``devices`` (default ``jax.local_devices()``) when ``num_chains`` is a multiple of
    their number; otherwise the largest number of them that divides ``num_chains``, with a
    logged warning (4 chains on 3 devices use 2 of them; 5 chains on 2 devices use one). A
    mesh of one device is None: the unsplit computation.
    """
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("chain_mesh: no devices given")
    used = max(k for k in range(1, len(devices) + 1) if num_chains % k == 0)
    if used < len(devices):
        logger.warning("%d chains cannot be split evenly over %d devices: using %d of them "
                       "(make the number of chains a multiple of %d to use them all)",
                       num_chains, len(devices), used, len(devices))
    if used == 1:
        return None
    return Mesh(np.array(devices[:used]), (CHAIN_AXIS,))


def chain_sharding(mesh: Mesh) -> NamedSharding:
    """Arrays split along their first axis (the chains) over ``mesh``: ``P("chains")``."""
    return NamedSharding(mesh, P(CHAIN_AXIS))


@eqx.filter_jit
def _init_adaptation(step_size, target_accept):
    da_init, _, _ = dual_averaging_adaptation(target_accept)
    return jax.vmap(da_init)(step_size)


def init(
    position: ArrayLike,
    logdensity: Callable[[jax.Array], jax.Array],
    step_size: ArrayLike,
    *,
    target_accept: float = 0.8,
    batch: int | None = None,
) -> NUTSState:
    """The state of chains starting at ``position`` ``(n_chains, d)``.

    Args:
        position: ``(n_chains, d)`` starting points; their dtype is the sampler's.
        logdensity: log-density of one point ``(d,)``; pure JAX.
        step_size: ``(n_chains,)`` initial step sizes (the dual averaging starts there).
        target_accept: the dual averaging's target mean acceptance probability.
        batch: evaluate the log-density with the points padded to this many rows (so that a
            compiled value-and-gradient function of that batch shape is reused); default
            ``n_chains``.

    Returns:
        :class:`NUTSState`.
    """
    position = jnp.asarray(position)
    dtype = position.dtype
    values, grads = evaluate(logdensity, np.asarray(position), batch or position.shape[0], dtype)
    step_size = jnp.asarray(step_size, dtype)
    return strong_types(NUTSState(position, jnp.asarray(values, dtype), jnp.asarray(grads, dtype),
                                  step_size, _init_adaptation(step_size, target_accept)))


def restart_step_size(state: NUTSState, target_accept: float = 0.8) -> NUTSState:
    """Restart every chain's step-size adaptation from its dual-averaging average (after the
    metric changed during the warmup)."""
    eps = jnp.exp(state.adaptation.log_step_size_avg).astype(state.step_size.dtype)
    return strong_types(state._replace(step_size=eps,
                                       adaptation=_init_adaptation(eps, target_accept)))


def end_warmup(state: NUTSState) -> NUTSState:
    """Fix every chain's step size at its dual-averaging average (the end of the warmup)."""
    eps = jnp.exp(state.adaptation.log_step_size_avg).astype(state.step_size.dtype)
    return strong_types(state._replace(step_size=eps))


@eqx.filter_jit
def step_block(
    key: jax.Array,
    state: NUTSState,
    logdensity: Callable[[jax.Array], jax.Array],
    inverse_mass_matrix: jax.Array,
    adapt: jax.Array,
    target_accept: jax.Array,
    *,
    num_steps: int,
    max_num_doublings: int = 8,
    observe: Callable[[jax.Array], Any] | None = None,
    mesh: Mesh | None = None,
) -> tuple[NUTSState, NUTSInfo]:
    """``num_steps`` NUTS transitions of every chain: one ``lax.scan`` over a ``vmap``.

    Each transition uses the step size ε·U(1 − 0.2, 1 + 0.2): the jitter breaks the resonance of
    a near-Gaussian target where 2^k leapfrog steps span a whole period and the U-turn check
    misses it (seen as transitions running to the maximum tree depth with acceptance ≈ 1).

    Args:
        key: PRNG key of this block (every transition's key derives from it).
        state: from :func:`init` or the previous block.
        logdensity: log-density of one point ``(d,)``; best a pytree callable (an equinox
            Module or its bound method), so its arrays are traced, not baked in.
        inverse_mass_matrix: ``(d, d)`` dense metric shared by the chains.
        adapt: scalar bool array: adapt the step sizes by dual averaging (warmup) or use
            ``state.step_size``. An array, so warmup and sampling share one compilation.
        target_accept: scalar array, the dual averaging's target.
        num_steps: transitions per chain (static).
        max_num_doublings: NUTS tree depth limit (static).
        observe: optional ``u -> pytree`` recorded at every draw inside the loop.
        mesh: a 1-D mesh with axis ``"chains"`` (static; see :func:`chain_mesh`): the chains are
            split over its devices (``shard_map``), each device running the scan over its own
            chains with no communication; ``n_chains`` must be a multiple of its size. The
            state's leaves should be placed with :func:`chain_sharding` (``P("chains")``) and
            the other arrays replicated. Every transition's key is drawn from ``key`` before
            the split, so the draws do not depend on the number of devices. None: one device.

    Returns:
        ``(state, info)``: the state after the block and :class:`NUTSInfo` of its transitions
        (leaves sharded like the state's, along their chain axis, with a ``mesh``).
        The log-density's gradient appears once in the graph (in the integrator).
    """
    n_chains = state.position.shape[0]
    keys = jax.random.split(key, (num_steps, n_chains))
    kernel = blackjax.nuts.build_kernel()
    _, da_update, _ = dual_averaging_adaptation(target_accept)

    def one_chain(key, position, value, grad, eps):
        key_eps, key_step = jax.random.split(key)
        jitter = jax.random.uniform(key_eps, (), eps.dtype, 1.0 - STEP_JITTER, 1.0 + STEP_JITTER)
        hmc = blackjax.mcmc.hmc.HMCState(position, value, grad)
        new, info = kernel(key_step, hmc, logdensity, eps * jitter, inverse_mass_matrix,
                           max_num_doublings=max_num_doublings)
        return new, info

    def transition(state: NUTSState, keys_t):
        eps = jnp.where(adapt, jnp.exp(state.adaptation.log_step_size), state.step_size)
        hmc, info = jax.vmap(one_chain)(keys_t, state.position, state.logdensity,
                                        state.logdensity_grad, eps)
        da_new = jax.vmap(da_update)(state.adaptation, info.acceptance_rate)
        da = jax.tree.map(lambda a, b: jnp.where(adapt, a, b), da_new, state.adaptation)
        state = NUTSState(hmc.position, hmc.logdensity, hmc.logdensity_grad, eps, da)
        observed = None if observe is None else jax.vmap(observe)(hmc.position)
        return state, NUTSInfo(hmc.position, hmc.logdensity, info.is_divergent,
                               info.acceptance_rate, info.num_integration_steps, observed)

    def run(state: NUTSState, keys: jax.Array):
        return jax.lax.scan(transition, state, keys)

    if mesh is not None:
        if n_chains % mesh.size:
            raise ValueError(f"{n_chains} chains cannot be split over {mesh.size} devices")
        # per device: its own chains' state and keys; the closed-over arrays (log-density,
        # metric, flags) are replicated. No collective: each device's scan runs on its own.
        # check_vma=False: BlackJAX's conds return a per-device value from one branch and a
        # constant from the other, which the varying-axes check rejects ("cond branches must
        # have equal output types")
        run = jax.shard_map(run, mesh=mesh, in_specs=(P(CHAIN_AXIS), P(None, CHAIN_AXIS)),
                            out_specs=(P(CHAIN_AXIS), P(None, CHAIN_AXIS)), check_vma=False)
    return run(strong_types(state), keys)


@eqx.filter_jit
def window_adaptation(
    keys: jax.Array,
    position: jax.Array,
    logdensity: Callable[[jax.Array], jax.Array],
    num_steps: int,
    target_accept: jax.Array,
) -> tuple[blackjax.mcmc.hmc.HMCState, jax.Array, jax.Array]:
    """BlackJAX's Stan-style window adaptation (dense metric) of each chain, vmapped.

    Args:
        keys: ``(n_chains,)`` PRNG keys, one per chain.
        position: ``(n_chains, d)`` starting points.
        logdensity: log-density of one point ``(d,)``.
        num_steps: adaptation steps per chain (static).
        target_accept: the target mean acceptance probability.

    Returns:
        (final HMC states, step sizes ``(n_chains,)``, inverse mass matrices
        ``(n_chains, d, d)``).
    """
    warmup = blackjax.window_adaptation(
        blackjax.nuts, logdensity, is_mass_matrix_diagonal=False,
        target_acceptance_rate=target_accept,
    )

    def one(key, pos):
        (state, params), _ = warmup.run(key, pos, num_steps=num_steps)
        return state, params["step_size"], params["inverse_mass_matrix"]

    return jax.vmap(one)(keys, position)
