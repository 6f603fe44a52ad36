"""Timing helpers shared by the benchmark scripts (best-of-repeats, after a warm-up call)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax


def best_time(fn: Callable[[], Any], repeats: int = 7, min_seconds: float = 0.2) -> float:
    """Best wall time of one call of ``fn`` (seconds), after a warm-up; blocks on JAX outputs.

    Each repeat runs ``fn`` enough times to last ``min_seconds``, so short calls are averaged.
    """
    jax.block_until_ready(fn())
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_seconds / once))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            out = fn()
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:12.4g}/s"
