"""DESI DR2 BAO: a Gaussian likelihood of D_V/r_d, D_M/r_d, D_H/r_d at 7 redshifts, in JAX."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from .._config import check_keys, get
from .._errors import ConfigError
from ..cosmology import Cosmology, hubble_distance, transverse_comoving_distance
from ._base import COSMOLOGY, register_likelihood

__all__ = ["DesiBAO"]

KINDS = ("DV_over_rs", "DM_over_rs", "DH_over_rs")
_FILES = ("desi_gaussian_bao_ALL_GCcomb_mean.txt", "desi_gaussian_bao_ALL_GCcomb_cov.txt")


class DesiBAO(eqx.Module):
    """DESI DR2 BAO log-likelihood −χ²/2 of a :class:`~cosmoemu.cosmology.Cosmology` and r_d.

    .. math:: χ^2 = (\\mathbf{m} - \\mathbf{d})^T C^{-1} (\\mathbf{m} - \\mathbf{d}),\\quad
              m_i ∈ \\{D_V(z_i), D_M(z_i), D_H(z_i)\\} / r_d

    Distances from :mod:`cosmoemu.cosmology` (massive neutrinos, w0wa dark energy: whatever the
    Cosmology holds); r_d [Mpc] comes from the theory (the derived emulator's ``rdrag``) or is
    sampled.

    Args:
        data_dir: directory with the DESI mean and covariance files (default: shipped).

    Raises:
        FileNotFoundError: a data file is missing (names it).
        ValueError: a quantity other than DV/DM/DH_over_rs in the mean file.
    """

    z: np.ndarray
    data: np.ndarray
    whitening: np.ndarray
    kinds: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, data_dir: str | Path | None = None) -> None:
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

    @property
    def products(self) -> dict[str, dict]:
        """The Cosmology (no axes)."""
        return {COSMOLOGY: {}}

    @property
    def params(self) -> tuple[str, ...]:
        """``rdrag``: the sound horizon at the drag epoch [Mpc]."""
        return ("rdrag",)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*self.products, *self.params)

    def model(self, cosmology: Cosmology, rdrag: ArrayLike) -> jax.Array:
        """The predicted data vector (distances over r_d), shape ``(n_data,)``."""
        dtype = jnp.result_type(cosmology.h.dtype, jnp.float32)
        z = jnp.asarray(self.z, dtype)
        dm = transverse_comoving_distance(cosmology, z)
        dh = hubble_distance(cosmology, z)
        dv = jnp.cbrt(z * dm**2 * dh)
        kinds = np.asarray(self.kinds)
        out = jnp.where(kinds == 0, dv, jnp.where(kinds == 1, dm, dh))
        return out / rdrag

    def loglike(self, cosmology: Cosmology, rdrag: ArrayLike) -> jax.Array:
        """−χ²/2 (no normalisation constant) of a Cosmology and r_d [Mpc]."""
        resid = self.model(cosmology, rdrag)
        resid = resid - jnp.asarray(self.data, resid.dtype)
        r = jnp.asarray(self.whitening, resid.dtype) @ resid
        return -0.5 * jnp.sum(r * r)

    def __call__(
        self, omega_b: ArrayLike, omega_cdm: ArrayLike, h: ArrayLike, rdrag: ArrayLike
    ) -> jax.Array:
        """−χ²/2 in flat ΛCDM with the default neutrinos (:meth:`Cosmology.from_params`)."""
        cosmo = Cosmology.from_params({"omega_b": omega_b, "omega_cdm": omega_cdm, "h": h})
        return self.loglike(cosmo, rdrag)

    def from_values(self, values: Mapping[str, Any]) -> jax.Array:
        """−χ²/2 from ``values["cosmology"]`` and ``values["rdrag"]``."""
        return self.loglike(values[COSMOLOGY], values["rdrag"])


def _from_config(cfg: Mapping[str, Any], where: str) -> DesiBAO:
    check_keys(cfg, ("data_dir",), where)
    try:
        return DesiBAO(get(cfg, "data_dir", str, None, where=where))
    except FileNotFoundError as err:
        field = f"{where}.data_dir" if "data_dir" in cfg else where
        raise ConfigError(field, str(err)) from err


register_likelihood("desi_dr2_bao", _from_config)
