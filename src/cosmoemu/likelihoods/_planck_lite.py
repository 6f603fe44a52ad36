"""Planck 2018 plik_lite: the CMB-marginalised high-ell TT/TE/EE likelihood, in JAX.

The data are binned C_ell with a Gaussian covariance (Planck 2018 V; Prince & Dunkley 2019):

.. math::

    -2 \\ln L = (\\mathbf{b}(D)/A_{\\rm planck}^2 - \\mathbf{d})^T C^{-1}
                (\\mathbf{b}(D)/A_{\\rm planck}^2 - \\mathbf{d}),\\qquad
    b_i(D) = \\sum_{\\ell \\in i} w_\\ell \\, \\frac{2\\pi D_\\ell}{\\ell(\\ell+1)},

with 215 TT bins (ell 30–2508), 199 TE and 199 EE bins (ell 30–1996), and optionally the two
low-ell commander TT bins (ell 2–15, 16–29) with independent Gaussian errors. No normalisation
constant is added (so the values match the published reference log-likelihoods).

Everything is precomputed once in float64: the binning is a gather + segment sum with weights
that include 2π/(ℓ(ℓ+1)) and 1/σ_b; the covariance is turned into a correlation matrix whose
inverse Cholesky factor W whitens the residual (condition number of the correlation ≈ 140), so
a float32 run computes ``r = W (b/A² − d)/σ`` on well-scaled numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.typing import ArrayLike

from .._errors import unknown_name_message
from ._plik_lite_data import PlikLiteData, load_plik_lite_data

__all__ = ["PlanckLite", "planck_lite_loglike"]

SPECTRA = ("TTTEEE", "TT")
ELL_MIN = 2


class PlanckLite(eqx.Module):
    """Planck 2018 plik_lite log-likelihood of TT, TE, EE D_ell spectra.

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
        >>> lnl = jax.jit(lambda *a: lik(*a))(dl_tt, dl_te, dl_ee, 1.0)  # D_ell [μK²], ell 2, 3, …
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
        weight.append(w * 2.0 * np.pi / (ell * (ell + 1.0)) / sigma)
        segment.append(np.full(len(ell), bin_no))

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names read by :meth:`from_values`: the D_ell products and ``A_planck``."""
        spectra = ("cmb_tt", "cmb_te", "cmb_ee") if self.spectra == "TTTEEE" else ("cmb_tt",)
        return (*spectra, "A_planck")

    def from_values(self, values: Mapping[str, ArrayLike]) -> jax.Array:
        """Log-likelihood from a mapping with the keys in :attr:`inputs`.

        ``cmb_tt``/``cmb_te``/``cmb_ee`` are D_ell [μK²] from ell = 2 (as
        :class:`~cosmoemu.inference.EmulatorTheory` provides them).
        """
        return self(
            values["cmb_tt"], values.get("cmb_te"), values.get("cmb_ee"), values["A_planck"]
        )

    def binned(
        self, dl_tt: ArrayLike, dl_te: ArrayLike | None, dl_ee: ArrayLike | None
    ) -> jax.Array:
        """Model bandpowers divided by their σ, shape ``(n_data,)`` (low-ell bins first)."""
        parts = []
        for name, dl, ix, w, lmax in zip(("tt", "te", "ee"), (dl_tt, dl_te, dl_ee), self.index,
                                         self.weight, self.lmax, strict=True):
            if lmax == 0:
                continue
            if dl is None:
                raise ValueError(f"PlanckLite({self.spectra!r}) needs dl_{name}, got None")
            dl = jnp.asarray(dl)
            if dl.ndim != 1 or dl.shape[0] < lmax - ELL_MIN + 1:
                raise ValueError(
                    f"dl_{name} must be 1-d D_ell from ell={ELL_MIN} to at least {lmax} "
                    f"(length >= {lmax - ELL_MIN + 1}); got shape {dl.shape}"
                )
            parts.append(dl[ix] * jnp.asarray(w, dtype=dl.dtype))
        values = jnp.concatenate(parts)
        return jax.ops.segment_sum(
            values, self.segment, num_segments=self.n_data, indices_are_sorted=True
        )

    def chi2(
        self,
        dl_tt: ArrayLike,
        dl_te: ArrayLike | None = None,
        dl_ee: ArrayLike | None = None,
        A_planck: ArrayLike = 1.0,
    ) -> jax.Array:
        """χ² of the spectra; see :meth:`__call__` (which returns −χ²/2)."""
        model = self.binned(dl_tt, dl_te, dl_ee)
        dtype = model.dtype
        resid = model / jnp.asarray(A_planck, dtype) ** 2 - jnp.asarray(self.data, dtype)
        r = jnp.asarray(self.whitening, dtype) @ resid
        return jnp.sum(r * r)

    def __call__(
        self,
        dl_tt: ArrayLike,
        dl_te: ArrayLike | None = None,
        dl_ee: ArrayLike | None = None,
        A_planck: ArrayLike = 1.0,
    ) -> jax.Array:
        """Log-likelihood −χ²/2 (no normalisation constant).

        Args:
            dl_tt: D_ell^TT = ℓ(ℓ+1)C_ℓ/2π [μK²], shape ``(n_ell,)``, ell = 2, 3, …, reaching
                at least 2508.
            dl_te: D_ell^TE, same layout, reaching at least 1996 (unused and may be None for TT).
            dl_ee: D_ell^EE, likewise.
            A_planck: Planck absolute calibration; the model bandpowers are divided by A².
                Applied to the low-ell bins too.

        Returns:
            Scalar log-likelihood. Batch with ``jax.vmap``.
        """
        return -0.5 * self.chi2(dl_tt, dl_te, dl_ee, A_planck)


@functools.lru_cache(maxsize=8)
def _cached(spectra: str, low_ell_bins: bool) -> PlanckLite:
    return PlanckLite(spectra, low_ell_bins)


def planck_lite_loglike(
    dl_tt: ArrayLike,
    dl_te: ArrayLike | None = None,
    dl_ee: ArrayLike | None = None,
    A_planck: ArrayLike = 1.0,
    *,
    spectra: str = "TTTEEE",
    low_ell_bins: bool = False,
) -> jax.Array:
    """Planck 2018 plik_lite log-likelihood of D_ell spectra (pure JAX; jit and grad through it).

    Args:
        dl_tt: D_ell^TT = ℓ(ℓ+1)C_ℓ/2π [μK²], shape ``(n_ell,)`` for ell = 2..(>= 2508).
        dl_te: D_ell^TE [μK²], same layout (None allowed for ``spectra="TT"``).
        dl_ee: D_ell^EE [μK²], same layout (None allowed for ``spectra="TT"``).
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
    return _cached(spectra, bool(low_ell_bins))(dl_tt, dl_te, dl_ee, A_planck)
