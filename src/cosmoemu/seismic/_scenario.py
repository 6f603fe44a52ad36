"""The seismic scenario: every number of the forward model, read from one JSON file.

The packaged ``seismic_hypocentre_v1`` scenario (``data/scenario.json``, a copy of the shared
specification) fixes a layered crust, a double-couple point source with its pulse and low-pass,
10 surface receivers, the time grid, the prior box of the hypocentre, the noise level and the
numerical settings of the reflectivity computation. :func:`load_scenario` reads and checks it;
nothing in cosmoemu restates its numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Scenario", "ScenarioError", "load_scenario", "DEFAULT_SCENARIO", "PARAMETERS"]

#: the name of the packaged scenario
DEFAULT_SCENARIO = "seismic_hypocentre_v1"
#: hypocentre parameter names, in order: East, North (km), depth (km, positive down)
PARAMETERS = ("x", "y", "depth")
_BOX_KEYS = ("x_km", "y_km", "depth_km")


class ScenarioError(ValueError):
    """A scenario file is missing a field or holds an invalid value (the message names it)."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"scenario '{source}', field '{field}': {message}")


@dataclass(frozen=True)
class Scenario:
    """A checked scenario.

    Attributes:
        name: scenario name.
        source_file: where it was read from.
        layers: ``(n_layers, 4)`` float64, rows ``(thickness km, vp km/s, vs km/s, rho g/cm^3)``
            from the top; the last thickness is ``inf`` (the half-space).
        strike, dip, rake: source mechanism, degrees.
        m0_internal: scalar moment in pyprop8 units (1e12 N m), so displacement is in mm.
        origin_time: origin time, s.
        stf_half_width: half-width of the causal cosine moment-rate pulse, s.
        lowpass_hz: ``(f0, f1)`` of the cosine low-pass: 1 below f0, 0 above f1, Hz.
        receivers: ``(n_receivers, 2)`` float64, (x East, y North) km.
        receiver_depth: km.
        nt: samples per trace; dt: sampling interval, s; t0: first time, s.
        box: ``{"x": (lo, hi), "y": ..., "depth": ...}`` in km.
        n_fft: FFT length (with padding); f_max: highest computed frequency, Hz.
        dk: largest wavenumber spacing, 1/km; n_bands: equal-width frequency bands, each with
            its own k_max = w_top / c_min + k_extra.
        k_floor: K of the floor K / z_min the scenario states for k_max; z_min in km (both read,
            not applied by the simulator: the shared reference event was computed without it).
        c_min: km/s; k_extra: 1/km.
        sigma: white-noise standard deviation, mm.
        raw: the JSON as read.
    """

    name: str
    source_file: str
    layers: np.ndarray
    strike: float
    dip: float
    rake: float
    m0_internal: float
    origin_time: float
    stf_half_width: float
    lowpass_hz: tuple[float, float]
    receivers: np.ndarray
    receiver_depth: float
    nt: int
    dt: float
    t0: float
    box: dict[str, tuple[float, float]]
    n_fft: int
    f_max: float
    dk: float
    n_bands: int
    k_floor: float
    z_min: float
    c_min: float
    k_extra: float
    sigma: float
    raw: dict[str, Any]

    @property
    def n_receivers(self) -> int:
        """Number of receivers."""
        return int(self.receivers.shape[0])

    @property
    def trace_shape(self) -> tuple[int, int, int]:
        """``(n_receivers, 3, nt)``: receivers, components (x East, y North, z Up), times."""
        return (self.n_receivers, 3, self.nt)

    @property
    def times(self) -> np.ndarray:
        """Sample times, s, shape ``(nt,)``."""
        return self.t0 + self.dt * np.arange(self.nt)

    @property
    def alpha(self) -> float:
        """Damping of the complex frequency, 1/s: ln 10 / ((n_fft - 1) dt) (pyprop8's rule)."""
        return math.log(10.0) / ((self.n_fft - 1) * self.dt)

    def box_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of the prior box in :data:`PARAMETERS` order, km."""
        lo = np.array([self.box[p][0] for p in PARAMETERS])
        hi = np.array([self.box[p][1] for p in PARAMETERS])
        return lo, hi


def load_scenario(scenario: str | Path | Mapping[str, Any] | Scenario | None = None) -> Scenario:
    """Read and check a scenario.

    Args:
        scenario: ``None`` or ``"seismic_hypocentre_v1"`` (the packaged one), a path to a JSON
            file, a mapping as read from one, or a :class:`Scenario` (returned as is).

    Returns:
        The checked :class:`Scenario`.

    Raises:
        FileNotFoundError: no such file.
        ScenarioError: a missing field or an invalid value, naming the field.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is None or scenario == DEFAULT_SCENARIO:
        text = resources.files("cosmoemu.seismic").joinpath("data", "scenario.json").read_text()
        return _parse(json.loads(text), f"{DEFAULT_SCENARIO} (packaged)")
    if isinstance(scenario, Mapping):
        return _parse(dict(scenario), "<mapping>")
    path = Path(scenario)
    if not path.is_file():
        raise FileNotFoundError(f"scenario file '{path}' does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ScenarioError(str(path), "<file>", f"not valid JSON: {err}") from err
    return _parse(data, str(path))


def _get(data: Mapping[str, Any], dotted: str, source: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ScenarioError(source, dotted, "is missing")
        node = node[part]
    return node


def _num(data: Mapping[str, Any], dotted: str, source: str, *, positive: bool = False) -> float:
    value = _get(data, dotted, source)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(source, dotted, f"expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise ScenarioError(source, dotted, f"must be > 0, got {value}")
    return float(value)


def _int(data: Mapping[str, Any], dotted: str, source: str) -> int:
    value = _get(data, dotted, source)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(source, dotted, f"expected a positive integer, got {value!r}")
    return value


def _array(data: Mapping[str, Any], dotted: str, source: str, cols: int) -> np.ndarray:
    value = _get(data, dotted, source)
    try:
        arr = np.array(value, dtype=np.float64)  # "inf" strings parse to inf
    except (TypeError, ValueError) as err:
        raise ScenarioError(source, dotted, f"expected rows of {cols} numbers: {err}") from err
    if arr.ndim != 2 or arr.shape[1] != cols or arr.shape[0] < 1:
        raise ScenarioError(source, dotted, f"expected shape (n, {cols}), got {arr.shape}")
    return arr


def _parse(data: dict[str, Any], source: str) -> Scenario:
    layers = _array(data, "layers_thickness_vp_vs_rho", source, 4)
    if not np.isinf(layers[-1, 0]) or not np.all(np.isfinite(layers[:-1, 0])):
        raise ScenarioError(source, "layers_thickness_vp_vs_rho",
                            "finite thicknesses, then 'inf' for the half-space, are expected")
    if np.any(layers[:, 0] <= 0) or np.any(layers[:, 1:] <= 0):
        raise ScenarioError(source, "layers_thickness_vp_vs_rho",
                            "thicknesses, velocities and densities must be > 0")
    receivers = _array(data, "receivers.xy_km", source, 2)
    n_declared = _int(data, "receivers.n", source)
    if receivers.shape[0] != n_declared:
        raise ScenarioError(source, "receivers.xy_km",
                            f"holds {receivers.shape[0]} receivers, receivers.n says {n_declared}")
    box = {}
    for name, key in zip(PARAMETERS, _BOX_KEYS, strict=True):
        rng = _get(data, f"prior_box.{key}", source)
        if (not isinstance(rng, list) or len(rng) != 2
                or not all(isinstance(v, int | float) for v in rng) or not rng[0] < rng[1]):
            raise ScenarioError(source, f"prior_box.{key}", f"expected [low, high], got {rng!r}")
        box[name] = (float(rng[0]), float(rng[1]))
    f0 = _num(data, "source.lowpass_f0_hz", source, positive=True)
    f1 = _num(data, "source.lowpass_f1_hz", source, positive=True)
    if not f0 < f1:
        raise ScenarioError(source, "source.lowpass_f1_hz", f"must exceed lowpass_f0_hz ({f0})")
    nt, n_fft = _int(data, "time.nt", source), _int(data, "numerics.n_fft", source)
    if n_fft < nt:
        raise ScenarioError(source, "numerics.n_fft", f"must be >= time.nt ({nt}), got {n_fft}")
    return Scenario(
        name=str(_get(data, "name", source)),
        source_file=source,
        layers=layers,
        strike=_num(data, "source.strike_deg", source),
        dip=_num(data, "source.dip_deg", source),
        rake=_num(data, "source.rake_deg", source),
        m0_internal=_num(data, "source.M0_internal", source, positive=True),
        origin_time=_num(data, "source.origin_time_s", source),
        stf_half_width=_num(data, "source.stf_half_width_s", source, positive=True),
        lowpass_hz=(f0, f1),
        receivers=receivers,
        receiver_depth=_num(data, "receivers.depth_km", source),
        nt=nt,
        dt=_num(data, "time.dt_s", source, positive=True),
        t0=_num(data, "time.t0_s", source),
        box=box,
        n_fft=n_fft,
        f_max=_num(data, "numerics.f_max_hz", source, positive=True),
        dk=_num(data, "numerics.dk_per_km", source, positive=True),
        n_bands=_int(data, "numerics.n_bands", source),
        k_floor=_num(data, "numerics.k_floor_K", source, positive=True),
        z_min=_z_min(data, source),
        c_min=_num(data, "numerics.c_min_km_s", source, positive=True),
        k_extra=_num(data, "numerics.k_extra_per_km", source),
        sigma=_num(data, "noise.sigma_mm", source, positive=True),
        raw=data,
    )


def _z_min(data: Mapping[str, Any], source: str) -> float:
    """z_min (km) of the wavenumber rule: ``numerics.z_min_km`` if given, else the value the
    shared file states in the text of ``numerics.wavenumber_rule`` ("z_min = 2 km")."""
    numerics = _get(data, "numerics", source)
    if "z_min_km" in numerics:
        return _num(data, "numerics.z_min_km", source, positive=True)
    rule = str(_get(data, "numerics.wavenumber_rule", source))
    match = re.search(r"z_min\s*=\s*([0-9.eE+-]+)\s*km", rule)
    if match is None:
        raise ScenarioError(source, "numerics.z_min_km",
                            "is missing (and numerics.wavenumber_rule states no 'z_min = ... km')")
    return float(match.group(1))
