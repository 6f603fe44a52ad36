"""NUTS for many chains at once: Laplace initialisation, step-size warmup, sampling in blocks.

The sampler works on any log-density of an unconstrained vector ``u`` ``(d,)`` (for a
:class:`~cosmoemu.inference.Posterior`, its ``logdensity`` method). The default recipe:

1. **mode** — saddle-free Newton with backtracking from a reference point;
2. **metric** — the inverse Hessian of −log p at the mode as a dense inverse mass matrix, so a
   near-Gaussian posterior looks like N(0, I) to the integrator and trajectories stay short;
3. **start** — chains start at draws from that Laplace approximation;
4. **warmup** — per-chain dual-averaging of the step size (BlackJAX), metric fixed;
5. **sampling** — blocks of draws until every parameter has R̂−1 < ``target_rhat`` and bulk and
   tail ESS ≥ ``target_ess``, or ``max_draws`` per chain.

``init="window"`` uses BlackJAX's Stan-style window adaptation (dense metric) per chain instead
of steps 1–4 (for targets far from Gaussian). All chains are one ``vmap``; a block is one
``lax.scan``, compiled once and reused for warmup and sampling.

References:
    Hoffman & Gelman 2014 (NUTS, dual averaging); Betancourt 2017 (multinomial NUTS);
    Vehtari et al. 2021 (R̂, ESS).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import blackjax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import dual_averaging_adaptation
from tqdm.auto import tqdm

from ._diagnostics import diagnose

__all__ = ["NUTSConfig", "NUTSResult", "find_mode", "sample_nuts"]

logger = logging.getLogger(__name__)

INITS = ("laplace", "window")
STEP_JITTER = 0.2
"""Each transition uses step size ε·U(1 − j, 1 + j)."""


@dataclass(frozen=True)
class NUTSConfig:
    """Settings of :func:`sample_nuts`.

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

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"NUTSConfig.init: got {self.init!r}; allowed: {', '.join(INITS)}")
        for name in ("num_chains", "block_size", "max_draws", "max_num_doublings"):
            if getattr(self, name) < 1:
                raise ValueError(f"NUTSConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.target_accept < 1:
            raise ValueError(f"NUTSConfig.target_accept must be in (0, 1), got "
                             f"{self.target_accept}")


@dataclass
class NUTSResult:
    """Draws and sampler statistics in the unconstrained space.

    Attributes:
        positions: ``(n_chains, n_draws, d)`` kept draws.
        logdensity: ``(n_chains, n_draws)`` log-density of each draw.
        divergent: ``(n_chains, n_draws)`` divergent transitions (sampling phase).
        acceptance: ``(n_chains, n_draws)`` mean acceptance probability of each transition.
        num_steps: ``(n_chains, n_draws)`` leapfrog steps of each transition.
        step_size: ``(n_chains,)`` adapted step sizes.
        inverse_mass_matrix: ``(d, d)``, shared by the chains.
        diagnostics: per parameter ``rhat``, ``ess_bulk``, ``ess_tail`` (``(d,)`` arrays).
        converged: whether the targets were met.
        stop_reason: why sampling stopped, in words.
        timings: seconds spent in ``mode``, ``compile_wait`` (waiting for the NUTS block's
            compilation, which runs during the mode search), ``warmup``, ``sampling``,
            ``total``.
        mode: the mode found (``(d,)``), or None for ``init="window"``.
        warmup_divergences: divergent transitions during warmup.
        observed: ``observe(u)`` at every kept draw, leaves shaped ``(n_chains, n_draws, …)``
            (None without ``observe``).
    """

    positions: np.ndarray
    logdensity: np.ndarray
    divergent: np.ndarray
    acceptance: np.ndarray
    num_steps: np.ndarray
    step_size: np.ndarray
    inverse_mass_matrix: np.ndarray
    diagnostics: dict[str, np.ndarray]
    converged: bool
    stop_reason: str
    timings: dict[str, float] = field(default_factory=dict)
    mode: np.ndarray | None = None
    warmup_divergences: int = 0
    observed: Any = None

    @property
    def num_draws(self) -> int:
        return int(self.positions.shape[1])


# --------------------------------------------------------------------------- mode and metric
@eqx.filter_jit
def _values_and_grads(logdensity, points):
    return jax.vmap(jax.value_and_grad(logdensity))(points)


def _batch_size(d: int, num_chains: int) -> int:
    """One batch shape for every value-and-gradient call (mode search and chain starts)."""
    return max(2 * d + 1, num_chains)


def _evaluate(logdensity, points: np.ndarray, batch: int, dtype):
    """Values and gradients at ``points`` ``(m, d)``, m <= batch, padded to one shape."""
    m = len(points)
    padded = np.concatenate([points, np.repeat(points[:1], batch - m, axis=0)])
    values, grads = _values_and_grads(logdensity, jnp.asarray(padded, dtype))
    return values[:m], grads[:m]


def _local_fit(logdensity, u: np.ndarray, h: np.ndarray, dtype, batch: int):
    """Value, gradient and central-difference Hessian (steps ``h``) at ``u``, float64 numpy.

    The 2d + 1 gradients are one batched call of one compiled function: cheaper to compile than
    forward-over-reverse autodiff, and in float32 as accurate (≈1e-4 relative at h ≈ σ/10).
    """
    d = len(u)
    points = np.concatenate([u[None], u + np.diag(h), u - np.diag(h)])
    values, grads = (np.asarray(a, np.float64)
                     for a in _evaluate(logdensity, points, batch, dtype))
    hess = (grads[1 : d + 1] - grads[d + 1 :]).T / (2.0 * h)
    return values[0], grads[0], 0.5 * (hess + hess.T)


def _newton_step(grad: np.ndarray, hess: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Saddle-free Newton step for maximising: (step, inverse of |−H|, Newton decrement²)."""
    lam, vec = np.linalg.eigh(-hess)
    if not np.all(np.isfinite(lam)):
        raise FloatingPointError("the Hessian of the log-density is not finite")
    floor = 1e-10 * max(np.max(np.abs(lam)), 1e-300)
    lam = np.maximum(np.abs(lam), floor)
    inv = (vec / lam) @ vec.T
    step = inv @ grad
    return step, inv, float(grad @ step)


def find_mode(
    logdensity: Callable[[jax.Array], jax.Array],
    u0: jax.Array,
    max_steps: int = 100,
    tol: float = 1e-3,
    scale: np.ndarray | None = None,
    batch: int | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Maximise ``logdensity`` from ``u0`` ``(d,)`` by saddle-free Newton with backtracking.

    Each iteration takes the Newton step with the Hessian's eigenvalues replaced by their
    absolute values (always an ascent direction), halving it until the log-density increases.
    It stops when the Newton decrement gᵀ|H|⁻¹g (twice the expected gain in log-density)
    falls below ``tol``. Hessians are central differences of gradients with steps of a tenth of
    the current Laplace width (``scale``/100 at the start); one compiled, batched
    value-and-gradient function serves every evaluation.

    Args:
        logdensity: log-density of ``u`` ``(d,)``.
        u0: starting point ``(d,)``.
        max_steps: most Newton iterations.
        tol: Newton-decrement tolerance.
        scale: rough scale of each coordinate for the first difference steps (default 1).
        batch: batch size of the compiled value-and-gradient function (default 2d + 1).

    Returns:
        (mode ``(d,)``, inverse of −Hessian there ``(d, d)``, iterations), float64 numpy.
        At a non-maximum the inverse uses absolute eigenvalues (always positive definite).

    Raises:
        FloatingPointError: the log-density is not finite at ``u0``.
    """
    dtype = jnp.asarray(u0).dtype
    u = np.asarray(u0, np.float64)
    batch = batch or 2 * len(u) + 1
    h = 0.01 * (np.ones_like(u) if scale is None else np.asarray(scale, np.float64))
    value, grad, hess = _local_fit(logdensity, u, h, dtype, batch)
    if not np.isfinite(value):
        raise FloatingPointError(f"log-density is not finite at the starting point {u}")
    k = 0
    for k in range(1, max_steps + 1):  # noqa: B007 - k is reported
        step, inv, decrement = _newton_step(grad, hess)
        h = 0.1 * np.sqrt(np.diag(inv))
        if decrement < tol:
            break
        # a Newton step longer than 10 Laplace widths is cut back first
        t = min(1.0, 10.0 / math.sqrt(decrement))
        for _ in range(30):
            trial = _local_fit(logdensity, u + t * step, h, dtype, batch)
            if np.isfinite(trial[0]) and trial[0] >= value - 1e-6 * abs(value):
                break
            t *= 0.5
        else:
            logger.warning("mode search: no ascent along the Newton direction at %s", u)
            break
        u = u + t * step
        value, grad, hess = trial
    # the metric from differences at a tenth of the final widths
    value, grad, hess = _local_fit(logdensity, u, 0.1 * np.sqrt(np.diag(inv)), dtype, batch)
    _, inv, decrement = _newton_step(grad, hess)
    lam = np.linalg.eigvalsh(-hess)
    if lam.min() <= 0:
        logger.warning("the Hessian at the mode is not negative definite (eigenvalues of -H: "
                       "%s); its absolute values make the metric", lam)
    if decrement >= tol:
        logger.warning("mode search stopped after %d steps with Newton decrement %.3g", k,
                       decrement)
    return u, inv, k


# --------------------------------------------------------------------------- blocks
@eqx.filter_jit
def _run_block(logdensity, observe, states, da_states, step_size, inv_mass, adapt, key,
               block, target_accept, num_steps, max_num_doublings):
    """``num_steps`` NUTS steps of every chain from ``states``; step sizes adapted where
    ``adapt``; ``observe(u)`` recorded at every draw (when given). The keys of block number
    ``block`` derive from ``key`` inside (no random-number code runs outside this function).
    The log-density's gradient appears once in the graph (in the integrator)."""
    keys = jax.random.split(jax.random.fold_in(key, block), (num_steps, states.position.shape[0]))
    kernel = blackjax.nuts.build_kernel()
    _, da_update, _ = dual_averaging_adaptation(target_accept)

    def one_chain(key, state, eps):
        # step-size jitter (±STEP_JITTER, uniform) breaks the resonance of a near-Gaussian
        # target where 2^k steps span a whole period and the U-turn check misses it (seen as
        # transitions running to the maximum tree depth with acceptance ≈ 1)
        key_eps, key_step = jax.random.split(key)
        jitter = jax.random.uniform(key_eps, (), eps.dtype, 1.0 - STEP_JITTER, 1.0 + STEP_JITTER)
        return kernel(key_step, state, logdensity, eps * jitter, inv_mass,
                      max_num_doublings=max_num_doublings)

    def body(carry, keys_t):
        states, da, eps = carry
        eps_now = jnp.where(adapt, jnp.exp(da.log_step_size), eps)
        states, info = jax.vmap(one_chain)(keys_t, states, eps_now)
        da_new = jax.vmap(da_update)(da, info.acceptance_rate)
        da = jax.tree.map(lambda a, b: jnp.where(adapt, a, b), da_new, da)
        extra = None if observe is None else jax.vmap(observe)(states.position)
        trace = (states.position, states.logdensity, info.is_divergent, info.acceptance_rate,
                 info.num_integration_steps, extra)
        return (states, da, eps_now), trace

    (states, da, _), trace = jax.lax.scan(body, (states, da_states, step_size), keys)
    return states, da, trace


@eqx.filter_jit
def _window(logdensity, keys, positions, num_steps, target_accept):
    warmup = blackjax.window_adaptation(
        blackjax.nuts, logdensity, is_mass_matrix_diagonal=False,
        target_acceptance_rate=target_accept,
    )

    def one(key, pos):
        (state, params), _ = warmup.run(key, pos, num_steps=num_steps)
        return state, params["step_size"], params["inverse_mass_matrix"]

    return jax.vmap(one)(keys, positions)


@eqx.filter_jit
def _init_dual_averaging(step_size, target_accept):
    da_init, _, _ = dual_averaging_adaptation(target_accept)
    return jax.vmap(da_init)(step_size)


class _AheadOfTime:
    """Compile a jitted function in a background thread while the caller does other work.

    ``lower`` traces on the calling thread (tracing needs the GIL); XLA compilation runs in the
    thread (it releases the GIL), so on a machine with two or more cores the mode search and the
    NUTS block compile at the same time. ``get()`` waits and returns the compiled function.
    """

    def __init__(self, fn, *args) -> None:
        import threading

        lowered = fn.lower(*args)
        self._result: dict[str, Any] = {}

        def work() -> None:
            try:
                self._result["compiled"] = lowered.compile()
            except BaseException as err:  # re-raised by get()
                self._result["error"] = err

        self._thread = threading.Thread(target=work, name="cosmoemu-compile", daemon=True)
        self._thread.start()

    def get(self):
        self._thread.join()
        if "error" in self._result:
            raise self._result["error"]
        return self._result["compiled"]


def _strong(tree):
    """The same pytree with weak types made strong (weak types change jit signatures)."""
    return jax.tree.map(lambda x: jnp.asarray(x, dtype=jnp.asarray(x).dtype), tree)


def _targets_met(diag: dict[str, np.ndarray], cfg: NUTSConfig) -> bool:
    rhat_ok = np.all(diag["rhat"] - 1.0 < cfg.target_rhat)
    ess = np.minimum(diag["ess_bulk"], diag["ess_tail"])
    return bool(rhat_ok and np.all(ess >= cfg.target_ess))


# --------------------------------------------------------------------------- driver
def sample_nuts(
    logdensity: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    position: jax.Array,
    config: NUTSConfig | None = None,
    *,
    observe: Callable[[jax.Array], Any] | None = None,
    scale: np.ndarray | None = None,
    progress: bool = True,
    desc: str = "NUTS",
) -> NUTSResult:
    """Run NUTS on ``logdensity`` of an unconstrained vector until converged or a maximum.

    Args:
        logdensity: log-density of ``u`` ``(d,)`` → scalar; pure JAX. Best a pytree callable
            (an equinox Module or its bound method) so its arrays are traced, not baked in.
        key: PRNG key.
        position: ``(d,)`` reference point (the mode search starts there), or
            ``(num_chains, d)`` starting points for ``init="window"``.
        config: settings (:class:`NUTSConfig`).
        observe: optional ``u -> pytree`` recorded at every kept draw inside the compiled
            loop (physical values, derived quantities), in :attr:`NUTSResult.observed`.
        scale: rough width of each coordinate ``(d,)``, for the mode search's first steps.
        progress: show a tqdm progress bar.
        desc: progress bar label.

    Returns:
        :class:`NUTSResult`; ``converged`` says whether the targets were met and
        ``stop_reason`` why sampling stopped.
    """
    cfg = config or NUTSConfig()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    position = jnp.asarray(position)
    dtype = position.dtype if jnp.issubdtype(position.dtype, jnp.floating) else jnp.float32
    position = position.astype(dtype)
    n = cfg.num_chains
    d = position.shape[-1]
    # one NumPy generator seeded from the key for the host-side draws (starting points)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    n_warm_blocks = math.ceil(cfg.num_warmup / cfg.block_size) if cfg.num_warmup > 0 else 0
    max_blocks = math.ceil(cfg.max_draws / cfg.block_size)
    n_warm = n_warm_blocks * cfg.block_size
    # the bar's total is re-estimated from the ESS growth as sampling goes on
    bar = tqdm(total=n_warm + max(cfg.min_draws, cfg.block_size), disable=not progress,
               desc=desc, unit="step", leave=True)
    mode = None
    target = jnp.asarray(cfg.target_accept, dtype)
    np_dtype = np.dtype(dtype)
    batch = _batch_size(d, n)

    def block_args(states, da, eps, imm, adapt, number):
        # strong dtypes everywhere, so every block matches the one compiled function
        states, da, eps, imm = _strong((states, da, eps, imm))
        return (logdensity, observe, states, da, eps, imm, jnp.asarray(adapt), key,
                jnp.asarray(number, jnp.int32), target, cfg.block_size, cfg.max_num_doublings)

    # compile the NUTS block (the costliest compilation) while the mode is being found
    da0 = _init_dual_averaging(np.ones(n, np_dtype), cfg.target_accept)
    zeros = np.zeros((n, d), np_dtype)
    example = blackjax.mcmc.hmc.HMCState(zeros, np.zeros(n, np_dtype), zeros)
    ahead = _AheadOfTime(_run_block, *block_args(example, da0, np.ones(n, np_dtype),
                                                 np.eye(d, dtype=np_dtype), True, 0))

    if cfg.init == "laplace":
        bar.set_postfix_str("finding the mode")
        u0 = position if position.ndim == 1 else position[0]
        mode, inv_mass, n_iter = find_mode(logdensity, u0, cfg.optimizer_steps, scale=scale,
                                           batch=batch)
        timings["mode"] = time.perf_counter() - t_start
        logger.info("mode after %d Newton steps: %s", n_iter, mode)
        chol = np.linalg.cholesky(inv_mass)
        starts = mode + cfg.init_scale * rng.standard_normal((n, d)) @ chol.T
        step0 = np.full(n, 1.0)
        adapt_warmup = True
    else:
        bar.set_postfix_str("window adaptation")
        starts = position if position.ndim == 2 else jnp.broadcast_to(position, (n, d))
        if starts.shape != (n, d):
            raise ValueError(f"init='window' needs ({n}, {d}) starting points, got {starts.shape}")
        t0 = time.perf_counter()
        keys = jax.random.split(jax.random.fold_in(key, 7919), n)
        n_window = max(cfg.num_warmup, 300)
        states_w, step0, inv_mass_c = _window(logdensity, keys, starts, n_window, target)
        starts = states_w.position
        # one metric for all chains: the mean of the chains' adapted ones
        step0, inv_mass = np.asarray(step0), np.mean(np.asarray(inv_mass_c, np.float64), 0)
        timings["mode"] = time.perf_counter() - t0
        bar.update(n_warm)
        n_warm_blocks = 0
        adapt_warmup = False

    da = _init_dual_averaging(np.asarray(step0, np_dtype), cfg.target_accept)
    starts = np.asarray(starts, np_dtype)
    values, grads = _evaluate(logdensity, starts, batch, dtype)
    positions = blackjax.mcmc.hmc.HMCState(starts, values, grads)
    eps = np.asarray(step0, np_dtype)
    imm = np.asarray(inv_mass, np_dtype)
    t0 = time.perf_counter()
    compiled = ahead.get()
    timings["compile_wait"] = time.perf_counter() - t0

    def block(positions, da, eps, adapt, number):
        return compiled(*block_args(positions, da, eps, imm, adapt, number))

    t0 = time.perf_counter()
    warm_div = 0
    for b in range(n_warm_blocks):
        bar.set_postfix_str("warmup (first block compiles)" if b == 0 else "warmup")
        positions, da, trace = block(positions, da, eps, adapt_warmup, b)
        trace = jax.tree.map(np.asarray, trace)
        warm_div += int(np.sum(trace[2]))
        logger.debug("warmup block %d: %.2f s, mean leapfrog steps %.1f", b,
                     time.perf_counter() - t0, float(np.mean(trace[4])))
        bar.update(cfg.block_size)
    if n_warm_blocks:
        eps = np.exp(np.asarray(da.log_step_size_avg, np.float64)).astype(np_dtype)
    timings["warmup"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    traces = []
    diag: dict[str, np.ndarray] = {}
    converged = False
    reason = f"reached max_draws = {max_blocks * cfg.block_size} per chain before the targets"
    for b in range(max_blocks):
        positions, da, trace = block(positions, da, eps, False, n_warm_blocks + b)
        traces.append(jax.tree.map(np.asarray, trace))
        bar.update(cfg.block_size)
        drawn = (b + 1) * cfg.block_size
        if drawn < max(cfg.min_draws, 4):
            continue
        pos = np.concatenate([t[0] for t in traces], axis=0).swapaxes(0, 1)
        diag = diagnose(pos)
        ess = np.minimum(diag["ess_bulk"], diag["ess_tail"])
        bar.set_postfix_str(f"R̂-1 {np.max(diag['rhat']) - 1:.3f}  ESS {np.min(ess):.0f}")
        need = drawn * cfg.target_ess / max(float(np.min(ess)), 1.0)
        estimate = min(max_blocks * cfg.block_size, max(drawn + cfg.block_size, int(need)))
        bar.total = n_warm + estimate
        bar.refresh()
        if _targets_met(diag, cfg):
            converged = True
            reason = (f"targets met after {drawn} draws per chain: R̂-1 < {cfg.target_rhat}, "
                      f"ESS >= {cfg.target_ess:g}")
            break
    bar.total = bar.n
    bar.close()
    timings["sampling"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    cat = jax.tree.map(lambda *xs: np.concatenate(xs, axis=0).swapaxes(0, 1), *traces)
    if not diag:
        diag = diagnose(cat[0])
    return NUTSResult(
        positions=cat[0],
        logdensity=cat[1],
        divergent=cat[2],
        acceptance=cat[3],
        num_steps=cat[4],
        step_size=np.asarray(eps),
        inverse_mass_matrix=np.asarray(imm),
        diagnostics=diag,
        converged=converged,
        stop_reason=reason,
        timings=timings,
        mode=None if mode is None else np.asarray(mode),
        warmup_divergences=warm_div,
        observed=cat[5],
    )
