"""DESI DR2 BAO: a Gaussian likelihood of D_V/r_d, D_M/r_d, D_H/r_d at 7 redshifts, in JAX."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from ..cosmology import OMEGA_NU_006, comoving_distance, hubble_distance

__all__ = ["DesiBAO"]

KINDS = ("DV_over_rs", "DM_over_rs", "DH_over_rs")
_FILES = ("desi_gaussian_bao_ALL_GCcomb_mean.txt", "desi_gaussian_bao_ALL_GCcomb_cov.txt")


class DesiBAO(eqx.Module):
    """DESI DR2 BAO log-likelihood −χ²/2 of (ω_b, ω_cdm, h, r_d) in flat ΛCDM.

    .. math:: χ^2 = (\\mathbf{m} - \\mathbf{d})^T C^{-1} (\\mathbf{m} - \\mathbf{d}),\\quad
              m_i ∈ \\{D_V(z_i), D_M(z_i), D_H(z_i)\\} / r_d

    Distances from :mod:`cosmoemu.cosmology` (massive neutrino ω_ν as matter); r_d [Mpc] comes
    from the theory (the derived emulator's ``rdrag``) or is sampled.

    Args:
        data_dir: directory with the DESI mean and covariance files (default: shipped).
        omega_nu: ω_ν of the massive neutrinos (default 0.06 eV).

    Raises:
        FileNotFoundError: a data file is missing (names it).
        ValueError: a quantity other than DV/DM/DH_over_rs in the mean file.
    """

    z: np.ndarray
    data: np.ndarray
    whitening: np.ndarray
    kinds: tuple[int, ...] = eqx.field(static=True)
    omega_nu: float = eqx.field(static=True)

    def __init__(self, data_dir: str | Path | None = None, omega_nu: float = OMEGA_NU_006) -> None:
        if data_dir is None:
            data_dir = Path(str(resources.files("cosmoemu.likelihoods").joinpath(
                "data", "desi_bao_dr2")))
        paths = [Path(data_dir) / f for f in _FILES]
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"DESI BAO data file '{path}' is missing")
        rows = [line.split() for line in paths[0].read_text().splitlines()
                if line.strip() and not line.startswith("#")]
        kinds = []
        for row in rows:
            if row[2] not in KINDS:
                raise ValueError(f"{paths[0]}: unknown quantity {row[2]!r}; allowed: "
                                 f"{', '.join(KINDS)}")
            kinds.append(KINDS.index(row[2]))
        cov = np.loadtxt(paths[1])
        if cov.shape != (len(rows), len(rows)):
            raise ValueError(f"{paths[1]}: shape {cov.shape} for {len(rows)} data points")
        chol = np.linalg.cholesky(cov)
        self.z = np.array([float(r[0]) for r in rows])
        self.data = np.array([float(r[1]) for r in rows])
        self.whitening = scipy.linalg.solve_triangular(chol, np.eye(len(rows)), lower=True)
        self.kinds = tuple(kinds)
        self.omega_nu = float(omega_nu)

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("omega_b", "omega_cdm", "h", "rdrag")

    def model(
        self, omega_b: ArrayLike, omega_cdm: ArrayLike, h: ArrayLike, rdrag: ArrayLike
    ) -> jax.Array:
        """The predicted data vector (distances over r_d), shape ``(n_data,)``."""
        dtype = jnp.result_type(jnp.asarray(h).dtype, jnp.float32)
        z = jnp.asarray(self.z, dtype)
        dm = comoving_distance(z, omega_b, omega_cdm, h, self.omega_nu)
        dh = hubble_distance(z, omega_b, omega_cdm, h, self.omega_nu)
        dv = jnp.cbrt(z * dm**2 * dh)
        kinds = np.asarray(self.kinds)
        out = jnp.where(kinds == 0, dv, jnp.where(kinds == 1, dm, dh))
        return out / rdrag

    def __call__(
        self, omega_b: ArrayLike, omega_cdm: ArrayLike, h: ArrayLike, rdrag: ArrayLike
    ) -> jax.Array:
        """−χ²/2 (no normalisation constant)."""
        resid = self.model(omega_b, omega_cdm, h, rdrag)
        resid = resid - jnp.asarray(self.data, resid.dtype)
        r = jnp.asarray(self.whitening, resid.dtype) @ resid
        return -0.5 * jnp.sum(r * r)

    def from_values(self, values: Mapping[str, ArrayLike]) -> jax.Array:
        return self(values["omega_b"], values["omega_cdm"], values["h"], values["rdrag"])
