"""The NUTS driver: start, warm up and run blocks of :func:`step_block` until converged.

The sampler works on any log-density of an unconstrained vector ``u`` ``(d,)`` (for a
:class:`~cosmoemu.inference.Posterior`, its ``logdensity`` method). The default recipe:

1. **mode** — saddle-free Newton with backtracking from a reference point
   (:func:`~cosmoemu.inference.find_mode`);
2. **metric** — the inverse Hessian of −log p at the mode as a dense inverse mass matrix, so a
   near-Gaussian posterior looks like N(0, I) to the integrator and trajectories stay short;
3. **start** — chains start at draws from that Laplace approximation;
4. **warmup** — per-chain dual-averaging of the step size (BlackJAX), metric fixed;
5. **sampling** — blocks of draws until every parameter has R̂−1 < ``target_rhat`` and bulk and
   tail ESS ≥ ``target_ess``, or ``max_draws`` per chain.

``init="window"`` uses BlackJAX's Stan-style window adaptation (dense metric) per chain instead
of steps 1–4 (for targets far from Gaussian). One compiled block serves warmup and sampling; it
compiles in a background thread while the mode is found.

Randomness: the key is split once into named subkeys (:class:`SamplerKeys`): chain starting
points, window adaptation, and one key per block (step-size jitter and transitions). The mode
search is deterministic.

References:
    Hoffman & Gelman 2014 (NUTS, dual averaging); Betancourt 2017 (multinomial NUTS);
    Vehtari et al. 2021 (R̂, ESS).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ._diagnostics import diagnose
from ._mode import batch_size, find_mode
from ._nuts import (
    NUTSConfig,
    NUTSInfo,
    NUTSState,
    _init_adaptation,
    end_warmup,
    init,
    restart_step_size,
    step_block,
    strong_types,
    window_adaptation,
)

__all__ = ["NUTSResult", "SamplerKeys", "compile_block_ahead", "sample_metric", "sample_nuts"]

logger = logging.getLogger(__name__)

WINDOW_JITTER = 0.1
"""``init="window"`` from one point: chains start at u + WINDOW_JITTER · N(0, I)."""


class SamplerKeys(NamedTuple):
    """The run's PRNG key split once, one subkey per use.

    Attributes:
        starts: the chains' starting points (Laplace draws, or the jitter around one point).
        window: the window adaptation (``init="window"``).
        blocks: split again into one key per block (warmup blocks first).
    """

    starts: jax.Array
    window: jax.Array
    blocks: jax.Array

    @classmethod
    def split(cls, key: jax.Array) -> SamplerKeys:
        return cls(*jax.random.split(key, len(cls._fields)))


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _draw_keys(key: jax.Array, n_blocks: int, n_chains: int, d: int, dtype) -> tuple:
    """Every random quantity the driver needs outside the blocks, in one compiled call.

    Returns (:class:`SamplerKeys`, ``(n_blocks,)`` block keys, ``(n_chains, d)`` standard normal
    draws from ``keys.starts``). One compilation instead of one per ``split`` and ``normal``
    (each a separate XLA kernel with its own copy of the threefry hash, ~0.5-2 s to compile on a
    CPU); the values are those of the separate calls.
    """
    keys = SamplerKeys.split(key)
    return keys, jax.random.split(keys.blocks, n_blocks), jax.random.normal(
        keys.starts, (n_chains, d), dtype)


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
        state: the chains' final :class:`NUTSState` (continue with :func:`step_block`).
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
    state: NUTSState | None = None

    @property
    def num_draws(self) -> int:
        return int(self.positions.shape[1])


# --------------------------------------------------------------------------- compilation
class _AheadOfTime:
    """Compile a jitted function in a background thread while the caller does other work.

    ``lower`` traces on the calling thread (tracing needs the GIL); XLA compilation runs in the
    thread (it releases the GIL), so on a machine with two or more cores the mode search and the
    NUTS block compile at the same time. ``get()`` waits and returns the compiled function.
    """

    def __init__(self, fn, *args, **kwargs) -> None:
        lowered = fn.lower(*args, **kwargs)
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


def _block_kwargs(cfg: NUTSConfig, observe) -> dict[str, Any]:
    return {"num_steps": cfg.block_size, "max_num_doublings": cfg.max_num_doublings,
            "observe": observe}


def compile_block_ahead(
    logdensity: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    num_dims: int,
    dtype,
    config: NUTSConfig | None = None,
    observe: Callable[[jax.Array], Any] | None = None,
) -> _AheadOfTime:
    """Start compiling the NUTS block for ``sample_nuts`` in a background thread; return a handle.

    Pass the handle as ``sample_nuts(..., block=handle)`` to overlap the compilation (the run's
    costliest, several seconds on a CPU) with work done before sampling, e.g. a first mode search.
    ``logdensity`` and ``observe`` need only the structure of the ones sampled later: pytree
    callables whose arrays (traced) may change, not their static fields. ``key`` is any key
    of the run's kind (typed or raw), for the signature only.
    """
    cfg = config or NUTSConfig()
    np_dtype = np.dtype(dtype)
    n, d = cfg.num_chains, int(num_dims)
    state, imm = strong_types((_example_state(n, d, np_dtype, cfg.target_accept),
                               np.eye(d, dtype=np_dtype)))
    return _AheadOfTime(step_block, key, state, logdensity, imm,
                        jnp.asarray(True), jnp.asarray(cfg.target_accept, np_dtype),
                        **_block_kwargs(cfg, observe))


def _example_state(n: int, d: int, dtype, target_accept: float) -> NUTSState:
    """A state of the right shapes and dtypes (for compiling before the real one exists)."""
    zeros = np.zeros((n, d), dtype)
    ones = np.ones(n, dtype)
    return NUTSState(zeros, np.zeros(n, dtype), zeros, ones, _init_adaptation(ones, target_accept))


# --------------------------------------------------------------------------- progress
class _Progress:
    """A tqdm bar over transitions whose total, warmup plus ``max_draws``, never changes.

    The postfix shows the stage, then R̂ − 1 and the smallest ESS against their targets; when the
    targets are met early the bar stops where it stands and says so.
    """

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        # no time-remaining estimate: it would be to the maximum, and sampling usually stops
        # well before, when the targets are met
        self._bar = tqdm(total=total, disable=not enabled, desc=desc, unit="step", leave=True,
                         bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} steps at most "
                                    "[{elapsed}, {rate_fmt}{postfix}]")
        self._text = ""

    def stage(self, text: str) -> None:
        self._text = text
        self._bar.set_postfix_str(text)

    def advance(self, steps: int) -> None:
        self._bar.update(steps)

    def diagnostics(self, diag: dict[str, np.ndarray], cfg: NUTSConfig) -> None:
        ess = np.minimum(diag["ess_bulk"], diag["ess_tail"])
        self.stage(f"R̂-1 {np.max(diag['rhat']) - 1:.3f}/{cfg.target_rhat:g}  "
                   f"ESS {np.min(ess):.0f}/{cfg.target_ess:g}")

    def close(self, converged: bool) -> None:
        if converged:
            self.stage(f"{self._text}  converged")
        self._bar.close()


# --------------------------------------------------------------------------- driver
def _targets_met(diag: dict[str, np.ndarray], cfg: NUTSConfig) -> bool:
    rhat_ok = np.all(diag["rhat"] - 1.0 < cfg.target_rhat)
    ess = np.minimum(diag["ess_bulk"], diag["ess_tail"])
    return bool(rhat_ok and np.all(ess >= cfg.target_ess))


def _laplace_starts(logdensity, position, z: jax.Array, cfg: NUTSConfig, scale, batch):
    """Mode, its inverse Hessian, and ``num_chains`` draws of that Laplace approximation (``z``:
    ``(num_chains, d)`` standard normal draws)."""
    u0 = position if position.ndim == 1 else position[0]
    mode, inv_mass, n_iter = find_mode(logdensity, u0, cfg.optimizer_steps, scale=scale,
                                       batch=batch)
    logger.info("mode after %d Newton steps: %s", n_iter, mode)
    chol = np.linalg.cholesky(inv_mass)
    z = np.asarray(z, np.float64)
    return mode, inv_mass, mode + cfg.init_scale * z @ chol.T


def _window_starts(logdensity, position, keys: SamplerKeys, cfg: NUTSConfig, n_warmup: int,
                   z: jax.Array):
    """Window adaptation of every chain: its end points, step sizes and the mean metric (``z``:
    ``(num_chains, d)`` standard normal draws for the jitter around one point)."""
    n, d = cfg.num_chains, position.shape[-1]
    if position.ndim == 1:
        position = position + WINDOW_JITTER * z
    if position.shape != (n, d):
        raise ValueError(f"init='window' needs ({n}, {d}) starting points, got {position.shape}")
    states, step0, inv_mass = window_adaptation(
        jax.random.split(keys.window, n), position, logdensity, n_warmup,
        jnp.asarray(cfg.target_accept, position.dtype))
    # one metric for all chains: the mean of the chains' adapted ones
    return states.position, np.asarray(step0), np.mean(np.asarray(inv_mass, np.float64), 0)


def sample_metric(blocks: list[np.ndarray], prior_metric: np.ndarray,
                  shrink: float = 10.0) -> np.ndarray:
    """A dense metric from warmup draws: their covariance, pooled over chains, shrunk towards
    ``prior_metric`` ``(d, d)``: (n Σ̂ + shrink · prior) / (n + shrink) for n draws.

    Args:
        blocks: warmup blocks of draws, each ``(num_steps, n_chains, d)``.
        prior_metric: the metric to shrink towards (the Laplace one).
        shrink: pseudo-count of the prior metric.
    """
    x = np.concatenate([b.reshape(-1, b.shape[-1]) for b in blocks], axis=0)
    n = len(x)
    cov = np.cov(x, rowvar=False).reshape(prior_metric.shape)
    metric = (n * cov + shrink * prior_metric) / (n + shrink)
    return 0.5 * (metric + metric.T)


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
    block: _AheadOfTime | None = None,
) -> NUTSResult:
    """Run NUTS on ``logdensity`` of an unconstrained vector until converged or a maximum.

    Args:
        logdensity: log-density of ``u`` ``(d,)`` → scalar; pure JAX. Best a pytree callable
            (an equinox Module or its bound method) so its arrays are traced, not baked in.
        key: PRNG key; split once into :class:`SamplerKeys`.
        position: ``(d,)`` reference point (the mode search starts there; with
            ``init="window"`` the chains start around it, jittered by 0.1 in every coordinate),
            or ``(num_chains, d)`` starting points for ``init="window"``.
        config: settings (:class:`NUTSConfig`).
        observe: optional ``u -> pytree`` recorded at every kept draw inside the compiled
            loop (physical values, derived quantities), in :attr:`NUTSResult.observed`.
        scale: rough width of each coordinate ``(d,)``, for the mode search's first steps.
        progress: show a tqdm progress bar.
        desc: progress bar label.
        block: the NUTS block already being compiled (:func:`compile_block_ahead` with the
            same ``config``, dimension, dtype and structures); default: start it here, while
            the mode is found.

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
    np_dtype = np.dtype(dtype)
    n, d = cfg.num_chains, position.shape[-1]
    window = cfg.init == "window"
    n_warm_blocks = 0 if window or cfg.num_warmup <= 0 else math.ceil(
        cfg.num_warmup / cfg.block_size)
    max_blocks = math.ceil(cfg.max_draws / cfg.block_size)
    # compile the NUTS block (the costliest compilation) while the mode is being found
    ahead = block or compile_block_ahead(logdensity, key, d, np_dtype, cfg, observe)
    keys, block_keys, z_starts = _draw_keys(key, n_warm_blocks + max_blocks, n, d, np_dtype)
    target = jnp.asarray(cfg.target_accept, dtype)
    adapt_flags = {True: jnp.asarray(True), False: jnp.asarray(False)}
    batch = batch_size(d, n)
    bar = _Progress(n_warm_blocks * cfg.block_size + max_blocks * cfg.block_size, progress, desc)

    def block_args(number, state, imm, adapt):
        # strong dtypes everywhere, so every block matches the one compiled function
        state, imm = strong_types((state, imm))
        return ((block_keys[number], state, logdensity, imm, adapt_flags[adapt], target),
                _block_kwargs(cfg, observe))

    mode = None
    if window:
        bar.stage("window adaptation")
        starts, step0, inv_mass = _window_starts(logdensity, position, keys, cfg,
                                                 max(cfg.num_warmup, 300), z_starts)
    else:
        bar.stage("finding the mode")
        mode, inv_mass, starts = _laplace_starts(logdensity, position, z_starts, cfg, scale,
                                                 batch)
        step0 = np.ones(n)
    timings["mode"] = time.perf_counter() - t_start
    state = init(np.asarray(starts, np_dtype), logdensity, np.asarray(step0, np_dtype),
                 target_accept=cfg.target_accept, batch=batch)
    imm = np.asarray(inv_mass, np_dtype)
    t0 = time.perf_counter()
    compiled = ahead.get()
    timings["compile_wait"] = time.perf_counter() - t0

    def block(number, state, adapt):
        args, kwargs = block_args(number, state, imm, adapt)
        state, info = compiled(*args, **kwargs)
        return state, jax.tree.map(np.asarray, info)

    t0 = time.perf_counter()
    warm_div = 0
    adapt_metric = cfg.adapt_metric and not window
    laplace_imm = np.asarray(inv_mass, np.float64)
    warm_draws: list[np.ndarray] = []
    for b in range(n_warm_blocks):
        bar.stage("warmup")
        state, info = block(b, state, True)
        warm_div += int(np.sum(info.is_divergent))
        logger.debug("warmup block %d: %.2f s, mean leapfrog steps %.1f", b,
                     time.perf_counter() - t0, float(np.mean(info.num_integration_steps)))
        bar.advance(cfg.block_size)
        if adapt_metric and b < n_warm_blocks - 1:
            warm_draws.append(np.asarray(info.position, np.float64))
            imm = np.asarray(sample_metric(warm_draws[len(warm_draws) // 2:], laplace_imm),
                             np_dtype)
            state = restart_step_size(state, cfg.target_accept)
    if n_warm_blocks:
        state = end_warmup(state)
    timings["warmup"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    infos: list[NUTSInfo] = []
    diag: dict[str, np.ndarray] = {}
    converged = False
    reason = f"reached max_draws = {max_blocks * cfg.block_size} per chain before the targets"
    for b in range(max_blocks):
        state, info = block(n_warm_blocks + b, state, False)
        infos.append(info)
        bar.advance(cfg.block_size)
        drawn = (b + 1) * cfg.block_size
        if drawn < max(cfg.min_draws, 4):
            continue
        diag = diagnose(np.concatenate([i.position for i in infos], axis=0).swapaxes(0, 1))
        bar.diagnostics(diag, cfg)
        if _targets_met(diag, cfg):
            converged = True
            reason = (f"targets met after {drawn} draws per chain: R̂-1 < {cfg.target_rhat}, "
                      f"ESS >= {cfg.target_ess:g}")
            break
    bar.close(converged)
    timings["sampling"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    # (steps, chains, …) blocks → (chains, draws, …)
    cat = jax.tree.map(lambda *xs: np.concatenate(xs, axis=0).swapaxes(0, 1), *infos)
    if not diag:
        diag = diagnose(cat.position)
    return NUTSResult(
        positions=cat.position,
        logdensity=cat.logdensity,
        divergent=cat.is_divergent,
        acceptance=cat.acceptance_rate,
        num_steps=cat.num_integration_steps,
        step_size=np.asarray(state.step_size),
        inverse_mass_matrix=imm,
        diagnostics=diag,
        converged=converged,
        stop_reason=reason,
        timings=timings,
        mode=None if mode is None else np.asarray(mode),
        warmup_divergences=warm_div,
        observed=cat.observed,
        state=state,
    )
