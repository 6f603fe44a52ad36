"""Stand-in emulators for the theory tests (the emulator interface), given through ``kit``."""

from __future__ import annotations

from types import SimpleNamespace

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

PARAMS = ("omega_b", "omega_cdm", "h")
BOX = {"omega_b": (0.019, 0.026), "omega_cdm": (0.08, 0.17), "h": (0.55, 0.85)}


class Standin(eqx.Module):
    """y = base · (1 + slopes · (x − fid)); modes given (numbers or names)."""

    parameters: tuple[str, ...] = eqx.field(static=True)
    mode_values: tuple = eqx.field(static=True)
    mode_label: str = eqx.field(static=True)
    base: np.ndarray
    slopes: np.ndarray

    @property
    def box(self):
        return BOX

    @property
    def modes(self):
        return np.asarray(self.mode_values)

    def predict(self, x, policy="raise"):
        x = jnp.asarray(x)
        dx = x - jnp.asarray([0.0224, 0.12, 0.67], x.dtype)
        return jnp.asarray(self.base, x.dtype) * (1 + dx @ jnp.asarray(self.slopes, x.dtype))


def standin(modes, label="mode", seed=0):
    rng = np.random.default_rng(seed)
    n = len(modes)
    modes = tuple(m.item() if hasattr(m, "item") else m for m in modes)
    return Standin(PARAMS, modes, label, 1.0 + rng.random(n), rng.normal(size=(3, n)))


def derived():
    return Standin(PARAMS, ("sigma8", "rdrag"), "name", np.array([0.81, 147.1]),
                   np.array([[0.0, -30.0], [1.0, -200.0], [0.5, 0.0]]))


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """PARAMS, BOX, ``standin(modes, label, seed)`` and ``derived()`` (sigma8, rdrag)."""
    return SimpleNamespace(PARAMS=PARAMS, BOX=BOX, standin=standin, derived=derived)
