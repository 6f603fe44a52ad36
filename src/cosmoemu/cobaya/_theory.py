"""A Cobaya ``Theory`` computed by cosmoemu's emulators and background: ``CosmoEmu``.

In a Cobaya input::

    theory:
      cosmoemu.cobaya.CosmoEmu:
        emulators: {cmb_tt: lcdm_cmb_tt, cmb_te: lcdm_cmb_te, cmb_ee: lcdm_cmb_ee,
                    derived: lcdm_derived}      # default: these and cmb_pp

It provides, in the conventions of Cobaya's CAMB interface:

* ``Cl`` — lensed ``tt``, ``te`` (also ``et``), ``ee`` and the lensing potential ``pp``, arrays
  indexed by ℓ from 0 (ℓ = 0, 1 hold zeros) to the emulators' ℓ_max (2508). ``get_Cl(
  ell_factor, units)``: ``units`` ``"FIRASmuK2"`` (default, (2.7255·10⁶)² μK²), ``"muK2"``
  (T_CMB of the theory's cosmology), ``"K2"``, ``"FIRASK2"`` or ``"1"`` (raw, dimensionless);
  ``ell_factor=True`` multiplies TT/TE/EE by ℓ(ℓ+1)/2π and pp by [ℓ(ℓ+1)]²/2π, and pp is
  always dimensionless;
* ``Hubble`` (km/s/Mpc or 1/Mpc), ``angular_diameter_distance``,
  ``angular_diameter_distance_2``, ``comoving_radial_distance`` [Mpc], ``Omega_b``,
  ``Omega_cdm``, ``Omega_nu_massive`` at the requested z, from :mod:`cosmoemu.cosmology` with the
  fixed settings the emulators were trained with (one 0.06 eV neutrino, N_eff = 3.046, Λ);
* derived parameters: the derived emulator's scalars (``sigma8``, ``thetastar`` = 100θ* as in
  CAMB, ``rstar``, ``zstar``, ``rdrag``, ``zdrag`` [Mpc], ``age`` [Gyr]) and ``H0``, ``h``,
  ``As``, ``logA``, ``omegam`` (Ω_m with neutrinos, CAMB's), ``omegamh2``, ``S8``.

P(k) products (``Pk_interpolator``, ``Pk_grid``, ``sigma_R``, ``sigma8_z``, ``fsigma8``) are
refused with an error until P(k) emulators exist (issue 11); run ``camb`` or ``classy`` beside
this theory for them, with Cobaya's ``provides:`` option saying which code gives what.

Input parameters: the emulators' inputs, in our names or Cobaya's (see :mod:`._names`), plus a
``renames`` option. A point outside an emulator's box (or a Planck-region emulator's ellipsoid)
gets zero likelihood, as Cobaya does when CAMB fails (``stop_at_error: True`` raises instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from cobaya.log import LoggedError, abstract
from cobaya.theories.cosmo import BoltzmannBase
from cobaya.tools import Pool1D, Pool2D

from ..cosmology import C_KM_S, comoving_distance, densities, hubble
from ..theory import EmulatorTheory, load_theory
from ._names import spellings_of, to_emulator_inputs

__all__ = ["CosmoEmu", "DEFAULT_EMULATORS", "ISSUE_PK"]

DEFAULT_EMULATORS = {
    "cmb_tt": "lcdm_cmb_tt", "cmb_te": "lcdm_cmb_te", "cmb_ee": "lcdm_cmb_ee",
    "cmb_pp": "lcdm_cmb_pp", "derived": "lcdm_derived",
}
"""The shipped whole-box ΛCDM emulators (the default ``emulators`` option)."""

ISSUE_PK = (
    "cosmoemu has no P(k) emulators yet (issue 11: Pk_interpolator / Pk_grid come once P(k) "
    "exists); compute {what} with camb or classy beside cosmoemu.cobaya.CosmoEmu and say which "
    "code provides what with Cobaya's 'provides:' option"
)
_NEEDS_PK = ("Pk_interpolator", "Pk_grid", "sigma_R", "sigma8_z", "fsigma8")
_CL_PRODUCTS = {"tt": "cmb_tt", "te": "cmb_te", "et": "cmb_te", "ee": "cmb_ee", "pp": "cmb_pp"}
_Z_PRODUCTS = ("Hubble", "angular_diameter_distance", "comoving_radial_distance", "Omega_b",
               "Omega_cdm", "Omega_nu_massive")
_EXTRA_DERIVED = ("H0", "h", "As", "logA", "omegam", "omegamh2", "S8")


@eqx.filter_jit
def _evaluate(
    theory: EmulatorTheory, values: dict[str, jax.Array], needed: tuple[str, ...],
    zs: dict[str, jax.Array],
) -> tuple[jax.Array, dict[str, jax.Array], dict[str, jax.Array]]:
    """(inside every emulator's region, products and scalars, background at ``zs``)."""
    inside = jnp.asarray(True)
    for emu in theory.emulators.values():
        inside = inside & emu.in_box({p: values[p] for p in emu.parameters})
    out = theory.compute(values, needed)
    cosmo = theory.cosmology(values)
    out.update(H0=cosmo.H0, h=cosmo.h, As=cosmo.A_s, logA=cosmo.ln10As, omegam=cosmo.Omega_m,
               omegamh2=cosmo.omega_m)
    if "sigma8" in out:
        out["S8"] = out["sigma8"] * jnp.sqrt(cosmo.Omega_m / 0.3)
    bg: dict[str, jax.Array] = {}
    for name, z in zs.items():
        if name == "angular_diameter_distance_2":
            chi = comoving_distance(cosmo, z)
            bg[name] = (chi[:, 1] - chi[:, 0]) / (1.0 + z[:, 1])
            continue
        e2 = (hubble(cosmo, z) / 100.0) ** 2
        if name == "Hubble":
            bg[name] = 100.0 * jnp.sqrt(e2) / C_KM_S  # 1/Mpc, as CAMB's h_of_z
        elif name == "comoving_radial_distance":
            bg[name] = comoving_distance(cosmo, z)
        elif name == "angular_diameter_distance":
            bg[name] = comoving_distance(cosmo, z) / (1.0 + z)
        elif name == "Omega_b":
            bg[name] = cosmo.omega_b * (1.0 + z) ** 3 / e2
        elif name == "Omega_cdm":
            bg[name] = cosmo.omega_cdm * (1.0 + z) ** 3 / e2
        elif name == "Omega_nu_massive":
            bg[name] = densities(cosmo, 1.0 / (1.0 + z))["nu"] / e2
    return inside, out, bg


class CosmoEmu(BoltzmannBase):
    """Cobaya theory from cosmoemu emulators (see the module docstring for what it provides).

    Options (Cobaya input under ``theory: {cosmoemu.cobaya.CosmoEmu: ...}``):
        emulators: product → shipped emulator name or model path (default
            :data:`DEFAULT_EMULATORS`); products ``cmb_tt``, ``cmb_te``, ``cmb_ee``, ``cmb_pp``,
            ``derived``.
        settings: fixed cosmology of the emulators (``omega_nu`` or ``m_nu``, ``N_eff``, …;
            default what their manifests say).
        renames: extra parameter names → an accepted name (``{omegabh2: ombh2}``).
        float64: evaluate in float64 (default True; float32 rounding of C_ℓ moves χ² by ~1e-3).
        stop_at_error: raise on a point outside the emulators' box instead of giving it zero
            likelihood.
    """

    emulators: Mapping[str, str] | None = None
    settings: Mapping[str, float] | None = None
    renames: Mapping[str, str] = {}
    float64: bool = True
    stop_at_error: bool = False
    extra_args: Mapping[str, Any] | None = None  # Cobaya's cosmology-theory option; unused

    # ---- set-up
    def initialize(self) -> None:
        super().initialize()
        spec = dict(self.emulators or DEFAULT_EMULATORS)
        try:
            self.theory = load_theory(spec, settings=self.settings)
        except (ValueError, KeyError, FileNotFoundError) as err:
            raise LoggedError(self.log, "cannot build the emulators %r: %s", spec, err) from err
        self.renames = dict(self.renames or {})
        self._spellings = spellings_of(self.theory.inputs)
        self._cl_lmax: dict[str, int] = {}
        self._z_pools: dict[str, Any] = {}
        self._derived_names = (*self.theory.scalars, *_EXTRA_DERIVED)

    def get_allow_agnostic(self) -> bool:
        return False

    def get_can_support_params(self) -> list[str]:
        """Input parameters: every spelling of the emulators' inputs, and ``renames`` keys."""
        return [*self._spellings, *self.renames]

    def get_can_provide_params(self) -> list[str]:
        """Derived parameters (module docstring)."""
        return list(self._derived_names)

    def initialize_with_params(self) -> None:
        super().initialize_with_params()
        given: dict[str, list[str]] = {}
        for p in self.input_params:
            name = self.translate_param(p)
            if name not in self._spellings:
                raise LoggedError(self.log, "input parameter '%s' is not an emulator input; "
                                  "accepted: %s", p, ", ".join(self._spellings))
            given.setdefault(self._spellings[name], []).append(p)
        for emu_input in self.theory.inputs:
            names = given.get(emu_input, [])
            accepted = [s for s, i in self._spellings.items() if i == emu_input]
            if not names:
                raise LoggedError(
                    self.log, "the emulators need '%s': give it as one of %s in 'params' "
                    "(sampled or fixed)", emu_input, ", ".join(accepted))
            if len(names) > 1:
                raise LoggedError(self.log, "'%s' is given twice (%s); keep one of them",
                                  emu_input, " and ".join(names))

    # ---- what is asked of it
    def must_provide(self, **requirements):
        for k in requirements:
            if k in _NEEDS_PK:
                raise LoggedError(self.log, ISSUE_PK.format(what=k))
        super().must_provide(**requirements)
        for k, v in self._must_provide.items():
            if k == "Cl":
                for cl, lmax in v.items():
                    if cl not in _CL_PRODUCTS:
                        raise LoggedError(
                            self.log, "no emulator gives Cl '%s'; cosmoemu provides %s", cl,
                            ", ".join(_CL_PRODUCTS))
                    product = _CL_PRODUCTS[cl]
                    if product not in self.theory.products:
                        raise LoggedError(
                            self.log, "Cl '%s' needs a '%s' emulator; add it to the "
                            "'emulators' option (e.g. %s: %s)", cl, product, product,
                            DEFAULT_EMULATORS[product])
                    ell_max = int(self.theory.axes(product)["ell"][-1])
                    if lmax > ell_max:
                        raise LoggedError(
                            self.log, "Cl '%s' is needed to ell = %d, but emulator %s covers "
                            "ell = 2..%d", cl, lmax, self.theory.names[product], ell_max)
                    self._cl_lmax[cl] = max(int(lmax), self._cl_lmax.get(cl, 0))
            elif k in _Z_PRODUCTS or k == "angular_diameter_distance_2":
                pool = Pool1D(v["z"]) if k in _Z_PRODUCTS else Pool2D(v["z_pairs"])
                self._z_pools[k] = pool
                self.collectors[k] = _PoolHolder(pool)  # where BoltzmannBase's getters look
            elif v is None:
                if self.translate_param(k) not in self._derived_names:
                    raise LoggedError(self.log, "cannot compute '%s'; derived parameters: %s",
                                      k, ", ".join(self._derived_names))
            else:
                raise LoggedError(self.log, "cosmoemu cannot provide '%s'", k)

    @property
    def _needed(self) -> tuple[str, ...]:
        cls = tuple(sorted({_CL_PRODUCTS[cl] for cl in self._cl_lmax}))
        return cls + self.theory.scalars

    # ---- computing
    def calculate(self, state: dict, want_derived: bool = True, **params_values_dict) -> bool:
        values = {self.translate_param(p): v for p, v in params_values_dict.items()}
        x = to_emulator_inputs(values, self.theory.inputs)
        with jax.enable_x64(bool(self.float64)):
            dtype = jnp.float64 if self.float64 else jnp.float32
            args = {k: jnp.asarray(v, dtype) for k, v in x.items()}
            zs = {k: jnp.asarray(np.asarray(pool.values), dtype)
                  for k, pool in self._z_pools.items()}
            inside, out, bg = _evaluate(self.theory, args, self._needed, zs)
            inside = bool(inside)
            out = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
            bg = {k: np.asarray(v, dtype=np.float64) for k, v in bg.items()}
        if not inside:
            box = ", ".join(f"{p} [{lo:g}, {hi:g}]" for p, lo, hi in self.theory.box)
            msg = (f"point outside the emulators' training region: {x}; box: {box}"
                   + (" (and the Planck-region ellipsoid)" if any(
                       getattr(e, "region", None) for e in self.theory.emulators.values())
                      else ""))
            if self.stop_at_error:
                raise LoggedError(self.log, msg)
            self.log.debug("%s; zero likelihood", msg)
            return False
        cls = {}
        for cl in self._cl_lmax:
            product = _CL_PRODUCTS[cl]
            if product not in cls:
                cls[product] = np.concatenate([np.zeros(2), out[product]])
        state["Cl"] = cls
        for k in bg:
            state[k] = bg[k]
        scalars = {k: float(v) for k, v in out.items() if np.ndim(v) == 0}
        state["derived_extra"] = scalars
        if want_derived:
            state["derived"] = {p: scalars[self.translate_param(p)] for p in self.output_params}
        return True

    # ---- getters (Cobaya's conventions)
    def get_Cl(self, ell_factor: bool = False, units: str = "FIRASmuK2") -> dict[str, np.ndarray]:
        """Lensed C_ℓ by spectrum (``tt``, ``te``, ``et``, ``ee``, ``pp`` as requested) and ``ell``.

        Args:
            ell_factor: multiply TT/TE/EE by ℓ(ℓ+1)/2π (D_ℓ) and pp by [ℓ(ℓ+1)]²/2π.
            units: ``"FIRASmuK2"`` (default), ``"muK2"``, ``"K2"``, ``"FIRASK2"`` or ``"1"``;
                pp is always dimensionless.

        Returns:
            dict of arrays of shape ``(ℓ_max + 1,)``, index = ℓ (ℓ = 0, 1 are zero).
        """
        raw = self.current_state["Cl"]
        t_cmb = self.theory.settings["T_CMB"]
        factor = self._cmb_unit_factor(units, t_cmb) ** 2
        n = len(next(iter(raw.values())))
        ell = np.arange(n, dtype=np.int64)
        ll1 = (ell * (ell + 1)).astype(np.float64)
        out: dict[str, np.ndarray] = {"ell": ell}
        for cl in self._cl_lmax:
            c = raw[_CL_PRODUCTS[cl]].copy()
            if cl == "pp":
                if ell_factor:
                    c *= ll1**2 / (2 * np.pi)
            else:
                c *= factor
                if ell_factor:
                    c *= ll1 / (2 * np.pi)
            out[cl] = c
            if cl == "te":
                out["et"] = c
        return out

    def get_param(self, p: str) -> float:
        """A derived parameter of the current point (``rdrag``, ``sigma8``, …)."""
        return super().get_param(p)

    # ---- not provided
    def get_Pk_interpolator(self, *args, **kwargs):  # noqa: D102 (refused in must_provide)
        raise LoggedError(self.log, ISSUE_PK.format(what="Pk_interpolator"))

    def get_Pk_grid(self, *args, **kwargs):  # noqa: D102
        raise LoggedError(self.log, ISSUE_PK.format(what="Pk_grid"))

    @abstract
    def get_source_Cl(self):  # noqa: D102 (not provided: hidden from Cobaya)
        pass

    def get_version(self) -> str:
        from .. import __version__

        return __version__


class _PoolHolder:
    """What BoltzmannBase's z-dependent getters read from ``self.collectors[q]``."""

    def __init__(self, pool) -> None:
        self.z_pool = pool
