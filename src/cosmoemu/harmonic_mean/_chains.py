"""Posterior chains of any length: checked input, burn-in, training/evaluation split, blocks.

Chains are kept as separate arrays, never padded or truncated to a common length, so chains of
unequal length enter every sum with exactly their own samples.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Chains", "as_chains", "make_blocks"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chains:
    """Posterior samples from one or more chains.

    Attributes:
        samples: per chain, the sampled parameters, float64 ``(n_j, dim)``.
        log_posterior: per chain, :math:`\\ln L + \\ln\\pi` (prior normalised), ``(n_j,)``.
        counts: per chain, integer weights (MCMC repeat counts) >= 1, ``(n_j,)``.
        names: parameter names, or None.
    """

    samples: tuple[np.ndarray, ...]
    log_posterior: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    names: tuple[str, ...] | None = None

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return int(self.samples[0].shape[1])

    @property
    def n_chains(self) -> int:
        """Number of chains."""
        return len(self.samples)

    @property
    def lengths(self) -> list[int]:
        """Rows per chain."""
        return [int(s.shape[0]) for s in self.samples]

    @property
    def n_samples(self) -> int:
        """Total weight (rows times their repeat counts)."""
        return int(sum(int(c.sum()) for c in self.counts))

    def drop_burn_in(self, fraction: float) -> Chains:
        """Drop the first ``fraction`` of the rows of every chain."""
        if not 0 <= fraction < 1:
            raise ValueError(f"burn_in must be a fraction in [0, 1), got {fraction!r}")
        if fraction == 0:
            return self
        cut = [int(math.floor(fraction * n)) for n in self.lengths]
        return replace(
            self,
            samples=tuple(s[k:] for s, k in zip(self.samples, cut, strict=True)),
            log_posterior=tuple(p[k:] for p, k in zip(self.log_posterior, cut, strict=True)),
            counts=tuple(c[k:] for c, k in zip(self.counts, cut, strict=True)),
        )

    def split(self, training_fraction: float) -> tuple[np.ndarray, Chains]:
        """The first ``training_fraction`` of each chain's rows, and the rest as chains.

        Returns:
            ``(train, evaluate)``: the training samples with repeated rows expanded, float64
            ``(n_train, dim)``, and the remaining rows of every chain.
        """
        if not 0 < training_fraction < 1:
            raise ValueError(f"training_fraction must be in (0, 1), got {training_fraction!r}")
        cut = [min(int(math.floor(training_fraction * n)), n - 1) for n in self.lengths]
        pieces = zip(self.samples, self.counts, cut, strict=True)
        train = np.concatenate([np.repeat(s[:k], c[:k], axis=0) for s, c, k in pieces])
        rest = replace(
            self,
            samples=tuple(s[k:] for s, k in zip(self.samples, cut, strict=True)),
            log_posterior=tuple(p[k:] for p, k in zip(self.log_posterior, cut, strict=True)),
            counts=tuple(c[k:] for c, k in zip(self.counts, cut, strict=True)),
        )
        return train, rest


def _as_list(value, name: str, ndim: int) -> list[np.ndarray]:
    """One array per chain, from a stacked array or a sequence of per-chain arrays."""
    if isinstance(value, str | bytes):
        raise TypeError(f"{name} must be an array or a sequence of per-chain arrays, got a string")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None  # ragged: chains of unequal length
    if arr is not None:
        if arr.ndim == ndim:  # a single chain
            return [arr]
        if arr.ndim == ndim + 1:  # (chains, samples, ...)
            return list(arr)
        shape = "(chains, samples, dim) or (samples, dim)" if ndim == 2 else (
            "(chains, samples) or (samples,)"
        )
        raise ValueError(f"{name} must have shape {shape}, got shape {arr.shape}")
    if not isinstance(value, Sequence):
        raise TypeError(
            f"{name} must be an array or a sequence of per-chain arrays, got {type(value).__name__}"
        )
    chains = []
    for j, item in enumerate(value):
        arr = np.asarray(item, dtype=np.float64)
        if arr.ndim != ndim:
            want = "(samples, dim)" if ndim == 2 else "(samples,)"
            raise ValueError(f"{name}[{j}] (chain {j}) must have shape {want}, got {arr.shape}")
        chains.append(arr)
    if not chains:
        raise ValueError(f"{name} is empty: give at least one chain")
    return chains


def as_chains(samples, log_posterior, weights=None, names=None) -> Chains:
    """Check and normalise posterior chains given as arrays.

    Args:
        samples: ``(chains, samples, dim)``, ``(samples, dim)`` for one chain, or a sequence of
            ``(n_j, dim)`` arrays (chains of unequal length).
        log_posterior: :math:`\\ln L + \\ln\\pi` at each sample, with the prior normalised in the
            sampled parameters: ``(chains, samples)``, ``(samples,)`` or a sequence of ``(n_j,)``.
        weights: optional integer weights (repeat counts), same layout as ``log_posterior``.
            Rows of weight 0 are dropped. Non-integer weights are refused.
        names: optional parameter names, ``dim`` of them.

    Raises:
        ValueError: on mismatched shapes, non-finite values or non-integer weights; the message
            names the chain and row.
    """
    xs = _as_list(samples, "samples", 2)
    lps = _as_list(log_posterior, "log_posterior", 1)
    if len(xs) != len(lps):
        raise ValueError(f"samples has {len(xs)} chains but log_posterior has {len(lps)}")
    ws = _as_list(weights, "weights", 1) if weights is not None else [None] * len(xs)
    if len(ws) != len(xs):
        raise ValueError(f"samples has {len(xs)} chains but weights has {len(ws)}")
    dim = xs[0].shape[1]
    out_x, out_lp, out_c = [], [], []
    for j, (x, lp, w) in enumerate(zip(xs, lps, ws, strict=True)):
        if x.shape[1] != dim:
            raise ValueError(f"chain {j} has {x.shape[1]} parameters, chain 0 has {dim}")
        if lp.shape[0] != x.shape[0]:
            raise ValueError(
                f"chain {j}: {x.shape[0]} samples but {lp.shape[0]} log_posterior values"
            )
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        if bad.size:
            raise ValueError(f"chain {j}: non-finite parameter values in rows {bad[:5].tolist()}")
        bad = np.flatnonzero(~np.isfinite(lp))
        if bad.size:
            raise ValueError(
                f"chain {j}: log_posterior is {float(lp[bad[0]])} in rows {bad[:5].tolist()}; "
                "posterior samples must have a finite log posterior"
            )
        counts = _counts(w, x.shape[0], j)
        keep = counts > 0
        if not np.all(keep):
            logger.info("chain %d: dropping %d rows of weight 0", j, int((~keep).sum()))
            x, lp, counts = x[keep], lp[keep], counts[keep]
        if x.shape[0] == 0:
            raise ValueError(f"chain {j} has no samples")
        out_x.append(x)
        out_lp.append(lp)
        out_c.append(counts)
    if names is not None:
        names = tuple(str(n) for n in names)
        if len(names) != dim:
            raise ValueError(f"{len(names)} parameter names for {dim} parameters")
    return Chains(tuple(out_x), tuple(out_lp), tuple(out_c), names)


def _counts(w: np.ndarray | None, n: int, j: int) -> np.ndarray:
    if w is None:
        return np.ones(n, dtype=np.int64)
    if w.shape[0] != n:
        raise ValueError(f"chain {j}: {n} samples but {w.shape[0]} weights")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"chain {j}: weights must be finite and >= 0")
    rounded = np.rint(w)
    bad = np.flatnonzero(np.abs(w - rounded) > 1e-6 * np.maximum(1.0, rounded))
    if bad.size:
        raise ValueError(
            f"chain {j}: non-integer weight {float(w[bad[0]])!r} in row {int(bad[0])}. The "
            "harmonic-mean error needs samples drawn from the posterior, so only integer "
            "repeat counts (MCMC weights) are accepted; resample importance-weighted chains "
            "(e.g. nested sampling output) to equal weights first"
        )
    return rounded.astype(np.int64)


def make_blocks(
    counts: Sequence[np.ndarray], min_blocks: int = 50, min_block_size: int = 100
) -> np.ndarray:
    """Block index of every row of the concatenated chains, for the error estimate.

    Each chain is one block when there are at least ``min_blocks`` chains; otherwise every chain
    is cut into ``ceil(min_blocks / n_chains)`` contiguous blocks of about equal weight, but none
    lighter than ``min_block_size`` (so that blocks stay longer than the autocorrelation of an
    MCMC chain). Blocks never span two chains.

    Args:
        counts: per chain, the integer weights of its rows.
        min_blocks: the number of blocks to reach by cutting chains.
        min_block_size: the least weight of a block made by cutting a chain.

    Returns:
        int array over all rows, values ``0 .. B-1``.
    """
    per_chain = max(1, math.ceil(min_blocks / len(counts)))
    ids, offset = [], 0
    for c in counts:
        total = int(c.sum())
        k = max(1, min(per_chain, total // max(min_block_size, 1), c.shape[0]))
        before = np.cumsum(c) - c  # weight before each row
        local = np.floor(k * before / total).astype(np.int64)
        _, local = np.unique(local, return_inverse=True)
        ids.append(local + offset)
        offset += int(local.max()) + 1
    return np.concatenate(ids)
