"""Planck 2018 plik_lite: the CMB-marginalised high-ell TT/TE/EE likelihood, in JAX.

The data are binned C_ell [μK²] with a Gaussian covariance (Planck 2018 V; Prince & Dunkley
2019). The model is the raw, dimensionless C_ell (as the emulators predict it):

.. math::

    -2 \\ln L = (\\mathbf{b}(C)/A_{\\rm planck}^2 - \\mathbf{d})^T C^{-1}
                (\\mathbf{b}(C)/A_{\\rm planck}^2 - \\mathbf{d}),\\qquad
    b_i(C) = \\sum_{\\ell \\in i} w_\\ell \\, (10^6 T_{\\rm CMB})^2 C_\\ell,

with 215 TT bins (ell 30–2508), 199 TE and 199 EE bins (ell 30–1996), and optionally the two
low-ell commander TT bins (ell 2–15, 16–29) with independent Gaussian errors. No normalisation
constant is added (so the values match the published reference log-likelihoods).

Everything is precomputed once in float64: the binning is a gather + segment sum with weights
that include the μK² factor (10⁶ T_CMB)² (T_CMB = 2.7255 K) and 1/σ_b; the covariance is turned
into a correlation matrix whose
inverse Cholesky factor W whitens the residual (condition number of the correlation ≈ 140), so
a float32 run computes ``r = W (b/A² − d)/σ`` on well-scaled numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from .._config import check_choice, check_keys, get
from .._errors import ConfigError, unknown_name_message
from ..cosmology._constants import T_CMB
from ._base import register_likelihood
from ._plik_lite_data import PlikLiteData, load_plik_lite_data

__all__ = ["PlanckLite", "planck_lite_loglike", "cl_from_dl"]

MUK2 = (T_CMB * 1e6) ** 2
"""Raw dimensionless C_ell → μK²."""


def cl_from_dl(dl: ArrayLike, ell_min: int = 2) -> np.ndarray:
    """Raw dimensionless C_ell from D_ell = ℓ(ℓ+1)C_ℓ/2π [μK²] given from ``ell_min`` on.

    Args:
        dl: D_ell [μK²], shape ``(..., n_ell)``, ell = ell_min, ell_min + 1, …
        ell_min: the first multipole.
    """
    dl = np.asarray(dl, dtype=np.float64)
    ell = np.arange(ell_min, ell_min + dl.shape[-1], dtype=np.float64)
    return dl * 2.0 * np.pi / (ell * (ell + 1.0)) / MUK2

SPECTRA = ("TTTEEE", "TT")
ELL_MIN = 2


class PlanckLite(eqx.Module):
    """Planck 2018 plik_lite log-likelihood of raw TT, TE, EE C_ell spectra.

    A pytree: construct it once (outside ``jit``), then call it inside ``jit``/``grad``/``vmap``.
    Arrays are kept as float64 numpy and follow JAX's default dtype when used (float32 unless
    x64 is enabled).

    Args:
        spectra: ``"TTTEEE"`` (613 bins) or ``"TT"`` (215 bins).
        low_ell_bins: add the two low-ell TT bins (ell 2–29) of the Planck 2018 commander
            likelihood, binned with their own weights and independent Gaussian errors.
        data: the arrays (default: the shipped plik_lite v22 files).

    Example:
        >>> lik = PlanckLite("TTTEEE", low_ell_bins=True)
        >>> lnl = jax.jit(lambda *a: lik(*a))(cl_tt, cl_te, cl_ee, 1.0)  # raw C_ell, ell 2, 3, …
    """

    spectra: str = eqx.field(static=True)
    low_ell_bins: bool = eqx.field(static=True)
    lmax: tuple[int, int, int] = eqx.field(static=True)
    n_data: int = eqx.field(static=True)
    index: tuple[np.ndarray, np.ndarray, np.ndarray]
    weight: tuple[np.ndarray, np.ndarray, np.ndarray]
    segment: np.ndarray
    data: np.ndarray
    whitening: np.ndarray

    def __init__(
        self, spectra: str = "TTTEEE", low_ell_bins: bool = False, data: PlikLiteData | None = None
    ) -> None:
        if spectra not in SPECTRA:
            raise ValueError(unknown_name_message("plik_lite spectra choice", spectra, SPECTRA))
        data = load_plik_lite_data() if data is None else data
        used = (0, 1, 2) if spectra == "TTTEEE" else (0,)
        n_hi = [data.n_bins[s] for s in used]
        index: list[list[np.ndarray]] = [[], [], []]
        weight: list[list[np.ndarray]] = [[], [], []]
        segment: list[np.ndarray] = []
        cl, sig = [], []
        cov_hi = data.cov[: sum(n_hi), : sum(n_hi)]
        sigma_hi = np.sqrt(np.diag(cov_hi))
        bin_no = 0
        if low_ell_bins:
            for (lo, hi), w, c, s in zip(
                data.low_ell_ranges, data.low_weights, data.low_cl_binned, data.low_sigma,
                strict=True,
            ):
                self._add_bin(index[0], weight[0], segment, lo, hi, w, s, bin_no)
                cl.append(c)
                sig.append(s)
                bin_no += 1
        offset = 0
        for s in used:
            bins = zip(data.ell_ranges[s], data.weights[s], strict=True)
            for i, ((lo, hi), w) in enumerate(bins):
                sb = sigma_hi[offset + i]
                self._add_bin(index[s], weight[s], segment, lo, hi, w, sb, bin_no)
                bin_no += 1
            offset += data.n_bins[s]
        # segment ids must follow the order of the concatenated TT, TE, EE gathers
        seg_by_spec = np.concatenate(segment)
        cl = np.concatenate([np.asarray(cl, float), data.cl_binned[: sum(n_hi)]])
        sig = np.concatenate([np.asarray(sig, float), sigma_hi])
        n_low = 2 if low_ell_bins else 0
        corr = np.eye(bin_no)
        corr[n_low:, n_low:] = cov_hi / np.outer(sigma_hi, sigma_hi)
        chol = np.linalg.cholesky(corr)
        self.whitening = scipy.linalg.solve_triangular(chol, np.eye(bin_no), lower=True)
        self.data = cl / sig
        self.index = tuple(np.concatenate(ix) if ix else np.zeros(0, np.int64) for ix in index)
        self.weight = tuple(np.concatenate(w) if w else np.zeros(0) for w in weight)
        self.segment = seg_by_spec
        self.lmax = tuple(int(ix.max()) + ELL_MIN if len(ix) else 0 for ix in self.index)
        self.spectra = spectra
        self.low_ell_bins = low_ell_bins
        self.n_data = bin_no

    @staticmethod
    def _add_bin(index, weight, segment, lo, hi, w, sigma, bin_no) -> None:
        ell = np.arange(lo, hi + 1)
        if len(w) != len(ell):
            raise ValueError(f"bin {bin_no}: {len(w)} weights for ell {lo}..{hi}")
        index.append(ell - ELL_MIN)
        weight.append(w * MUK2 / sigma)
        segment.append(np.full(len(ell), bin_no))

    @property
    def products(self) -> dict[str, dict[str, tuple[int, int]]]:
        """The raw C_ell read, each on ell = 2..lmax (TT to 2508, TE and EE to 1996)."""
        names = ("cmb_tt", "cmb_te", "cmb_ee")
        return {n: {"ell": (ELL_MIN, lmax)} for n, lmax in zip(names, self.lmax, strict=True)
                if lmax}

    @property
    def params(self) -> tuple[str, ...]:
        """``A_planck``: the calibration."""
        return ("A_planck",)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names read by :meth:`from_values`: the C_ell products and ``A_planck``."""
        return (*self.products, *self.params)

    def from_values(self, values: Mapping[str, ArrayLike]) -> jax.Array:
        """Log-likelihood from a mapping with the keys in :attr:`inputs`.

        ``cmb_tt``/``cmb_te``/``cmb_ee`` are raw dimensionless C_ell from ell = 2 (as
        :class:`~cosmoemu.theory.EmulatorTheory` provides them).
        """
        return self(
            values["cmb_tt"], values.get("cmb_te"), values.get("cmb_ee"), values["A_planck"]
        )

    def binned(
        self, cl_tt: ArrayLike, cl_te: ArrayLike | None, cl_ee: ArrayLike | None
    ) -> jax.Array:
        """Model bandpowers divided by their σ, shape ``(n_data,)`` (low-ell bins first)."""
        parts = []
        for name, cl, ix, w, lmax in zip(("tt", "te", "ee"), (cl_tt, cl_te, cl_ee), self.index,
                                         self.weight, self.lmax, strict=True):
            if lmax == 0:
                continue
            if cl is None:
                raise ValueError(f"PlanckLite({self.spectra!r}) needs cl_{name}, got None")
            cl = jnp.asarray(cl)
            if cl.ndim != 1 or cl.shape[0] < lmax - ELL_MIN + 1:
                raise ValueError(
                    f"cl_{name} must be 1-d raw C_ell from ell={ELL_MIN} to at least {lmax} "
                    f"(length >= {lmax - ELL_MIN + 1}); got shape {cl.shape}"
                )
            parts.append(cl[ix] * jnp.asarray(w, dtype=cl.dtype))
        values = jnp.concatenate(parts)
        return jax.ops.segment_sum(
            values, self.segment, num_segments=self.n_data, indices_are_sorted=True
        )

    def chi2(
        self,
        cl_tt: ArrayLike,
        cl_te: ArrayLike | None = None,
        cl_ee: ArrayLike | None = None,
        A_planck: ArrayLike = 1.0,
    ) -> jax.Array:
        """χ² of the spectra; see :meth:`__call__` (which returns −χ²/2)."""
        model = self.binned(cl_tt, cl_te, cl_ee)
        dtype = model.dtype
        resid = model / jnp.asarray(A_planck, dtype) ** 2 - jnp.asarray(self.data, dtype)
        r = jnp.asarray(self.whitening, dtype) @ resid
        return jnp.sum(r * r)

    def __call__(
        self,
        cl_tt: ArrayLike,
        cl_te: ArrayLike | None = None,
        cl_ee: ArrayLike | None = None,
        A_planck: ArrayLike = 1.0,
    ) -> jax.Array:
        """Log-likelihood −χ²/2 (no normalisation constant).

        Args:
            cl_tt: raw dimensionless lensed C_ell^TT, shape ``(n_ell,)``, ell = 2, 3, …,
                reaching at least 2508 (:func:`cl_from_dl` converts D_ell [μK²]).
            cl_te: C_ell^TE, same layout, reaching at least 1996 (unused and may be None for TT).
            cl_ee: C_ell^EE, likewise.
            A_planck: Planck absolute calibration; the model bandpowers are divided by A².
                Applied to the low-ell bins too.

        Returns:
            Scalar log-likelihood. Batch with ``jax.vmap``.
        """
        return -0.5 * self.chi2(cl_tt, cl_te, cl_ee, A_planck)


@functools.lru_cache(maxsize=8)
def _cached(spectra: str, low_ell_bins: bool) -> PlanckLite:
    return PlanckLite(spectra, low_ell_bins)


def planck_lite_loglike(
    cl_tt: ArrayLike,
    cl_te: ArrayLike | None = None,
    cl_ee: ArrayLike | None = None,
    A_planck: ArrayLike = 1.0,
    *,
    spectra: str = "TTTEEE",
    low_ell_bins: bool = False,
) -> jax.Array:
    """Planck 2018 plik_lite log-likelihood of raw C_ell (pure JAX; jit and grad through it).

    Args:
        cl_tt: raw dimensionless C_ell^TT, shape ``(n_ell,)`` for ell = 2..(>= 2508)
            (:func:`cl_from_dl` converts D_ell [μK²]).
        cl_te: C_ell^TE, same layout (None allowed for ``spectra="TT"``).
        cl_ee: C_ell^EE, same layout (None allowed for ``spectra="TT"``).
        A_planck: calibration; the model is divided by A_planck².
        spectra: ``"TTTEEE"`` or ``"TT"`` (static).
        low_ell_bins: add the two low-ell TT bins (static).

    Returns:
        Scalar −χ²/2. At the Planck 2015 best fit shipped with plik_lite (A_planck = 1):
        TTTEEE −291.33481, TTTEEE + low-ell −293.95587, TT −101.58123, TT + low-ell −104.20228.

    Raises:
        ValueError: unknown ``spectra`` or spectra too short.

    References:
        Planck Collaboration 2020, A&A 641, A5 (Planck 2018 V); Prince & Dunkley 2019,
        arXiv:1909.05869.
    """
    return _cached(spectra, bool(low_ell_bins))(cl_tt, cl_te, cl_ee, A_planck)


def _from_config(cfg: Mapping[str, Any], where: str) -> PlanckLite:
    check_keys(cfg, ("spectra", "low_ell_bins", "data_file"), where)
    spectra = check_choice(get(cfg, "spectra", str, "TTTEEE", where=where), SPECTRA,
                           f"{where}.spectra")
    low = get(cfg, "low_ell_bins", bool, False, where=where)
    data = None
    if "data_file" in cfg:
        try:
            data = load_plik_lite_data(get(cfg, "data_file", str, where=where))
        except FileNotFoundError as err:
            raise ConfigError(f"{where}.data_file", str(err)) from err
    try:
        return PlanckLite(spectra, low_ell_bins=low, data=data)
    except FileNotFoundError as err:  # the shipped data file is missing
        raise ConfigError(where, str(err)) from err


register_likelihood("planck_2018_lite", _from_config)
