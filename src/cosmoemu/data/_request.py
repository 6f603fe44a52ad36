"""What a run computes: quantities and their grids (ell, k, z, derived names), backend-independent.

A :class:`Request` is the part of a config that fixes the *shape* of every sample's output, so
the store, the backends and the reader agree on it. Backends turn one cosmology into a dict of
arrays keyed by store key:

===============  ======================  =========================================================
store key        shape per sample        content
===============  ======================  =========================================================
``spectra``      ``(n_cmb, n_ell)``      lensed C_ell (raw, dimensionless) in ``cmb`` order;
                                         ``pp`` is the lensing potential C_ell^phiphi;
                                         ell = 2..lmax
``derived``      ``(n_derived,)``        derived parameters in ``derived`` order
``pk_lin``       ``(n_z, n_k)``          linear total-matter P(k, z) [Mpc^3], k in 1/Mpc
``pk_nonlin``    ``(n_z, n_k)``          non-linear total-matter P(k, z) [Mpc^3]
===============  ======================  =========================================================

Any other simulator declares its own outputs instead: a backend whose
:meth:`~cosmoemu.data.Backend.output_arrays` returns :class:`ArraySpec` s (name, per-sample
shape, named axes, units) gets a request with only ``arrays`` set, and the store, the writer
and the executors handle those arrays like the cosmological ones (the seismic backend declares
``traces`` of shape ``(receiver, component, t)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "ArraySpec",
    "Axis",
    "CMB_QUANTITIES",
    "PK_QUANTITIES",
    "QUANTITIES",
    "DERIVED_NAMES",
    "NONLINEAR_MODELS",
    "Request",
]

CMB_QUANTITIES = ("tt", "te", "ee", "bb", "pp")
PK_QUANTITIES = ("pk_lin", "pk_nonlin")
QUANTITIES = (*CMB_QUANTITIES, "derived", *PK_QUANTITIES)

#: Derived parameters every built-in backend provides (names of the shared CAMB data set where
#: it has them). ``thetastar`` is 100 theta_*, ``rstar``/``rdrag`` in Mpc, ``age`` in Gyr,
#: ``H0`` in km/s/Mpc, ``S8 = sigma8 * sqrt(Omega_m / 0.3)``; ``Omega_m`` includes massive
#: neutrinos.
DERIVED_NAMES = (
    "sigma8",
    "S8",
    "thetastar",
    "rstar",
    "zstar",
    "rdrag",
    "zdrag",
    "H0",
    "Omega_m",
    "age",
)

#: Non-linear models for P(k) and CMB lensing: ``none`` (linear lensing, no ``pk_nonlin``),
#: ``halofit`` (Takahashi et al. 2012), ``hmcode2016`` (Mead et al. 2016, baryonic ``c_min`` and
#: ``eta_0``), ``hmcode2020`` (Mead et al. 2021, dark matter only) and ``hmcode2020_feedback``
#: (with ``logT_AGN``).
NONLINEAR_MODELS = ("none", "halofit", "hmcode2016", "hmcode2020", "hmcode2020_feedback")


@dataclass(frozen=True)
class Axis:
    """One named axis of a declared output array.

    Attributes:
        name: e.g. ``"t"``, ``"receiver"``.
        values: one entry per position along the axis: numbers, strings, or equal-length
            tuples of numbers (e.g. receiver coordinates).
        units: of the values (``""``: none).
    """

    name: str
    values: tuple
    units: str = ""

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"name": self.name, "values": _listify(self.values), "units": self.units}

    @classmethod
    def from_json(cls, data: dict) -> Axis:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["name"]), _tuplify(data["values"]), str(data.get("units", "")))


@dataclass(frozen=True)
class ArraySpec:
    """An output array declared by a backend (any simulator, not only a Boltzmann code).

    Attributes:
        name: store key and quantity name (not one of the cosmological keys).
        axes: the per-sample axes in order; the shape is their lengths.
        units: units of the values.
        description: one line on what the array holds.
    """

    name: str
    axes: tuple[Axis, ...]
    units: str = ""
    description: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        """Per-sample shape."""
        return tuple(len(axis.values) for axis in self.axes)

    def to_json(self) -> dict:
        """A JSON-ready dict (for the manifest)."""
        return {"name": self.name, "axes": [a.to_json() for a in self.axes],
                "units": self.units, "description": self.description}

    @classmethod
    def from_json(cls, data: dict) -> ArraySpec:
        """Inverse of :meth:`to_json`."""
        return cls(str(data["name"]), tuple(Axis.from_json(a) for a in data["axes"]),
                   str(data.get("units", "")), str(data.get("description", "")))


def _listify(values: Any) -> Any:
    if isinstance(values, tuple | list | np.ndarray):
        return [_listify(v) for v in values]
    if isinstance(values, np.generic):
        return values.item()
    return values


def _tuplify(values: Any) -> Any:
    if isinstance(values, list | tuple | np.ndarray):
        return tuple(_tuplify(v) for v in values)
    if isinstance(values, np.generic):
        return values.item()
    return values


@dataclass(frozen=True)
class Request:
    """The outputs of a run and their grids.

    Attributes:
        cmb: CMB spectra in storage order, a subset of ``("tt", "te", "ee", "bb", "pp")``.
        lmax: largest multipole; spectra cover ell = 2..lmax.
        derived: derived parameter names (empty: no ``derived`` output).
        pk: P(k, z) outputs, a subset of ``("pk_lin", "pk_nonlin")``.
        k: wavenumbers [1/Mpc], increasing.
        z: redshifts, non-negative.
        nonlinear: one of :data:`NONLINEAR_MODELS`; also used for CMB lensing.
        arrays: outputs declared by a non-cosmological backend (then the fields above are
            unused).
    """

    cmb: tuple[str, ...] = ()
    lmax: int = 2508
    derived: tuple[str, ...] = ()
    pk: tuple[str, ...] = ()
    k: tuple[float, ...] = ()
    z: tuple[float, ...] = ()
    nonlinear: str = "hmcode2020"
    arrays: tuple[ArraySpec, ...] = ()

    @property
    def quantities(self) -> tuple[str, ...]:
        """Quantity names in store order: CMB spectra, ``derived``, P(k), declared arrays."""
        return (*self.cmb, *(("derived",) if self.derived else ()), *self.pk,
                *(spec.name for spec in self.arrays))

    @property
    def ell(self) -> np.ndarray:
        """Multipoles 2..lmax, shape ``(lmax - 1,)``, int64."""
        return np.arange(2, self.lmax + 1, dtype=np.int64)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample array shape of each store key this request fills."""
        out: dict[str, tuple[int, ...]] = {}
        if self.cmb:
            out["spectra"] = (len(self.cmb), self.lmax - 1)
        if self.derived:
            out["derived"] = (len(self.derived),)
        for key in self.pk:
            out[key] = (len(self.z), len(self.k))
        for spec in self.arrays:
            out[spec.name] = spec.shape
        return out

    def to_json(self) -> dict:
        """A JSON-ready dict (for the manifest); a request of declared arrays only is
        ``{"arrays": [...]}``, with nothing cosmological in it."""
        if self.arrays:
            if self.cmb or self.derived or self.pk:
                raise ValueError("a request holds either cosmological quantities or declared "
                                 "arrays, not both")
            return {"arrays": [spec.to_json() for spec in self.arrays]}
        return {
            "cmb": list(self.cmb),
            "lmax": self.lmax,
            "derived": list(self.derived),
            "pk": list(self.pk),
            "k": list(self.k),
            "z": list(self.z),
            "nonlinear": self.nonlinear,
        }

    @classmethod
    def from_json(cls, data: dict) -> Request:
        """Inverse of :meth:`to_json`."""
        if "arrays" in data:
            return cls(arrays=tuple(ArraySpec.from_json(a) for a in data["arrays"]))
        return cls(
            cmb=tuple(data["cmb"]),
            lmax=int(data["lmax"]),
            derived=tuple(data["derived"]),
            pk=tuple(data["pk"]),
            k=tuple(float(v) for v in data["k"]),
            z=tuple(float(v) for v in data["z"]),
            nonlinear=str(data["nonlinear"]),
        )
