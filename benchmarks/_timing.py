"""Timing helpers shared by the benchmark scripts (best-of-repeats, after a warm-up call)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
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


def best_times_interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int = 7,
                           min_seconds: float = 0.2) -> dict[str, float]:
    """Best wall time of one call of each of ``fns`` (seconds), timed round-robin.

    Each function is warmed up (compiled) first and gets its own inner count, so that one
    timing lasts about ``min_seconds``; then every round times each function once, in turn, so
    a shared machine's load hits them alike. Blocks on JAX outputs.
    """
    inner: dict[str, int] = {}
    for name, fn in fns.items():
        jax.block_until_ready(fn())
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        inner[name] = max(1, int(min_seconds / max(time.perf_counter() - t0, 1e-7)))
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[name]):
                out = fn()
            jax.block_until_ready(out)
            best[name] = min(best[name], (time.perf_counter() - t0) / inner[name])
    return best


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:12.4g}/s"
