"""KiDS-1000 cosmic shear (Asgari et al. 2021): the COSEBIs likelihood on the public data, in JAX.

Data (shipped, ``data/kids1000/``, converted losslessly from the public FITS files by
``scripts/convert_kids1000.py``): COSEBIs E_n for the 15 pairs of 5 tomographic bins, θ in
[0.5′, 300′], the iterated covariance (shear calibration uncertainty included: m is not a free
parameter), the SOM n(z) histograms and the δz prior.

Model (the fiducial set-up of Asgari et al. 2021): flat ΛCDM with one 0.06 eV neutrino, the
shipped HMcode-2016 P(k) emulators with A_bary = c_min and η0 = 0.98 − 0.12 A_bary, NLA
intrinsic alignments with one amplitude A_IA, shifts n_i(z) → n_i(z − δz_i), Limber
(:class:`~cosmoemu.cosmology.ShearSpectra`), E_n from C_ℓ (:func:`~cosmoemu.cosmology.cosebis`).
S8 can be sampled directly (``amplitude: S8``): A_s follows exactly from the emulator's σ8
(:func:`~cosmoemu.matter.ln10As_from_S8`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._config import check_choice, check_keys, get
from .._errors import ConfigError
from .._linalg import gaussian_factors, unpack_upper
from ..cosmology._covariance import pair_indices
from ._base import register_likelihood

__all__ = ["KiDS1000COSEBIs", "load_kids1000", "kids1000_nz"]

THETA_MIN, THETA_MAX = 0.5, 300.0
N_BINS = 5
AMPLITUDES = ("S8", "ln10^{10}A_s")
ETA0_KIDS = (0.98, -0.12)
"""η0 = 0.98 − 0.12 A_bary: the HMcode-2016 relation of the KiDS-1000 fiducial analysis."""


def _data_dir(data_dir: str | Path | None) -> Path:
    if data_dir is None:
        return Path(str(resources.files("cosmoemu.likelihoods").joinpath("data", "kids1000")))
    return Path(data_dir)


def load_kids1000(name: str, data_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``kids1000_<name>.npz`` (``cosebis``, ``xipm`` or ``nz``), covariance
    unpacked to ``cov`` (symmetrised where the published one is not exactly symmetric).

    Raises:
        FileNotFoundError: the file is missing (names it).
    """
    path = _data_dir(data_dir) / f"kids1000_{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"KiDS-1000 data file '{path}' is missing")
    with np.load(path) as f:
        out = {k: f[k] for k in f.files}
    if "cov_upper" in out:
        out["cov"] = unpack_upper(out.pop("cov_upper"))
    elif "cov" in out:
        out["cov"] = 0.5 * (out["cov"] + out["cov"].T)
    return out


def kids1000_nz(data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The SOM n(z) as (z ``(n_z,)``, n ``(5, n_z)``): histogram values at the bin mid-points
    (Δz = 0.05), with n = 0 prepended at z = 0 (the linear interpolation between mid-points is
    then the n(z) the projections integrate)."""
    nz = load_kids1000("nz", data_dir)
    z = np.concatenate([[0.0], nz["z_mid"]])
    n = np.concatenate([np.zeros((N_BINS, 1)), nz["nz"]], axis=1)
    return z, n


class KiDS1000COSEBIs(eqx.Module):
    """KiDS-1000 COSEBIs log-likelihood −χ²/2 (Gaussian, published covariance).

    Args:
        n_max: COSEBIs modes E_1..E_n_max used (fiducial 5: 75 data points).
        amplitude: ``"S8"`` (sampled directly, as KiDS) or ``"ln10^{10}A_s"``.
        eta0_relation: ``(a, b)`` for η0 = a + b c_min (default the KiDS relation 0.98 −
            0.12 c_min), or None to read ``eta_0`` as a parameter.
        n_ell: multipoles (log-spaced in [1, 1e5]) on which C_ℓ is computed for the E_n.
        n_z: Limber integration points.
        data_dir: directory with the converted files (default: shipped).

    Parameters read: omega_b, omega_cdm, h, n_s, the amplitude, c_min (A_bary), [eta_0],
    A_IA, dz_1 … dz_5. The model is −inf outside the P(k) emulators' box (e.g. an S8 that needs
    ln10^{10}A_s outside [1.61, 3.91]).
    """

    data: np.ndarray
    whitening: np.ndarray
    shear: Any = eqx.field(static=True)
    order: tuple[int, ...] = eqx.field(static=True)
    n_max: int = eqx.field(static=True)
    amplitude: str = eqx.field(static=True)
    eta0_relation: tuple[float, float] | None = eqx.field(static=True)
    ell: tuple[float, ...] = eqx.field(static=True)

    def __init__(self, n_max: int = 5, amplitude: str = "S8",
                 eta0_relation: Sequence[float] | None = ETA0_KIDS, n_ell: int = 200,
                 n_z: int = 160, data_dir: str | Path | None = None) -> None:
        from ..cosmology import ShearSpectra

        if not 1 <= int(n_max) <= 20:
            raise ValueError(f"n_max must be in 1..20 (the published modes); got {n_max}")
        if amplitude not in AMPLITUDES:
            raise ValueError(f"amplitude must be one of {AMPLITUDES}; got {amplitude!r}")
        cos = load_kids1000("cosebis", data_dir)
        keep = np.flatnonzero(cos["n"] <= n_max)
        pairs = list(zip(*pair_indices(N_BINS), strict=True))
        # our model vector: pair-major (i <= j row-major), n within; map the data onto it
        position = {(int(i) + 1, int(j) + 1, n): p * n_max + (n - 1)
                    for p, (i, j) in enumerate(pairs) for n in range(1, n_max + 1)}
        idx = [position[(int(cos["bin1"][r]), int(cos["bin2"][r]), int(cos["n"][r]))]
               for r in keep]
        if sorted(idx) != list(range(len(pairs) * n_max)):
            raise ValueError("the COSEBIs file does not hold every pair and mode once")
        _, self.whitening, _ = gaussian_factors(cos["cov"][np.ix_(keep, keep)],
                                                "KiDS-1000 COSEBIs: ")
        self.data = cos["value"][keep]
        self.order = tuple(int(i) for i in idx)
        z, nz = kids1000_nz(data_dir)
        ell = np.geomspace(1.0, 1e5, int(n_ell))
        self.ell = tuple(ell.tolist())
        self.shear = ShearSpectra(ell, z, nz, model="lcdm", n_z=n_z, policy="clip")
        self.n_max = int(n_max)
        self.amplitude = amplitude
        self.eta0_relation = None if eta0_relation is None else tuple(map(float, eta0_relation))

    @property
    def products(self) -> dict[str, dict]:
        """None: the likelihood evaluates its own P(k) emulators."""
        return {}

    @property
    def params(self) -> tuple[str, ...]:
        eta = () if self.eta0_relation is not None else ("eta_0",)
        dz = tuple(f"dz_{i}" for i in range(1, N_BINS + 1))
        return ("omega_b", "omega_cdm", "h", "n_s", self.amplitude, "c_min", *eta, "A_IA", *dz)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*self.products, *self.params)

    def cosmology_params(self, values: Mapping[str, Any]) -> dict[str, jax.Array]:
        """The P(k) and shear parameters (ln10^{10}A_s from S8, η0 from c_min) of ``values``."""
        from ..matter import ln10As_from_S8

        p = {name: values[name] for name in self.params}
        if self.eta0_relation is not None:
            a, b = self.eta0_relation
            p["eta_0"] = a + b * p["c_min"]
        if self.amplitude == "S8":
            p["ln10^{10}A_s"] = ln10As_from_S8(p, p.pop("S8"), model=self.shear.model,
                                               policy="clip")
        return p

    def model(self, values: Mapping[str, Any]) -> jax.Array:
        """E_n in the data order, shape ``(n_data,)``; NaN outside the emulators' box."""
        from ..cosmology import cosebis

        p = self.cosmology_params(values)
        cl = self.shear(p)
        en = cosebis(np.asarray(self.ell), cl, THETA_MIN, THETA_MAX, self.n_max).reshape(-1)
        model = en[np.asarray(self.order)]
        inside = self.shear.model.in_box(p)
        return jnp.where(inside, model, jnp.nan)

    def loglike(self, values: Mapping[str, Any]) -> jax.Array:
        """−χ²/2 (no normalisation constant)."""
        resid = self.model(values)
        resid = resid - jnp.asarray(self.data, resid.dtype)
        r = jnp.asarray(self.whitening, resid.dtype) @ resid
        return -0.5 * jnp.sum(r * r)

    def from_values(self, values: Mapping[str, Any]) -> jax.Array:
        return self.loglike(values)


def _from_config(cfg: Mapping[str, Any], where: str) -> KiDS1000COSEBIs:
    check_keys(cfg, ("n_max", "amplitude", "eta0_relation", "n_ell", "n_z", "data_dir"), where)
    amplitude = get(cfg, "amplitude", str, "S8", where=where)
    check_choice(amplitude, AMPLITUDES, f"{where}.amplitude")
    relation = cfg.get("eta0_relation", list(ETA0_KIDS))
    if relation is not None and (not isinstance(relation, list) or len(relation) != 2):
        raise ConfigError(f"{where}.eta0_relation", f"expected [a, b] for eta_0 = a + b c_min, "
                                                    f"or null to sample eta_0; got {relation!r}")
    try:
        return KiDS1000COSEBIs(
            n_max=get(cfg, "n_max", int, 5, where=where), amplitude=amplitude,
            eta0_relation=relation, n_ell=get(cfg, "n_ell", int, 200, where=where),
            n_z=get(cfg, "n_z", int, 160, where=where),
            data_dir=get(cfg, "data_dir", str, None, where=where))
    except FileNotFoundError as err:
        raise ConfigError(f"{where}.data_dir" if "data_dir" in cfg else where, str(err)) from err
    except ValueError as err:
        raise ConfigError(where, str(err)) from err


register_likelihood("kids1000_cosebis", _from_config)
