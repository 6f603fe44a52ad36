"""Posterior chains for the evidence: checked input, training/evaluation split, blocks.

The chains are the one :class:`~cosmoemu.inference.Chains` type of cosmoemu, per chain and of
any lengths, never padded or truncated to a common length, so chains of unequal length enter
every sum with exactly their own samples. The harmonic mean needs more of them than other uses
do: finite values and log posteriors, and integer weights (repeat counts), see
:func:`usable_chains`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from ..inference._chains import Chains, _per_chain

__all__ = ["as_chains", "counts", "make_blocks", "split_chains", "usable_chains"]

logger = logging.getLogger(__name__)


def as_chains(samples, log_posterior, weights=None, names=None) -> Chains:
    """Check and normalise posterior chains given as arrays.

    Args:
        samples: ``(chains, samples, dim)``, ``(samples, dim)`` for one chain, or a sequence of
            ``(n_j, dim)`` arrays (chains of unequal length).
        log_posterior: :math:`\\ln L + \\ln\\pi` at each sample, with the prior normalised in the
            sampled parameters: ``(chains, samples)``, ``(samples,)`` or a sequence of ``(n_j,)``.
        weights: optional integer weights (repeat counts), same layout as ``log_posterior``.
            Rows of weight 0 are dropped. Non-integer weights are refused.
        names: optional parameter names, ``dim`` of them (default ``param1``, ``param2``, …).

    Raises:
        ValueError: on mismatched shapes, non-finite values or non-integer weights; the message
            names the chain and row.
    """
    xs = _per_chain(samples, "samples", 2)
    lps = _per_chain(log_posterior, "log_posterior", 1)
    if len(xs) != len(lps):
        raise ValueError(f"samples has {len(xs)} chains but log_posterior has {len(lps)}")
    ws = _per_chain(weights, "weights", 1) if weights is not None else None
    if ws is not None and len(ws) != len(xs):
        raise ValueError(f"samples has {len(xs)} chains but weights has {len(ws)}")
    dim = xs[0].shape[1]
    for j, (x, lp) in enumerate(zip(xs, lps, strict=True)):
        if x.shape[1] != dim:
            raise ValueError(f"chain {j} has {x.shape[1]} parameters, chain 0 has {dim}")
        if lp.shape[0] != x.shape[0]:
            raise ValueError(
                f"chain {j}: {x.shape[0]} samples but {lp.shape[0]} log_posterior values")
        if ws is not None and ws[j].shape[0] != x.shape[0]:
            raise ValueError(f"chain {j}: {x.shape[0]} samples but {ws[j].shape[0]} weights")
    if names is None:
        names = tuple(f"param{i + 1}" for i in range(dim))
    elif len(names) != dim:
        raise ValueError(f"{len(names)} parameter names for {dim} parameters")
    chains = Chains(names=tuple(names), samples=xs, minuslogpost=[-lp for lp in lps],
                    weights=ws)
    return usable_chains(chains)


def _where(chains: Chains, j: int) -> str:
    return f"chain {j} ({chains.sources[j]})" if chains.sources else f"chain {j}"


def usable_chains(chains: Chains) -> Chains:
    """Check that ``chains`` suit the harmonic mean; drop rows of weight 0.

    Raises:
        ValueError: non-finite parameter values or log posteriors, weights that are not
            non-negative integers (repeat counts), or a chain with no rows of positive weight;
            the message names the chain (and its file) and the rows.
    """
    keep = []
    for j, (x, mlp, w) in enumerate(zip(chains.samples, chains.minuslogpost, chains.weights,
                                        strict=True)):
        where = _where(chains, j)
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        if bad.size:
            raise ValueError(f"{where}: non-finite parameter values in rows {bad[:5].tolist()}")
        bad = np.flatnonzero(~np.isfinite(mlp))
        if bad.size:
            raise ValueError(
                f"{where}: log_posterior is {float(-mlp[bad[0]])} in rows {bad[:5].tolist()}; "
                "posterior samples must have a finite log posterior")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{where}: weights must be finite and >= 0")
        rounded = np.rint(w)
        bad = np.flatnonzero(np.abs(w - rounded) > 1e-6 * np.maximum(1.0, rounded))
        if bad.size:
            raise ValueError(
                f"{where}: non-integer weight {float(w[bad[0]])!r} in row {int(bad[0])}. The "
                "harmonic-mean error needs samples drawn from the posterior, so only integer "
                "repeat counts (MCMC weights) are accepted; resample importance-weighted chains "
                "(e.g. nested sampling output) to equal weights first")
        positive = rounded > 0
        if not np.any(positive):
            raise ValueError(f"{where} has no samples")
        if not np.all(positive):
            logger.info("%s: dropping %d rows of weight 0", where, int((~positive).sum()))
        keep.append(positive)
    if all(np.all(k) for k in keep):
        return chains
    return chains.rows(keep)


def counts(chains: Chains) -> tuple[np.ndarray, ...]:
    """Per chain, the weights as integer repeat counts (of :func:`usable_chains`' output)."""
    return tuple(np.rint(w).astype(np.int64) for w in chains.weights)


def split_chains(chains: Chains, training_fraction: float) -> tuple[np.ndarray, Chains]:
    """The first ``training_fraction`` of each chain's rows, and the rest as chains.

    Returns:
        ``(train, evaluate)``: the training samples with repeated rows expanded, float64
        ``(n_train, dim)``, and the remaining rows of every chain.
    """
    if not 0 < training_fraction < 1:
        raise ValueError(f"training_fraction must be in (0, 1), got {training_fraction!r}")
    cut = [min(int(math.floor(training_fraction * n)), n - 1) for n in chains.lengths]
    train = np.concatenate([np.repeat(s[:k], c[:k], axis=0)
                            for s, c, k in zip(chains.samples, counts(chains), cut, strict=True)])
    return train, chains.rows([slice(k, None) for k in cut])


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
