"""Stand-in emulators for the inference tests (the interface of cosmoemu.Emulator).

``LinearEmulator`` predicts C_ell(θ) = C_fid(ell) · (1 + Σ_i s_i(ell) (θ_i − θ_fid,i)/w_i):
linear in the parameters, exactly the Planck 2015 best-fit spectrum shipped with plik_lite at
θ_fid, so a Planck posterior built on it has a closed-form (generalised least squares) answer.
Tests get them through fixtures (``cmb_standins``, ``fid``), never by importing this file.
"""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from cosmoemu.inference import T_CMB

PARAMS = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
BOX = {
    "omega_b": (0.019, 0.026),
    "omega_cdm": (0.08, 0.17),
    "h": (0.55, 0.85),
    "tau_reio": (0.02, 0.12),
    "n_s": (0.88, 1.06),
    "ln10^{10}A_s": (2.7, 3.3),
}
FID = np.array([0.02225, 0.1198, 0.6727, 0.06, 0.9645, 3.05])
DL_FILE = Path(__file__).parents[1] / "likelihoods" / "data" / "Dl_planck2015fit.dat"


class LinearEmulator(eqx.Module):
    """Stand-in emulator: linear response around a fiducial vector of modes."""

    parameters: tuple[str, ...] = eqx.field(static=True)
    box_items: tuple[tuple[str, float, float], ...] = eqx.field(static=True)
    mode_values: tuple = eqx.field(static=True)
    fid: np.ndarray
    base: np.ndarray
    slopes: np.ndarray  # (n_params, n_modes), per unit of x/width

    @property
    def box(self) -> dict[str, tuple[float, float]]:
        return {p: (lo, hi) for p, lo, hi in self.box_items}

    @property
    def modes(self) -> np.ndarray:
        return np.asarray(self.mode_values)

    def _x(self, x):
        if isinstance(x, dict):
            x = jnp.stack([jnp.asarray(x[p]) for p in self.parameters], -1)
        return jnp.asarray(x)

    def in_box(self, x):
        x = self._x(x)
        lo = jnp.asarray([b[1] for b in self.box_items])
        hi = jnp.asarray([b[2] for b in self.box_items])
        return jnp.all((x >= lo) & (x <= hi), axis=-1)

    def predict(self, x, policy: str = "raise"):
        x = self._x(x)
        width = jnp.asarray([b[2] - b[1] for b in self.box_items], x.dtype)
        dx = (x - jnp.asarray(self.fid, x.dtype)) / width
        y = jnp.asarray(self.base, x.dtype) * (1.0 + dx @ jnp.asarray(self.slopes, x.dtype))
        if policy == "nan":
            y = jnp.where(self.in_box(x)[..., None], y, jnp.nan)
        return y


def _box_items():
    return tuple((p, *BOX[p]) for p in PARAMS)


def make_cmb_standins() -> dict[str, LinearEmulator]:
    """cmb_tt/te/ee stand-ins reproducing Dl_planck2015fit.dat at FID, plus a derived one."""
    ref = np.loadtxt(DL_FILE)
    ell = ref[:, 0]
    to_cl = 2 * np.pi / (ell * (ell + 1)) / (T_CMB * 1e6) ** 2
    x = ell / 2508.0
    # smooth, distinct responses per parameter (fractional change per box width)
    shapes = 4.0 * np.stack([
        0.30 * np.sin(6 * x) + 0.05,
        -0.40 * np.cos(4 * x) + 0.1 * x,
        0.20 * np.sin(9 * x + 1.0),
        -0.35 * np.exp(-ell / 40.0) - 0.12,
        0.50 * (np.log(ell / 500.0) / 3.0),
        0.45 + 0.0 * x,
    ])
    emus = {}
    for k, (key, col) in enumerate((("cmb_tt", 1), ("cmb_te", 2), ("cmb_ee", 3))):
        slopes = shapes * (1.0 + 0.3 * k)
        emus[key] = LinearEmulator(PARAMS, _box_items(), tuple(int(e) for e in ell), FID,
                                   ref[:, col] * to_cl, slopes)
    emus["derived"] = make_derived_standin()
    return emus


def make_derived_standin() -> LinearEmulator:
    """sigma8, thetastar (=100θ*) and rdrag [Mpc] linear in the parameters."""
    base = np.array([0.81, 1.0411, 147.1])
    slopes = np.array([[0.01, -0.002, -0.05], [0.30, -0.01, -0.15], [0.05, 0.04, 0.0],
                       [0.0, 0.0, 0.0], [0.02, 0.0, 0.0], [0.08, 0.0, 0.0]])
    return LinearEmulator(PARAMS, _box_items(), ("sigma8", "thetastar", "rdrag"), FID, base,
                          slopes)


@pytest.fixture(scope="session")
def cmb_standins() -> dict[str, LinearEmulator]:
    return make_cmb_standins()


@pytest.fixture(scope="session")
def fid() -> np.ndarray:
    """The stand-ins' fiducial parameters, in the emulators' order (omega_b … ln10^{10}A_s)."""
    return FID.copy()
