"""CCL reference for tomographic cosmic-shear and 3x2pt C_ell (benchmarks and test fixtures only).

pyccl is a benchmark-only dependency (``pip install pyccl``, the ``bench`` extra); the library
never imports it. Written against pyccl 3.3.6 and camb 2.0.5.

Parameters (as :func:`cosmoemu.cosmology.shear_cl`): ``omega_b``, ``omega_cdm``, ``h``, ``n_s``,
``ln10^{10}A_s``, ``c_min``, ``eta_0`` (HMcode-2016 A_baryon, eta_baryon), and per bin (1-based,
missing = 0) ``A_IA_i``, ``dz_i``, ``m_i``; for the 3x2pt spectra (:func:`ccl_3x2pt_cl`, as
:class:`cosmoemu.cosmology.TomographicSpectra`) also per lens bin ``b_i`` (required) and
``dz_lens_i``, and a configurable name for the source shifts (e.g. ``dz_src_i``).

What CCL does (read from the pyccl 3.3.6 source and checked numerically, see the numbers below)
------------------------------------------------------------------------------------------------
(The wheel ships the C library compiled: the integration details below are from CCL's public
``src/ccl_cls.c``, read in a version close to but not checked to be 3.3.6's; the Python side,
defaults and constants are 3.3.6's.)

Limber projection (``ccl.angular_cl``, default ``l_limber=-1``: Limber at every ell;
``limber_integration_method='qag_quad'``)::

    C_ell^{ab} = 1/(ell + 1/2) ∫ dln k  k P(k, a(chi)) T_a T_b,   chi = (ell + 1/2) / k
               = ∫ dchi / chi^2  T_a T_b P((ell + 1/2)/chi, z(chi))

with the ell + 1/2 convention, integrated in ln k by GSL QAG (Gauss–Kronrod key 4, i.e. 41
points; ``INTEGRATION_LIMBER_EPSREL`` = 1e-4 relative; CQUAD as a fall-back on round-off)
over k ∈ [max(K_MIN = 5e-5, (ell+1/2)/chi_max), min(K_MAX = 1000, 2 (ell+1/2)/chi_min)] /Mpc,
chi_min = (ell+1/2)/(2 K_MAX) for a kernel that starts at chi = 0 (lensing). Above CAMB's kmax
(50/Mpc here) P(k) is CCL's extrapolation (quadratic in ln k of ln P); below ~10/Mpc it is
CAMB's own k sampling, splined in ln k, and in a: CAMB is run at 40 scale factors linear in
a ∈ [0.1, 1] plus 11 logarithmic in [0.01, 0.1] (``A_SPLINE_NA_PK``, ``A_SPLINE_NLOG_PK``),
splined in a.

Per tracer, T = f_ell × K(chi) × transfer / (ell + 1/2)^2 (``der_bessel = -1``) with
f_ell = sqrt((ell+2)!/(ell-2)!) (``der_angles = 2``), for the shear AND the IA terms alike, so
every term (GG, GI, II) of a pair carries the exact spin factor
(ell+2)!/(ell-2)! / (ell+1/2)^4 (0.9774 at ell = 10, 1 - 2.5e-4 at ell = 100); checked: an
independent trapezoid Limber with that factor reproduces CCL's GG and GG+GI+II to 2e-5 at
ell = 10 … 3000 (without the factor: -2.3e-2 at ell = 10).

* Lensing kernel: K(chi) = 3/2 H0^2 Omega_m chi / a ∫_{z(chi)} dz' p(z') (chi' - chi)/chi',
  p(z) the normalised n(z) (spline integration of the table, ``NZ_NORM_SPLINE_INTEGRATION``),
  sampled at ``n_samples = 256`` chi's equispaced up to chi(z_max of the table) and splined.
  Omega_m = Omega_c + Omega_b + Omega_nu_mass (massive neutrinos included: 0.318656 vs
  Omega_cb = 0.317220 for the fiducial, +0.45 %).
* NLA intrinsic alignments (``ia_bias=(z, A_IA(z))``, ``use_A_ia=True``): a second term with
  kernel K = p(z) H(z) [1/Mpc] and transfer
  -A_IA(z) C1 rho_crit Omega_m / D(z) with C1 rho_crit = 5e-14 × RHO_CRITICAL
  = 5e-14 × 2.775366e11 (M_sun/h)/(Mpc/h)^3 = 0.0138768 (C1 = 5e-14 (M_sun/h)^-1 (Mpc/h)^3,
  Brown et al. 2002 / Bridle & King 2007), the same Omega_m (massive neutrinos included), and
  D(z) CCL's linear growth normalised to D(z=0) = 1: the solution of
  D'' + (2 + dln H/dln a) D' = 3/2 Omega_m(a) D with Omega_m(a) including the massive
  neutrinos' actual rho_nu(a) (checked: an ODE with CCL's own H(a) and Omega_m(a) reproduces
  it to 6e-7 at z <= 4; with Omega_cb(a) instead, D(z)/D(0) differs by -0.07/-0.14/-0.24/
  -0.37 % at z = 0.5/1/2/4 — cosmoemu's growth_factor is the CDM+baryon one, so an IA term
  built on it is larger than CCL's by those amounts). No (1+z)^eta or luminosity dependence;
  A_IA is constant per bin here. The IA term enters with a minus sign (GI < 0 for A_IA > 0).
* The lensing kernel and IA use the SAME n(z) table; dz shifts are applied here by giving CCL
  the table on the grid z + dz_i (points that land below z = 0 dropped), i.e. n_i(z - dz_i).
  m_i multiplies the finished C_ell: (1 + m_i)(1 + m_j).

CCL's P(k) versus our training set's CAMB (``camb_pk_ours``: cosmoemu's CAMB backend as in
examples/generate_pk_lcdm.yaml), fiducial cosmology, 300 k in [1e-3, 10]/Mpc, z = 0, 1, 2,
max |P_CCL / P_ours - 1| (linear / HMcode-2016 non-linear):

================================================================  =========  ==========
CCL call (kmax 50 unless said)                                    linear     non-linear
================================================================  =========  ==========
CCL's defaults: T_ncdm 0.71611, AccuracyTarget 0                  1.06e-3    1.06e-3
T_ncdm 0.71611, AccuracyTarget 1                                  3.0e-5     1.1e-4
T_ncdm = T_NCDM_AS_CAMB, AccuracyTarget 1, kmax 10                1.6e-4     6.1e-4
T_ncdm = T_NCDM_AS_CAMB, AccuracyTarget 1 (``ccl_cosmology``)     3.4e-7     7.5e-5
================================================================  =========  ==========

* ``AccuracyTarget``: pyccl 3.3.6 sets CAMB 2.x's process-wide ``camb.config.AccuracyTarget`` to
  0 ("legacy") unless ``extra_parameters['camb']['AccuracyTarget']`` says otherwise; our runs
  use CAMB 2.x's default 1. Worth 1.06e-3, flat in k. (It also changes any later CAMB run in the
  same process; ``camb_pk_ours`` resets it to 1.)
* kmax: CAMB's transfer kmax changes P(k < 10/Mpc) by 1.6e-4 (linear) / 6e-4 (non-linear)
  between 10 (CCL's default) and 50/Mpc (ours).
* Neutrinos: CCL hands CAMB one massive eigenstate with degeneracy g = (T_ncdm/(4/11)^(1/3))^4
  = 1.013202 and num_nu_massless = N_eff - g, and its own Omega_nu h^2 = 6.44201e-4; CAMB's
  ``set_cosmology(mnu=0.06, nnu=3.046)`` uses g = 3.044/3 = 1.014667 and omnuh2 = 6.44899e-4.
  T_ncdm = (4/11)^(1/3) (3.044/3)^(1/4) = 0.716369 (``T_NCDM_AS_CAMB``) makes both agree
  (omnuh2 6.448993e-4 vs 6.448994e-4). Worth 3e-5. (YHe: both from CAMB's BBN table with
  Delta N_eff = N_eff - 3.044; T_CMB 2.7255 both; P(k) is delta_tot in both.)
* What remains (aligned call): linear 3.4e-7; non-linear up to 7.5e-5 at z = 1 (k ~ 0.3/Mpc),
  0 at z = 0: CAMB's HMcode output depends at the 1e-4 level on the list of output redshifts
  (CCL asks for ~50, we for 21); with 80 or 150 linear-a samples instead of 40 the residual
  moves around (1e-4, 2e-4 at z = 2) rather than shrinking. Not reducible from CCL's side.
* Background: CCL's own distances and H(z) (not CAMB's) enter the Limber integral.

Galaxy clustering and galaxy-galaxy lensing (:func:`ccl_3x2pt_cl`): ``ccl.NumberCountsTracer``
with ``has_rsd=False``, no magnification, ``bias=(z, b_i)`` constant per bin: kernel p(z) H(z)
(p the normalised, shifted n(z)), transfer b_i, no ell factor (``der_angles = 0``,
``der_bessel = 0``). Clustering C_ij = ∫ dchi/chi^2 b_i b_j p_i p_j H^2 P; GGL is
``angular_cl(lens_i, source_j)``, so it carries one shear ell factor
sqrt((ell+2)!/(ell-2)!)/(ell+1/2)^2, and the IA term of the source tracer; the m_j of the source
multiplies it afterwards (1 + m_j). Lens shifts n_i(z - dz_lens_i) as for the sources.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

BIN_PARAMS = ("A_IA", "dz", "m")

#: CAMB 2.x neutrino degeneracy for the default standard N_eff (camb.constants.default_nnu =
#: 3.044): CAMB's set_cosmology gives the massive eigenstate g = 3.044 / 3.
_CAMB_NU_DEGENERACY = 3.044 / 3.0
#: CCL's T_ncdm that reproduces it: CCL gives CAMB g = (T_ncdm / (4/11)^(1/3))^4.
T_NCDM_AS_CAMB = (4.0 / 11.0) ** (1.0 / 3.0) * _CAMB_NU_DEGENERACY**0.25
#: CCL's default T_ncdm (CLASS's 0.71611: g = 1.01320).
T_NCDM_CCL_DEFAULT = 0.71611

M_NU = 0.06
N_EFF = 3.046
T_CMB = 2.7255
KMAX = 50.0  # transfer functions to 50/Mpc, as the training set


def _patch_numpy() -> None:
    """pyccl 3.3.6 still uses ``np.int`` (removed in numpy 2) with massive neutrinos."""
    if not hasattr(np, "int"):
        np.int = int  # type: ignore[attr-defined]  # noqa: NPY001


def bin_values(params: Mapping[str, float], name: str, n_bins: int) -> np.ndarray:
    """``name_1 … name_n`` from ``params`` (missing = 0) ``(n_bins,)``."""
    return np.array([float(params.get(f"{name}_{i + 1}", 0.0)) for i in range(n_bins)])


def ccl_cosmology(
    params: Mapping[str, float],
    *,
    kmax: float = KMAX,
    accuracy_target: int = 1,
    t_ncdm: float = T_NCDM_AS_CAMB,
    na_pk: int | None = None,
    halofit_version: str = "mead2016",
):
    """A CCL cosmology with CAMB linear and HMcode-2016 P(k) for our parameter names.

    Args:
        params: ``omega_b``, ``omega_cdm``, ``h``, ``n_s``, ``ln10^{10}A_s``, ``c_min``,
            ``eta_0`` (extra names ignored).
        kmax: CAMB's transfer-function kmax [1/Mpc] (``extra_parameters['camb']['kmax']``).
        accuracy_target: CAMB 2.x ``AccuracyTarget`` (CCL would set the process-wide value to 0
            unless told; 1 is CAMB 2.x's default and our training set's).
        t_ncdm: CCL's neutrino temperature parameter; the default reproduces CAMB's own
            neutrino set-up (degeneracy 3.044/3) rather than CCL's (0.71611).
        na_pk: number of linear-in-a samples of P(k, a) in a ∈ [0.1, 1] (CCL's
            ``A_SPLINE_NA_PK``, default 40), i.e. the redshifts CAMB is asked for.
        halofit_version: CAMB's non-linear model.
    """
    import pyccl as ccl

    _patch_numpy()
    h = float(params["h"])
    na_default = ccl.spline_params.A_SPLINE_NA_PK
    if na_pk is not None:
        ccl.spline_params.A_SPLINE_NA_PK = int(na_pk)
    try:
        cosmo = ccl.Cosmology(
            Omega_c=params["omega_cdm"] / h**2,
            Omega_b=params["omega_b"] / h**2,
            h=h,
            n_s=params["n_s"],
            A_s=math.exp(params["ln10^{10}A_s"]) * 1e-10,
            m_nu=M_NU,
            mass_split="single",
            Neff=N_EFF,
            T_CMB=T_CMB,
            T_ncdm=t_ncdm,
            transfer_function="boltzmann_camb",
            matter_power_spectrum="camb",
            extra_parameters={"camb": {
                "halofit_version": halofit_version,
                "HMCode_A_baryon": float(params.get("c_min", 3.13)),
                "HMCode_eta_baryon": float(params.get("eta_0", 0.603)),
                "kmax": kmax,
                "AccuracyTarget": accuracy_target,
            }},
        )
        cosmo.compute_nonlin_power()  # runs CAMB now, while the spline parameters hold
    finally:
        ccl.spline_params.A_SPLINE_NA_PK = na_default
    return cosmo


def ccl_pk(cosmo, k: np.ndarray, z: np.ndarray, nonlinear: bool = True) -> np.ndarray:
    """CCL's P(k, z) ``(n_z, n_k)`` [Mpc^3] at k [1/Mpc]."""
    import pyccl as ccl

    f = ccl.nonlin_matter_power if nonlinear else ccl.linear_matter_power
    return np.array([f(cosmo, np.asarray(k, float), 1.0 / (1.0 + zi)) for zi in z])


def camb_pk_ours(params: Mapping[str, float], k: np.ndarray, z: np.ndarray) -> dict:
    """P(k, z) from a direct CAMB run set up exactly as our training set (cosmoemu's CAMB
    backend, ``examples/generate_pk_lcdm.yaml``: sigma8_kmax 50, HMcode-2016, one 0.06 eV
    neutrino, N_eff 3.046): ``{'pk_lin', 'pk_nonlin'}``, each ``(n_z, n_k)`` [Mpc^3]."""
    import camb

    from cosmoemu.data._camb import CambBackend
    from cosmoemu.data._request import Request

    camb.config.AccuracyTarget = 1  # CAMB 2.x default; a CCL call in this process may reset it
    req = Request(pk=("pk_lin", "pk_nonlin"), k=tuple(float(v) for v in k),
                  z=tuple(float(v) for v in z), nonlinear="hmcode2016")
    backend = CambBackend(req, {"sigma8_kmax": KMAX}, {"m_ncdm": M_NU, "N_eff": N_EFF,
                                                         "tau_reio": 0.0544})
    names = ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s", "c_min", "eta_0")
    return backend.compute({n: float(params[n]) for n in names})


def ccl_shear_cl(
    params: Mapping[str, float],
    ell: np.ndarray,
    z: np.ndarray,
    nz: np.ndarray,
    *,
    cosmo=None,
    ia: bool = True,
    nuisance: bool = True,
    **cosmo_kwargs,
) -> np.ndarray:
    """Tomographic shear C_ell from CCL ``(n_pairs, n_ell)``, pairs (i <= j) row-major.

    Args:
        params: cosmology + ``A_IA_i``, ``dz_i``, ``m_i`` (1-based, missing = 0).
        ell: multipoles ``(n_ell,)``, increasing.
        z: redshift grid ``(n_z,)`` of ``nz``.
        nz: ``(n_bins, n_z)`` redshift distributions, any normalisation.
        cosmo: a cosmology from :func:`ccl_cosmology` (built from ``params`` when None).
        ia: include NLA intrinsic alignments with amplitudes ``A_IA_i`` (per bin, constant in
            z); False: pure shear.
        nuisance: apply ``dz_i`` (n_i(z) -> n_i(z - dz_i)) and ``m_i``
            (C_ij -> (1 + m_i)(1 + m_j) C_ij); False: ignore them.
        cosmo_kwargs: passed to :func:`ccl_cosmology`.
    """
    import pyccl as ccl

    _patch_numpy()
    if cosmo is None:
        cosmo = ccl_cosmology(params, **cosmo_kwargs)
    tracers, m = _source_tracers(cosmo, params, z, nz, ia=ia, nuisance=nuisance)
    ell = np.asarray(ell, float)
    out = []
    for i in range(len(tracers)):
        for j in range(i, len(tracers)):
            cl = ccl.angular_cl(cosmo, tracers[i], tracers[j], ell)
            out.append((1.0 + m[i]) * (1.0 + m[j]) * cl)
    return np.array(out)


def _shifted_table(z: np.ndarray, n: np.ndarray, dz: float) -> tuple[np.ndarray, np.ndarray]:
    """n(z - dz): the same table on the grid z + dz (points below z = 0 dropped)."""
    zi = z + dz
    keep = zi >= 0.0
    return zi[keep], n[keep]


def _source_tracers(cosmo, params: Mapping[str, float], z: np.ndarray, nz: np.ndarray, *,
                    ia: bool, nuisance: bool, dz_prefix: str = "dz"):
    """CCL weak-lensing tracers (+ NLA) of the source bins and their m_i ``(n_bins,)``."""
    import pyccl as ccl

    z = np.asarray(z, float)
    nz = np.atleast_2d(np.asarray(nz, float))
    n_bins = nz.shape[0]
    dz = bin_values(params, dz_prefix, n_bins) if nuisance else np.zeros(n_bins)
    m = bin_values(params, "m", n_bins) if nuisance else np.zeros(n_bins)
    a_ia = bin_values(params, "A_IA", n_bins)
    tracers = []
    for i in range(n_bins):
        zi, ni = _shifted_table(z, nz[i], dz[i])
        ia_bias = (zi, np.full(zi.size, a_ia[i])) if ia else None
        tracers.append(ccl.WeakLensingTracer(cosmo, dndz=(zi, ni), ia_bias=ia_bias,
                                             use_A_ia=True))
    return tracers, m


def ccl_3x2pt_cl(
    params: Mapping[str, float],
    ell: np.ndarray,
    z: np.ndarray,
    nz_source: np.ndarray,
    nz_lens: np.ndarray,
    *,
    cosmo=None,
    ia: bool = True,
    nuisance: bool = True,
    clustering_cross: bool = True,
    source_dz_prefix: str = "dz",
    lens_dz_prefix: str = "dz_lens",
    bias_prefix: str = "b",
    **cosmo_kwargs,
) -> dict[str, np.ndarray]:
    """Shear, galaxy-galaxy lensing and clustering C_ell from CCL, in the layouts of
    :class:`cosmoemu.cosmology.TomographicSpectra`: ``{"shear": (n_s(n_s+1)/2, n_ell)`` (source
    pairs i <= j row-major), ``"ggl": (n_l n_s, n_ell)`` (lens i x source j, lens-major),
    ``"clustering": (n_l(n_l+1)/2, n_ell)`` (lens pairs i <= j row-major; the auto-spectra
    alone with ``clustering_cross=False``)}``.

    Args:
        params: cosmology + source ``A_IA_j``, ``{source_dz_prefix}_j``, ``m_j``, lens
            ``{bias_prefix}_i`` (required), ``{lens_dz_prefix}_i`` (1-based, missing = 0).
        ell: multipoles ``(n_ell,)``.
        z: redshift grid ``(n_z,)`` of both tables.
        nz_source, nz_lens: ``(n_s, n_z)``, ``(n_l, n_z)``, any normalisation.
        cosmo: a cosmology from :func:`ccl_cosmology` (built from ``params`` when None).
        ia: NLA alignments of the sources (``A_IA_j``).
        nuisance: apply the dz shifts (sources and lenses) and m_j; False: ignore them.
        cosmo_kwargs: passed to :func:`ccl_cosmology`.
    """
    import pyccl as ccl

    _patch_numpy()
    if cosmo is None:
        cosmo = ccl_cosmology(params, **cosmo_kwargs)
    src, m = _source_tracers(cosmo, params, z, nz_source, ia=ia, nuisance=nuisance,
                             dz_prefix=source_dz_prefix)
    z = np.asarray(z, float)
    nz_lens = np.atleast_2d(np.asarray(nz_lens, float))
    n_l = nz_lens.shape[0]
    names = [f"{bias_prefix}_{i + 1}" for i in range(n_l)]
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"parameter(s) {', '.join(missing)} missing")
    bias = np.array([float(params[n]) for n in names])
    dz_l = bin_values(params, lens_dz_prefix, n_l) if nuisance else np.zeros(n_l)
    lens = []
    for i in range(n_l):
        zi, ni = _shifted_table(z, nz_lens[i], dz_l[i])
        lens.append(ccl.NumberCountsTracer(cosmo, has_rsd=False, dndz=(zi, ni),
                                           bias=(zi, np.full(zi.size, bias[i]))))
    ell = np.asarray(ell, float)
    n_s = len(src)
    shear = [(1.0 + m[i]) * (1.0 + m[j]) * ccl.angular_cl(cosmo, src[i], src[j], ell)
             for i in range(n_s) for j in range(i, n_s)]
    ggl = [(1.0 + m[j]) * ccl.angular_cl(cosmo, lens[i], src[j], ell)
           for i in range(n_l) for j in range(n_s)]
    pairs = ([(i, j) for i in range(n_l) for j in range(i, n_l)] if clustering_cross
             else [(i, i) for i in range(n_l)])
    clustering = [ccl.angular_cl(cosmo, lens[i], lens[j], ell) for i, j in pairs]
    return {"shear": np.array(shear), "ggl": np.array(ggl), "clustering": np.array(clustering)}
