"""Priors, posterior assembly, NUTS sampling, diagnostics, chain I/O, summaries and plots.

The NUTS kernel's pure functions are also reachable as one namespace, ``inference.nuts``
(``nuts.init``, ``nuts.step_block``, ``nuts.end_warmup``), as in BlackJAX.
"""

from . import _nuts as nuts
from ._chains import Chains
from ._chains_io import read_chains, to_getdist, write_chains
from ._derived import DERIVED, latex_label
from ._diagnostics import diagnose, effective_sample_size, ess_bulk, ess_tail, split_rhat
from ._driver import NUTSResult, SamplerKeys, sample_nuts
from ._from_config import RunConfig, load_run_config, posterior_from_config
from ._mode import find_mode
from ._nuts import NUTSConfig, NUTSInfo, NUTSState, end_warmup, step_block
from ._plots import triangle_plot
from ._posterior import Posterior
from ._priors import Normal, Prior, Uniform, prior_from_config
from ._sample import SampleResult, sample_posterior
from ._summary import ParamSummary, format_table, summarize
from ._theory import T_CMB, EmulatorTheory, load_theory
from ._transforms import (
    Bijection,
    Identity,
    LowerBound,
    SoftInterval,
    UpperBound,
    bijection_for,
)

__all__ = [
    "DERIVED",
    "T_CMB",
    "Bijection",
    "Chains",
    "EmulatorTheory",
    "Identity",
    "LowerBound",
    "NUTSConfig",
    "NUTSInfo",
    "NUTSResult",
    "NUTSState",
    "Normal",
    "ParamSummary",
    "Posterior",
    "Prior",
    "RunConfig",
    "SampleResult",
    "SamplerKeys",
    "SoftInterval",
    "Uniform",
    "UpperBound",
    "bijection_for",
    "diagnose",
    "effective_sample_size",
    "end_warmup",
    "ess_bulk",
    "ess_tail",
    "find_mode",
    "format_table",
    "latex_label",
    "load_run_config",
    "load_theory",
    "nuts",
    "posterior_from_config",
    "prior_from_config",
    "read_chains",
    "sample_nuts",
    "sample_posterior",
    "split_rhat",
    "step_block",
    "summarize",
    "to_getdist",
    "triangle_plot",
    "write_chains",
]
