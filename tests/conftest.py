"""Shared test configuration."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def strict_promotion():
    """Strict dtype promotion: catches silent float32/float64 mixing in the code under test."""
    with jax.numpy_dtype_promotion("strict"):
        yield


@pytest.fixture
def x64():
    """Run the test body with float64 enabled."""
    with jax.enable_x64(True):
        yield
