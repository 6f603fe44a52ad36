"""Tomographic cosmic shear C_ℓ: a Gaussian likelihood for survey forecasts and mock analyses.

The data vector is the binned shear spectra of every pair i ≤ j (row-major), ℓ within,
``(n_pairs · n_ell,)`` — :class:`~cosmoemu.cosmology.ShearSpectra` at the geometric centres of
log-spaced ℓ bins — with the Gaussian covariance of :func:`~cosmoemu.cosmology.
gaussian_cl_covariance` (shape noise σ_e²/n̄_i, f_sky; block-diagonal in ℓ) evaluated at the
mock's parameters. Noise-free mock data: the model at given parameters. The redshift
distributions are equipopulated photometric bins of a Smail parent (:data:`~cosmoemu.cosmology.
SURVEYS`).

Config:

.. code-block:: yaml

    likelihood:
      shear_cl:
        survey: euclid             # or {z0: .., alpha: .., sigma0: .., n_bins: ..}
        n_gal: 30                  # galaxies per arcmin², split equally among the bins
        sigma_e: 0.30              # per component
        f_sky: 0.3636
        ell: {min: 10, max: 5000, n_bins: 30}
        model: lcdm                # or w0wacdm (then w0, wa are parameters)
        mock: {omega_b: 0.0224, ..., A_IA: [0.9, ..., 0.0], dz: 0.0, m: 0.01}

Parameters read: the P(k) names (omega_b, omega_cdm, h, n_s, ln10^{10}A_s, c_min, eta_0; w0 and
wa for w0waCDM) and per bin A_IA_i, dz_i, m_i.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._config import check_keys, get
from .._errors import ConfigError
from .._linalg import inverse_cholesky
from ._base import register_likelihood

__all__ = ["ShearClLikelihood", "survey_nz"]

_PK_NAMES = {"lcdm": ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s", "c_min", "eta_0"),
             "w0wacdm": ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s", "c_min", "eta_0",
                         "w0", "wa")}
_PER_BIN = ("A_IA", "dz", "m")
_Z_GRID = np.linspace(0.0, 4.0, 401)


def survey_nz(survey: str | Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(z ``(401,)`` on [0, 4], n_i(z) ``(n_bins, 401)``) of a survey: equipopulated
    photometric bins of a Smail parent z² exp[−(z/z0)^α] with Gaussian photo-z scatter
    σ0 (1 + z). ``survey``: a :data:`~cosmoemu.cosmology.SURVEYS` name or a mapping with z0,
    alpha, sigma0, n_bins.

    Raises:
        ValueError: an unknown survey name or a missing key.
    """
    from ..cosmology import SURVEYS, photometric_bins, smail_nz

    if isinstance(survey, str):
        if survey not in SURVEYS:
            raise ValueError(f"unknown survey {survey!r}; known: {', '.join(SURVEYS)}")
        spec = SURVEYS[survey]
    else:
        spec = dict(survey)
    missing = [k for k in ("z0", "alpha", "sigma0", "n_bins") if k not in spec]
    if missing:
        raise ValueError(f"survey needs {', '.join(missing)}")
    parent = smail_nz(_Z_GRID, spec["z0"], spec["alpha"])
    return _Z_GRID, photometric_bins(_Z_GRID, parent, int(spec["n_bins"]), spec["sigma0"])


def _expand(values: Mapping[str, Any], n_bins: int,
            per_bin: tuple[str, ...] = _PER_BIN) -> dict[str, float]:
    """Mock parameters with the ``per_bin`` entries given as a number (broadcast) or a list
    of ``n_bins``, expanded to ``name_1 … name_n``.

    Raises:
        ValueError: a per-bin list of the wrong length.
    """
    out: dict[str, float] = {}
    for name, value in values.items():
        if name in per_bin:
            arr = np.broadcast_to(np.asarray(value, np.float64), (n_bins,))
            out.update({f"{name}_{i + 1}": float(v) for i, v in enumerate(arr)})
        else:
            out[name] = float(value)
    return out


def _ell_centres(ell_edges: Any) -> tuple[np.ndarray, np.ndarray]:
    """(edges ``(n_ell + 1,)``, geometric centres ``(n_ell,)``) of checked ℓ-bin edges.

    Raises:
        ValueError: edges not increasing or starting below 2.
    """
    edges = np.asarray(ell_edges, np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 2:
        raise ValueError("ell_edges must be increasing, from >= 2")
    return edges, np.sqrt(edges[1:] * edges[:-1])


def _ell_edges_from_config(cfg: Mapping[str, Any], where: str) -> np.ndarray:
    """Log-spaced ℓ-bin edges ``(n_bins + 1,)`` of the ``ell: {min, max, n_bins}`` entry."""
    ell = get(cfg, "ell", dict, where=where)
    check_keys(ell, ("min", "max", "n_bins"), f"{where}.ell")
    return np.geomspace(get(ell, "min", float, where=f"{where}.ell"),
                        get(ell, "max", float, where=f"{where}.ell"),
                        get(ell, "n_bins", int, where=f"{where}.ell") + 1)


class ShearClLikelihood(eqx.Module):
    """Gaussian log-likelihood −χ²/2 of binned tomographic shear spectra.

    Args:
        z, nz: redshift distributions (see :class:`~cosmoemu.cosmology.ShearSpectra`).
        ell_edges: ℓ-bin edges ``(n_ell + 1,)``; C_ℓ at the geometric centres.
        noise: shape-noise power per bin ``(n_bins,)`` [sr].
        f_sky: sky fraction.
        mock: parameters of the noise-free mock data (per-bin ones as ``name_i``); the
            covariance is evaluated there too.
        model: P(k) model (``"lcdm"`` or ``"w0wacdm"``).
        n_z: Limber integration points.

    −inf outside the P(k) emulators' box.
    """

    data: np.ndarray
    whitening: np.ndarray  # (n_ell, n_pairs, n_pairs) per-ℓ-bin inverse Cholesky factors
    shear: Any = eqx.field(static=True)
    names: tuple[str, ...] = eqx.field(static=True)

    def __init__(self, z: Any, nz: Any, ell_edges: Any, noise: Any, f_sky: float,
                 mock: Mapping[str, float], model: str = "lcdm", n_z: int = 160) -> None:
        from ..cosmology import ShearSpectra, gaussian_cl_blocks, pair_indices

        if model not in _PK_NAMES:
            raise ValueError(f"model must be one of {', '.join(_PK_NAMES)}; got {model!r}")
        edges, ell = _ell_centres(ell_edges)
        self.shear = ShearSpectra(ell, z, nz, model=model, n_z=n_z, policy="clip")
        n_bins = self.shear.n_bins
        self.names = (*_PK_NAMES[model],
                      *(f"{p}_{i}" for p in _PER_BIN for i in range(1, n_bins + 1)))
        missing = [n for n in self.names if n not in mock]
        if missing:
            raise ValueError(f"mock parameters missing: {', '.join(missing)}")
        with jax.enable_x64(True):
            fiducial = np.asarray(self.shear({n: jnp.float64(mock[n]) for n in self.names}))
        if not np.all(np.isfinite(fiducial)):
            raise ValueError("the mock parameters give non-finite spectra (outside the box?)")
        i, j = pair_indices(n_bins)
        total = np.zeros((n_bins, n_bins, ell.size))
        total[i, j] = total[j, i] = fiducial
        total[np.arange(n_bins), np.arange(n_bins)] += np.asarray(noise, np.float64)[:, None]
        self.whitening = inverse_cholesky(gaussian_cl_blocks(total, i, j, edges, f_sky))
        self.data = fiducial

    @property
    def products(self) -> dict[str, dict]:
        return {}

    @property
    def params(self) -> tuple[str, ...]:
        return self.names

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.names

    def model(self, values: Mapping[str, Any]) -> jax.Array:
        """The binned spectra ``(n_pairs, n_ell)``; NaN outside the emulators' box."""
        p = {n: values[n] for n in self.names}
        cl = self.shear(p)
        return jnp.where(self.shear.model.in_box(p), cl, jnp.nan)

    def loglike(self, values: Mapping[str, Any]) -> jax.Array:
        """−χ²/2 with the per-ℓ-bin whitening (the covariance is block-diagonal in ℓ)."""
        resid = self.model(values) - jnp.asarray(self.data)
        dtype = resid.dtype
        r = jnp.einsum("lpq,ql->lp", jnp.asarray(self.whitening, dtype), resid)
        return -0.5 * jnp.sum(r * r)

    def from_values(self, values: Mapping[str, Any]) -> jax.Array:
        return self.loglike(values)


def _from_config(cfg: Mapping[str, Any], where: str) -> ShearClLikelihood:
    from ..cosmology import shape_noise

    check_keys(cfg, ("survey", "n_gal", "sigma_e", "f_sky", "ell", "model", "mock", "n_z"),
               where)
    for key in ("survey", "n_gal", "sigma_e", "f_sky", "ell", "mock"):
        if key not in cfg:
            raise ConfigError(f"{where}.{key}", "is required")
    try:
        z, nz = survey_nz(cfg["survey"])
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}.survey", str(err)) from err
    edges = _ell_edges_from_config(cfg, where)
    n_bins = nz.shape[0]
    noise = shape_noise(get(cfg, "sigma_e", float, where=where),
                        get(cfg, "n_gal", float, where=where), n_bins)
    mock = get(cfg, "mock", dict, where=where)
    try:
        mock = _expand(mock, n_bins)
    except ValueError as err:
        raise ConfigError(f"{where}.mock", f"per-bin values need 1 or {n_bins} numbers: {err}"
                          ) from err
    try:
        return ShearClLikelihood(z, nz, edges, noise, get(cfg, "f_sky", float, where=where),
                                 mock, model=get(cfg, "model", str, "lcdm", where=where),
                                 n_z=get(cfg, "n_z", int, 160, where=where))
    except ValueError as err:
        raise ConfigError(where, str(err)) from err


register_likelihood("shear_cl", _from_config)
