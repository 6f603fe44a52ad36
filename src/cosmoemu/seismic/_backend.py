"""The ``pyprop8`` generation backend: seismograms of sampled hypocentres into a store.

Config (``examples/generate_seismic.yaml``)::

    backend: {name: pyprop8, settings: {scenario: ""}}   # "": the packaged scenario, or a path
    parameters: {x: [-10, 10], y: [-10, 10], depth: [9, 17]}   # km, inside the scenario's box
    quantities: [traces]                                       # the default

Each row stores ``traces`` of shape ``(n_receivers, 3, nt)`` in mm with the axes
``receiver`` (x, y km), ``component`` (x East, y North, z Up) and ``t`` (s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import ConfigError
from ..data._backend import Backend
from ..data._request import ArraySpec, Axis, Request
from ._scenario import PARAMETERS, ScenarioError, load_scenario

__all__ = ["PyProp8Backend"]


def _scenario_of(settings: Mapping[str, Any]) -> Any:
    path = settings.get("scenario", "")
    try:
        return load_scenario(path or None)
    except (ScenarioError, FileNotFoundError) as err:
        raise ConfigError("backend.settings.scenario", str(err)) from err


class PyProp8Backend(Backend):
    """Surface displacement seismograms of a point source (pyprop8) as a function of its
    hypocentre ``x``, ``y``, ``depth`` (km); see :func:`cosmoemu.seismic.simulate`.

    Settings: ``scenario`` (``""``: the packaged ``seismic_hypocentre_v1``; else the path of
    a scenario JSON).
    """

    name = "pyprop8"
    distribution = "pyprop8"
    module = "pyprop8"
    extra = "seismic"
    parameters = PARAMETERS
    default_settings: dict[str, Any] = {"scenario": ""}

    def __init__(self, request: Request, settings: Mapping[str, Any],
                 fixed: Mapping[str, float]) -> None:
        super().__init__(request, settings, fixed)
        from ._simulate import Simulator

        self._simulate = Simulator(self.settings["scenario"] or None)

    @classmethod
    def output_arrays(cls, settings: Mapping[str, Any]) -> tuple[ArraySpec, ...]:
        """``traces``: displacement in mm, axes receiver (x, y km), component, t (s)."""
        sc = _scenario_of(settings)
        axes = (
            Axis("receiver", tuple(tuple(float(v) for v in xy) for xy in sc.receivers), "km"),
            Axis("component", ("x", "y", "z")),
            Axis("t", tuple(float(t) for t in sc.times), "s"),
        )
        return (ArraySpec("traces", axes, "mm",
                          f"surface displacement (x East, y North, z Up) of scenario "
                          f"'{sc.name}'"),)

    @classmethod
    def check(cls, sampled: Sequence[str], fixed: Mapping[str, float], request: Request,
              settings: Mapping[str, Any]) -> None:
        super().check(sampled, fixed, request, settings)
        missing = [p for p in PARAMETERS if p not in sampled and p not in fixed]
        if missing:
            raise ConfigError("parameters", f"backend 'pyprop8' needs {', '.join(missing)} "
                                            "(sampled or fixed), in km")

    @classmethod
    def check_box(cls, low: Mapping[str, float], high: Mapping[str, float],
                  fixed: Mapping[str, float], settings: Mapping[str, Any]) -> None:
        sc = _scenario_of(settings)
        for name in PARAMETERS:
            lo, hi = sc.box[name]
            if name in fixed:
                if not lo <= fixed[name] <= hi:
                    raise ConfigError(f"fixed.{name}", f"{fixed[name]:g} km is outside the "
                                      f"scenario's box [{lo:g}, {hi:g}] km")
            elif low[name] < lo or high[name] > hi:
                raise ConfigError(f"parameters.{name}", f"[{low[name]:g}, {high[name]:g}] km "
                                  f"leaves the scenario's box [{lo:g}, {hi:g}] km")

    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        values = {**self.fixed, **params}
        traces = self._simulate([values[p] for p in PARAMETERS])
        return {spec.name: traces for spec in self.request.arrays}
