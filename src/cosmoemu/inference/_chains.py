"""One type for posterior draws: :class:`Chains`, per chain, of any lengths.

Every part of cosmoemu that makes or reads draws uses it: the NUTS sampler's output
(:class:`~cosmoemu.inference.SampleResult`), the chain writer and reader
(:mod:`._chains_io`: our own files, Cobaya's and GetDist's), summaries, plots, and the evidence
code. Chains are kept as separate arrays, never padded or truncated to a common length, so a chain
cut short (a killed run) keeps every one of its draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._errors import unknown_name_message

__all__ = ["Chains"]


def _per_chain(value: Any, what: str, ndim: int) -> list[np.ndarray]:
    """One float64 array per chain from a stacked array, one chain, or a sequence of chains.

    ``ndim`` is the rank of one chain's array: 2 for ``(n_j, k)`` values, 1 for ``(n_j,)``.
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"{what} must be an array or a sequence of per-chain arrays, got a string")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None  # ragged: chains of unequal length
    if arr is not None and arr.dtype != object:
        if arr.ndim == ndim:  # one chain
            return [arr]
        if arr.ndim == ndim + 1:  # (chains, draws, ...)
            return list(arr)
        shape = ("(chains, draws, k), (draws, k) or per-chain (n_j, k)" if ndim == 2
                 else "(chains, draws), (draws,) or per-chain (n_j,)")
        raise ValueError(f"{what} must have shape {shape}, got shape {arr.shape}")
    if not isinstance(value, Sequence):
        raise TypeError(f"{what} must be an array or a sequence of per-chain arrays, got "
                        f"{type(value).__name__}")
    chains = []
    for j, item in enumerate(value):
        a = np.asarray(item, dtype=np.float64)
        if a.ndim != ndim:
            want = "(n_j, k)" if ndim == 2 else "(n_j,)"
            raise ValueError(f"{what}[{j}] (chain {j}) must have shape {want}, got {a.shape}")
        chains.append(a)
    return chains


@dataclass(frozen=True)
class Chains:
    """Weighted posterior draws of sampled and derived parameters, chain by chain.

    Every array field is a tuple with one array per chain; chain ``j`` has ``n_j`` rows and the
    lengths may differ. The constructor also takes stacked arrays (``(n_chains, n_draws, …)``),
    one chain (``(n_draws, …)``) or any sequence of per-chain arrays, and checks the shapes.

    Attributes:
        names: sampled parameter names ``(n_sampled,)``.
        samples: per chain, physical values of the sampled parameters, ``(n_j, n_sampled)``.
        minuslogpost: per chain, :math:`-(\\ln L + \\ln\\pi)` with the prior normalised in the
            sampled parameters, ``(n_j,)`` (Cobaya's ``minuslogpost`` column).
        weights: per chain, ``(n_j,)`` (ones for MCMC draws; repeat counts for Metropolis
            chains; any non-negative numbers for importance-weighted ones). Default ones.
        derived_names: derived parameter names ``(n_derived,)``.
        derived: per chain, ``(n_j, n_derived)`` (default: no derived parameters).
        labels: name → LaTeX label (no ``$``).
        sources: per chain, where it was read from (file names), for messages; may be empty.

    Example:
        >>> import numpy as np
        >>> ch = Chains(("a",), np.zeros((2, 5, 1)), np.zeros((2, 5)))
        >>> ch.n_chains, ch.lengths, ch.column("a").shape
        (2, [5, 5], (2, 5))
    """

    names: tuple[str, ...]
    samples: tuple[np.ndarray, ...]
    minuslogpost: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...] | None = None
    derived_names: tuple[str, ...] = ()
    derived: tuple[np.ndarray, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: normalise the fields once, here
        names = tuple(str(n) for n in self.names)
        dnames = tuple(str(n) for n in self.derived_names)
        put(self, "names", names)
        put(self, "derived_names", dnames)
        dup = sorted({n for n in names + dnames if (names + dnames).count(n) > 1})
        if dup:
            raise ValueError(f"parameter names appear twice: {', '.join(dup)}")
        samples = _per_chain(self.samples, "samples", 2)
        if not samples:
            raise ValueError("samples is empty: give at least one chain")
        n = len(samples)
        mlp = _per_chain(self.minuslogpost, "minuslogpost", 1)
        weights = ([np.ones(len(s)) for s in samples] if self.weights is None
                   else _per_chain(self.weights, "weights", 1))
        derived = ([np.zeros((len(s), 0)) for s in samples] if self.derived is None
                   else _per_chain(self.derived, "derived", 2))
        for what, arrays in (("minuslogpost", mlp), ("weights", weights), ("derived", derived)):
            if len(arrays) != n:
                raise ValueError(f"samples has {n} chains but {what} has {len(arrays)}")
        for j in range(n):
            rows = samples[j].shape[0]
            if samples[j].shape[1] != len(names):
                raise ValueError(f"chain {j}: samples have {samples[j].shape[1]} columns for "
                                 f"{len(names)} sampled names {names}")
            if derived[j].shape != (rows, len(dnames)):
                if derived[j].size == 0 and not dnames:
                    derived[j] = np.zeros((rows, 0))
                else:
                    raise ValueError(f"chain {j}: derived has shape {derived[j].shape}, expected "
                                     f"({rows}, {len(dnames)})")
            for what, arrays in (("minuslogpost", mlp), ("weights", weights)):
                if arrays[j].shape != (rows,):
                    raise ValueError(f"chain {j}: {rows} samples but {arrays[j].shape[0]} "
                                     f"{what} values")
        put(self, "samples", tuple(samples))
        put(self, "minuslogpost", tuple(mlp))
        put(self, "weights", tuple(weights))
        put(self, "derived", tuple(derived))
        put(self, "labels", dict(self.labels))
        put(self, "sources", tuple(str(s) for s in self.sources))
        if self.sources and len(self.sources) != n:
            raise ValueError(f"{len(self.sources)} sources for {n} chains")

    # ----------------------------------------------------------------------------- sizes
    @property
    def all_names(self) -> tuple[str, ...]:
        """Sampled then derived names."""
        return self.names + self.derived_names

    @property
    def dim(self) -> int:
        """Number of sampled parameters."""
        return len(self.names)

    @property
    def n_chains(self) -> int:
        return len(self.samples)

    @property
    def lengths(self) -> list[int]:
        """Rows per chain."""
        return [int(s.shape[0]) for s in self.samples]

    @property
    def equal_lengths(self) -> bool:
        return len(set(self.lengths)) == 1

    # ----------------------------------------------------------------------------- values
    @property
    def log_posterior(self) -> tuple[np.ndarray, ...]:
        """Per chain, :math:`\\ln L + \\ln\\pi` (``−minuslogpost``), ``(n_j,)``."""
        return tuple(-m for m in self.minuslogpost)

    @property
    def values(self) -> tuple[np.ndarray, ...]:
        """Per chain, sampled and derived values side by side, ``(n_j, n_sampled + n_derived)``."""
        return tuple(np.concatenate([s, d], axis=1)
                     for s, d in zip(self.samples, self.derived, strict=True))

    def _index(self, name: str) -> int:
        if name not in self.all_names:
            raise KeyError(unknown_name_message("parameter", name, self.all_names))
        return self.all_names.index(name)

    def per_chain(self, name: str) -> tuple[np.ndarray, ...]:
        """Draws of one parameter, one ``(n_j,)`` array per chain."""
        i = self._index(name)
        k = len(self.names)
        return tuple(s[:, i] if i < k else d[:, i - k]
                     for s, d in zip(self.samples, self.derived, strict=True))

    def column(self, name: str) -> np.ndarray:
        """Draws of one parameter as one ``(n_chains, n_draws)`` array.

        Raises:
            ValueError: the chains have unequal lengths (use :meth:`per_chain` or :meth:`flat`).
        """
        self._require_equal(f"column({name!r})")
        return np.stack(self.per_chain(name))

    def flat(self, name: str | None = None) -> np.ndarray:
        """All chains one after the other: ``(N,)`` for ``name``, else ``(N, n_all)``."""
        if name is None:
            return np.concatenate(self.values)
        return np.concatenate(self.per_chain(name))

    @property
    def flat_weights(self) -> np.ndarray:
        """Weights of :meth:`flat`'s rows, ``(N,)``."""
        return np.concatenate(self.weights)

    @property
    def flat_minuslogpost(self) -> np.ndarray:
        """``minuslogpost`` of :meth:`flat`'s rows, ``(N,)``."""
        return np.concatenate(self.minuslogpost)

    def _require_equal(self, what: str) -> None:
        if not self.equal_lengths:
            raise ValueError(f"{what} needs chains of equal length, these have lengths "
                             f"{self.lengths}; use per_chain() or flat(), or drop the short "
                             "chains")

    # ----------------------------------------------------------------------------- new chains
    def select(self, params: Sequence[str]) -> Chains:
        """The same draws with ``params`` (in that order) as the sampled parameters.

        Every other column becomes derived, in its present order. Use it to name the sampled
        parameters of files that do not say which they are, or to give the evidence a subset.

        Raises:
            ValueError: an unknown name (with the closest known one) or a repeated one.
        """
        params = [str(p) for p in params]
        if not params:
            raise ValueError("select() needs at least one parameter name")
        for p in params:
            if p not in self.all_names:
                raise ValueError(unknown_name_message("parameter", p, self.all_names))
        if len(set(params)) != len(params):
            raise ValueError(f"select(): a parameter is named twice in {params}")
        idx = [self.all_names.index(p) for p in params]
        rest = [i for i in range(len(self.all_names)) if i not in idx]
        values = self.values
        return replace(
            self,
            names=tuple(params),
            samples=tuple(v[:, idx] for v in values),
            derived_names=tuple(self.all_names[i] for i in rest),
            derived=tuple(v[:, rest] for v in values),
        )

    def rows(self, keep: Sequence[slice | np.ndarray]) -> Chains:
        """A :class:`Chains` with ``keep[j]`` (slice or index/mask array) of chain ``j``'s rows."""
        if len(keep) != self.n_chains:
            raise ValueError(f"{len(keep)} row selections for {self.n_chains} chains")
        def take(arrays):
            return tuple(a[k] for a, k in zip(arrays, keep, strict=True))
        return replace(self, samples=take(self.samples), minuslogpost=take(self.minuslogpost),
                       weights=take(self.weights), derived=take(self.derived))

    def drop_burn_in(self, fraction: float) -> Chains:
        """Drop the first ``fraction`` (in [0, 1)) of the rows of every chain."""
        if not 0 <= fraction < 1:
            raise ValueError(f"burn_in must be a fraction in [0, 1), got {fraction!r}")
        if fraction == 0:
            return self
        return self.rows([slice(int(math.floor(fraction * n)), None) for n in self.lengths])
