"""Training data: parameter designs, simulator backends, executors and the chunked store.

Backends: Boltzmann codes (``camb``, ``class``), the closed-form ``toy``, and any simulator that
declares its output arrays (``pyprop8``: seismograms, :mod:`cosmoemu.seismic`).

Generate from a YAML config (``cosmoemu generate CONFIG``, or :func:`generate`), read for
training with :func:`open_store`::

    from cosmoemu.data import generate, open_store

    summary = generate("examples/generate_quick.yaml")      # resumable; failures recorded
    store = open_store(summary.output)
    for batch in store.iter_chunks(["tt", "derived"]):
        ...
"""

from ._backend import Backend, backend_names, get_backend, register_backend
from ._camb import CambBackend
from ._class import ClassBackend
from ._design import DESIGN_KINDS, DesignSpec, ParameterBox, make_design
from ._executors import default_workers, open_executor
from ._genconfig import GenerateConfig, load_config, parse_config
from ._generate import RunSummary, generate
from ._params import COSMO_PARAMETERS
from ._request import (
    CMB_QUANTITIES,
    DERIVED_NAMES,
    NONLINEAR_MODELS,
    PK_QUANTITIES,
    QUANTITIES,
    ArraySpec,
    Axis,
    Request,
)
from ._store import Store, StoreError, open_store
from ._toy import ToyBackend, toy_outputs

__all__ = [
    "ArraySpec",
    "Axis",
    "Backend",
    "CMB_QUANTITIES",
    "COSMO_PARAMETERS",
    "CambBackend",
    "ClassBackend",
    "DERIVED_NAMES",
    "DESIGN_KINDS",
    "DesignSpec",
    "GenerateConfig",
    "NONLINEAR_MODELS",
    "PK_QUANTITIES",
    "ParameterBox",
    "QUANTITIES",
    "Request",
    "RunSummary",
    "Store",
    "StoreError",
    "ToyBackend",
    "backend_names",
    "default_workers",
    "generate",
    "get_backend",
    "load_config",
    "make_design",
    "open_executor",
    "open_store",
    "parse_config",
    "register_backend",
    "toy_outputs",
]
