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

Checkpoints (``checkpoint=``, :class:`~cosmoemu.inference.Checkpoint`): the run is saved after
the mode search and after every block, whole (state, metric, phase, draws so far); started again
with the same settings and key it continues after the last saved block. Because block ``b``
always uses key ``b`` and the saved state holds every bit the next block reads, the resumed
draws are those of an uninterrupted run, bit for bit.

Devices (``devices=``): the chain axis of the state and of each block is split over a 1-D mesh
of the local devices (:func:`~cosmoemu.inference.nuts.chain_mesh`, ``shard_map`` inside the one
compiled block); each device runs its chains without communication, and the transitions' keys
are drawn before the split, so a run on N devices samples the same chains as on one (on a CPU
the numbers can differ in the last bit, and the chains then drift apart: XLA vectorises a batch
of 2 chains differently from one of 4).

References:
    Hoffman & Gelman 2014 (NUTS, dual averaging); Betancourt 2017 (multinomial NUTS);
    Vehtari et al. 2021 (R̂, ESS).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import DualAveragingAdaptationState
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from ._checkpoint import Checkpoint, array_digest
from ._diagnostics import diagnose
from ._mode import batch_size, find_mode
from ._nuts import (
    NUTSConfig,
    NUTSInfo,
    NUTSState,
    _init_adaptation,
    chain_mesh,
    chain_sharding,
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
            ``checkpoint`` (writing it), ``total``; a resumed run's are summed over the
            sessions.
        mode: the mode found (``(d,)``), or None for ``init="window"``.
        warmup_divergences: divergent transitions during warmup.
        observed: ``observe(u)`` at every kept draw, leaves shaped ``(n_chains, n_draws, …)``
            (None without ``observe``).
        state: the chains' final :class:`NUTSState` (continue with :func:`step_block`).
        resumed_from: blocks (warmup and sampling) that were read from a checkpoint rather
            than run in this call; None when nothing was resumed.
        num_devices: devices the chains were split over.
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
    resumed_from: int | None = None
    num_devices: int = 1

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
        self.mesh: Mesh | None = kwargs.get("mesh")
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


def _block_kwargs(cfg: NUTSConfig, observe, mesh: Mesh | None) -> dict[str, Any]:
    return {"num_steps": cfg.block_size, "max_num_doublings": cfg.max_num_doublings,
            "observe": observe, "mesh": mesh}


def compile_block_ahead(
    logdensity: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    num_dims: int,
    dtype,
    config: NUTSConfig | None = None,
    observe: Callable[[jax.Array], Any] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> _AheadOfTime:
    """Start compiling the NUTS block for ``sample_nuts`` in a background thread; return a handle.

    Pass the handle as ``sample_nuts(..., block=handle)`` to overlap the compilation (the run's
    costliest, several seconds on a CPU) with work done before sampling, e.g. a first mode search.
    ``logdensity`` and ``observe`` need only the structure of the ones sampled later: pytree
    callables whose arrays (traced) may change, not their static fields. ``key`` is any key
    of the run's kind (typed or raw), for the signature only. ``devices``: those the chains are
    split over (default all local ones; see :func:`~cosmoemu.inference.nuts.chain_mesh`); the
    handle's ``mesh`` records the choice.
    """
    cfg = config or NUTSConfig()
    np_dtype = np.dtype(dtype)
    n, d = cfg.num_chains, int(num_dims)
    mesh = chain_mesh(n, devices)
    state, imm = strong_types((_example_state(n, d, np_dtype, cfg.target_accept),
                               np.eye(d, dtype=np_dtype)))
    args = (key, state, logdensity, imm, jnp.asarray(True), jnp.asarray(cfg.target_accept,
                                                                          np_dtype))
    kwargs = _block_kwargs(cfg, observe, mesh)
    if mesh is not None:
        args, kwargs = _placed(args, kwargs, mesh)
    return _AheadOfTime(step_block, *args, **kwargs)


def _put(tree, sharding: NamedSharding):
    """``tree`` with its arrays (JAX or NumPy) placed by ``sharding``; other leaves kept."""
    arrays, rest = eqx.partition(tree, eqx.is_array)
    return eqx.combine(jax.device_put(arrays, sharding), rest)


def _placed(args: tuple, kwargs: dict[str, Any], mesh: Mesh) -> tuple[tuple, dict[str, Any]]:
    """The block's arguments on ``mesh``: the state (``args[1]``) split along the chains,
    everything else (key, log-density, metric, flags, ``observe``) replicated."""
    rep = NamedSharding(mesh, P())
    key, state, *rest = args
    return ((_put(key, rep), _put(state, chain_sharding(mesh)), *_put(tuple(rest), rep)),
            {**kwargs, "observe": _put(kwargs["observe"], rep)})


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


@dataclass
class _Run:
    """A run after ``done`` blocks: everything a checkpoint holds.

    ``state`` and ``metric`` are those the next block starts from (the step-size restart
    after an ``adapt_metric`` update, and the end of the warmup, already applied).
    """

    done: int
    state: NUTSState
    metric: np.ndarray
    laplace_metric: np.ndarray
    mode: np.ndarray | None
    warmup_divergences: int = 0
    warmup_draws: list[np.ndarray] = field(default_factory=list)
    infos: list[NUTSInfo] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    finished: bool = False
    converged: bool = False
    reason: str = ""

    def draws(self) -> NUTSInfo | None:
        """The sampling blocks' statistics concatenated, ``(steps, chains, …)`` leaves."""
        if not self.infos:
            return None
        return jax.tree.map(lambda *xs: np.concatenate(xs, axis=0), *self.infos)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"state/{k}": np.asarray(v) for k, v in self.state._asdict().items()
               if k != "adaptation"}
        out |= {f"state/adaptation/{k}": np.asarray(v)
                for k, v in self.state.adaptation._asdict().items()}
        out["metric"] = np.asarray(self.metric)
        out["laplace_metric"] = np.asarray(self.laplace_metric)
        if self.mode is not None:
            out["mode"] = np.asarray(self.mode)
        if self.warmup_draws:
            out["warmup_draws"] = np.stack(self.warmup_draws)
        draws = self.draws()
        if draws is not None:
            out |= {f"draws/{k}": v for k, v in draws._asdict().items() if k != "observed"}
            for i, leaf in enumerate(jax.tree.leaves(draws.observed)):
                out[f"draws/observed/{i}"] = leaf
            self.infos = [draws]  # concatenated once, not again at every write
        return out

    def meta(self, n_warm: int, max_blocks: int, block_size: int) -> dict[str, Any]:
        n_draws = sum(len(i.position) for i in self.infos)
        return {
            "blocks_done": self.done,
            "warmup_blocks": n_warm,
            "max_blocks": n_warm + max_blocks,
            "block_size": block_size,
            "phase": ("finished" if self.finished else "warmup" if self.done < n_warm
                      else "sampling"),
            "draws_per_chain": n_draws,
            "warmup_divergences": self.warmup_divergences,
            "divergences": int(sum(np.sum(i.is_divergent) for i in self.infos)),
            "converged": self.converged,
            "stop_reason": self.reason,
            "timings_s": dict(self.timings),
        }

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any], observed_tree) -> _Run:
        a, meta = saved["arrays"], saved["meta"]
        adaptation = DualAveragingAdaptationState(
            *(a[f"state/adaptation/{k}"] for k in DualAveragingAdaptationState._fields))
        state = NUTSState(*(a[f"state/{k}"] for k in NUTSState._fields[:-1]), adaptation)
        infos = []
        if "draws/position" in a:
            leaves = [a[f"draws/observed/{i}"] for i in range(observed_tree.num_leaves)]
            observed = jax.tree.unflatten(observed_tree, leaves)
            infos = [NUTSInfo(*(a[f"draws/{k}"] for k in NUTSInfo._fields[:-1]), observed)]
        return cls(
            done=int(meta["blocks_done"]), state=strong_types(state), metric=a["metric"],
            laplace_metric=a["laplace_metric"], mode=a.get("mode"),
            warmup_divergences=int(meta["warmup_divergences"]),
            warmup_draws=list(a["warmup_draws"]) if "warmup_draws" in a else [],
            infos=infos, timings=dict(meta["timings_s"]), finished=meta["phase"] == "finished",
            converged=bool(meta["converged"]), reason=meta["stop_reason"])


def _as_checkpoint(checkpoint: Checkpoint | str | Path | None, position) -> Checkpoint | None:
    if checkpoint is None or isinstance(checkpoint, Checkpoint):
        return checkpoint
    # a bare path: the starting point is part of the run's identity
    return Checkpoint(checkpoint, tag={"position_sha256": array_digest(position)})


def _observed_tree(observe, n: int, d: int, dtype):
    """The tree structure of ``observe``'s output (None without ``observe``)."""
    if observe is None:
        return jax.tree.structure(None)
    shapes = jax.eval_shape(jax.vmap(observe), jax.ShapeDtypeStruct((n, d), dtype))
    return jax.tree.structure(shapes)


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
    checkpoint: Checkpoint | str | Path | None = None,
    devices: Sequence[jax.Device] | None = None,
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
        checkpoint: save the run after the mode search and after every block to this
            :class:`~cosmoemu.inference.Checkpoint` (or path stem: ``STEM.npz`` and
            ``STEM.json``; its identity then includes ``position``). If it already holds this
            run (same ``config``, ``key``, dimension, dtype and tag) the run continues after its
            last saved block, without the mode search, and gives the draws an uninterrupted
            run gives, bit for bit; a finished run is returned as saved. One of another run
            raises :class:`~cosmoemu.inference.CheckpointMismatch`. The file is left in place
            at the end (the caller removes it once the draws are safe).
        devices: split the chains over these devices (default: all local ones), each running
            its own chains: the state and every block's computation are sharded along the
            chain axis (``NamedSharding``, ``PartitionSpec("chains")``). When ``num_chains`` is
            not a multiple of their number, as many as divide it are used, with a warning.
            The draws do not depend on the number of devices. Give it to
            :func:`compile_block_ahead` instead when passing ``block``.

    Returns:
        :class:`NUTSResult`; ``converged`` says whether the targets were met and
        ``stop_reason`` why sampling stopped.
    """
    cfg = config or NUTSConfig()
    t_start = time.perf_counter()
    position = jnp.asarray(position)
    dtype = position.dtype if jnp.issubdtype(position.dtype, jnp.floating) else jnp.float32
    position = position.astype(dtype)
    np_dtype = np.dtype(dtype)
    n, d = cfg.num_chains, position.shape[-1]
    window = cfg.init == "window"
    n_warm_blocks = 0 if window or cfg.num_warmup <= 0 else math.ceil(
        cfg.num_warmup / cfg.block_size)
    max_blocks = math.ceil(cfg.max_draws / cfg.block_size)
    n_blocks = n_warm_blocks + max_blocks
    if block is not None and devices is not None:
        raise ValueError("sample_nuts: pass devices to compile_block_ahead when giving block")
    ckpt = _as_checkpoint(checkpoint, position)
    identity = ckpt.identity(cfg, key, d, np_dtype) if ckpt else {}
    saved = ckpt.load(identity) if ckpt else None  # a wrong checkpoint fails before any work
    if ckpt:
        ckpt.loaded = None  # read once: the file moves on from here
    # compile the NUTS block (the costliest compilation) while the mode is being found
    ahead = block or compile_block_ahead(logdensity, key, d, np_dtype, cfg, observe, devices)
    mesh = ahead.mesh
    keys, block_keys, z_starts = _draw_keys(key, n_blocks, n, d, np_dtype)
    target = jnp.asarray(cfg.target_accept, dtype)
    adapt_flags = {True: jnp.asarray(True), False: jnp.asarray(False)}
    batch = batch_size(d, n)
    bar = _Progress(n_blocks * cfg.block_size, progress, desc)

    def save(run: _Run) -> None:
        if ckpt is None:
            return
        t0 = time.perf_counter()
        run.timings["total"] = previous_total + t0 - t_start
        ckpt.save(identity, run.meta(n_warm_blocks, max_blocks, cfg.block_size), run.arrays())
        run.timings["checkpoint"] = run.timings.get("checkpoint", 0.0) + (
            time.perf_counter() - t0)

    previous_total = 0.0
    resumed_from = None
    if saved is not None:
        run = _Run.from_checkpoint(saved, _observed_tree(observe, n, d, np_dtype))
        resumed_from, previous_total = run.done, run.timings.get("total", 0.0)
        if run.mode is not None:
            logger.info("mode from the checkpoint: %s", run.mode)
        phase = saved["meta"]["phase"]
        ckpt.announce(
            f"resuming from checkpoint {ckpt.npz_path}: {run.done} of at most {n_blocks} blocks "
            f"done ({min(run.done, n_warm_blocks)} warmup, "
            f"{max(run.done - n_warm_blocks, 0)} sampling; {phase}), next block {run.done}; "
            "no mode search" if phase != "finished" else
            f"checkpoint {ckpt.npz_path} holds this run finished ({run.done} blocks): "
            "nothing left to sample")
    else:
        if window:
            bar.stage("window adaptation")
            starts, step0, inv_mass = _window_starts(logdensity, position, keys, cfg,
                                                     max(cfg.num_warmup, 300), z_starts)
            mode = None
        else:
            bar.stage("finding the mode")
            mode, inv_mass, starts = _laplace_starts(logdensity, position, z_starts, cfg, scale,
                                                     batch)
            step0 = np.ones(n)
        t_mode = time.perf_counter() - t_start
        state = init(np.asarray(starts, np_dtype), logdensity, np.asarray(step0, np_dtype),
                     target_accept=cfg.target_accept, batch=batch)
        run = _Run(0, state, np.asarray(inv_mass, np_dtype), np.asarray(inv_mass, np.float64),
                   None if mode is None else np.asarray(mode),
                   timings={"mode": t_mode, "compile_wait": 0.0, "warmup": 0.0,
                            "sampling": 0.0, "checkpoint": 0.0})
        save(run)
    t0 = time.perf_counter()
    compiled = ahead.get()
    run.timings["compile_wait"] = run.timings.get("compile_wait", 0.0) + (
        time.perf_counter() - t0)

    if mesh is not None:
        rep = NamedSharding(mesh, P())
        logdensity, observe, target = _put((logdensity, observe, target), rep)
        adapt_flags = {k: _put(v, rep) for k, v in adapt_flags.items()}
    kwargs = _block_kwargs(cfg, observe, mesh)

    def run_block(number, state, imm, adapt):
        # strong dtypes everywhere, so every block matches the one compiled function
        state, imm = strong_types((state, imm))
        key_b = block_keys[number]
        if mesh is not None:
            key_b, imm = _put((key_b, imm), rep)
            state = _put(state, chain_sharding(mesh))
        state, info = compiled(key_b, state, logdensity, imm, adapt_flags[adapt], target,
                               **kwargs)
        return state, jax.tree.map(np.asarray, info)

    adapt_metric = cfg.adapt_metric and not window
    bar.advance(run.done * cfg.block_size)
    diag: dict[str, np.ndarray] = {}
    for number in range(run.done, n_blocks if not run.finished else run.done):
        t0 = time.perf_counter()
        if number < n_warm_blocks:
            bar.stage("warmup")
            state, info = run_block(number, run.state, run.metric, True)
            run.warmup_divergences += int(np.sum(info.is_divergent))
            logger.debug("warmup block %d: %.2f s, mean leapfrog steps %.1f", number,
                         time.perf_counter() - t0, float(np.mean(info.num_integration_steps)))
            bar.advance(cfg.block_size)
            if number == n_warm_blocks - 1:
                state = end_warmup(state)
                run.warmup_draws = []  # needed no more
            elif adapt_metric:
                run.warmup_draws.append(np.asarray(info.position, np.float64))
                run.metric = np.asarray(sample_metric(
                    run.warmup_draws[len(run.warmup_draws) // 2:], run.laplace_metric),
                    np_dtype)
                state = restart_step_size(state, cfg.target_accept)
            run.state = state
            run.timings["warmup"] += time.perf_counter() - t0
        else:
            run.state, info = run_block(number, run.state, run.metric, False)
            run.infos.append(info)
            bar.advance(cfg.block_size)
            drawn = (number - n_warm_blocks + 1) * cfg.block_size
            if drawn >= max(cfg.min_draws, 4):
                diag = diagnose(np.concatenate([i.position for i in run.infos],
                                               axis=0).swapaxes(0, 1))
                bar.diagnostics(diag, cfg)
                if _targets_met(diag, cfg):
                    run.finished = run.converged = True
                    run.reason = (f"targets met after {drawn} draws per chain: R̂-1 < "
                                  f"{cfg.target_rhat}, ESS >= {cfg.target_ess:g}")
            if number == n_blocks - 1 and not run.finished:
                run.finished = True
                run.reason = (f"reached max_draws = {max_blocks * cfg.block_size} per chain "
                              "before the targets")
            run.timings["sampling"] += time.perf_counter() - t0
        run.done = number + 1
        save(run)
        if run.finished:
            break
    bar.close(run.converged)
    run.timings["total"] = previous_total + time.perf_counter() - t_start
    # (steps, chains, …) blocks → (chains, draws, …)
    cat = jax.tree.map(lambda x: x.swapaxes(0, 1), run.draws())
    if not diag:
        diag = diagnose(cat.position)
    return NUTSResult(
        positions=cat.position,
        logdensity=cat.logdensity,
        divergent=cat.is_divergent,
        acceptance=cat.acceptance_rate,
        num_steps=cat.num_integration_steps,
        step_size=np.asarray(run.state.step_size),
        inverse_mass_matrix=run.metric,
        diagnostics=diag,
        converged=run.converged,
        stop_reason=run.reason,
        timings=dict(run.timings),
        mode=run.mode,
        warmup_divergences=run.warmup_divergences,
        observed=cat.observed,
        state=run.state,
        resumed_from=resumed_from,
        num_devices=1 if mesh is None else mesh.size,
    )
