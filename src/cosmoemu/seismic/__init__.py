"""Seismograms as a function of the hypocentre: the ``seismic_hypocentre_v1`` scenario.

The forward model (pyprop8, the ``seismic`` extra) of a layered crust, a double-couple point
source and 10 surface receivers; every number comes from the scenario JSON
(``cosmoemu/seismic/data/scenario.json``)::

    from cosmoemu.seismic import load_scenario, simulate

    sc = load_scenario()                   # the packaged scenario: receivers, times, box, sigma
    traces = simulate([1.5, -2.5, 12.0])   # (10, 3, 200) displacement in mm, x/y/z = E/N/Up

Training sets: ``cosmoemu generate examples/generate_seismic.yaml`` (the ``pyprop8`` backend,
:class:`PyProp8Backend`).
"""

from ._backend import PyProp8Backend
from ._plots import plot_hypocentre, plot_traces
from ._scenario import (
    DEFAULT_SCENARIO,
    PARAMETERS,
    Scenario,
    ScenarioError,
    load_scenario,
)
from ._simulate import Simulator, simulate

__all__ = [
    "DEFAULT_SCENARIO",
    "PARAMETERS",
    "PyProp8Backend",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "load_scenario",
    "plot_hypocentre",
    "plot_traces",
    "simulate",
]
