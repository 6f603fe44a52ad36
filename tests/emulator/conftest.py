"""Small emulators trained once per session on an analytic family of damped oscillations."""

from __future__ import annotations

import pytest
from emu_analytic import BOX, NAMES, X_GRID, damped, sample_box

from cosmoemu.emulator import Stage, train_emulator

STAGES = (Stage(3e-3, 32, 80, 15), Stage(5e-4, 128, 80, 15))


@pytest.fixture(scope="session")
def analytic_data():
    x = sample_box(800, seed=1)
    return x, damped(x)


@pytest.fixture(scope="session")
def dense_result(analytic_data):
    x, y = analytic_data
    return train_emulator(
        x,
        y,
        parameters=NAMES,
        modes=X_GRID,
        box=BOX,
        kind="dense",
        log10=True,
        factor={"log": {"A": 1.0}},
        hidden=(48, 48),
        stages=STAGES,
        seed=3,
        progress=False,
    )


@pytest.fixture(scope="session")
def pca_result(analytic_data):
    x, y = analytic_data
    return train_emulator(
        x,
        y,
        parameters=NAMES,
        modes=X_GRID,
        box=BOX,
        kind="pca",
        pca_tol=2e-3,
        log10=True,
        factor={"log": {"A": 1.0}},
        hidden=(48, 48),
        stages=STAGES,
        seed=3,
        progress=False,
    )
