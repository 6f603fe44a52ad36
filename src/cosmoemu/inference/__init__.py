"""Priors, posterior assembly, NUTS sampling, diagnostics, chain I/O, summaries and plots."""

from ..cosmology import T_CMB
from ..theory import EmulatorTheory, load_theory
from ._chains import Chains, read_chains, to_getdist, write_chains
from ._derived import DERIVED, latex_label
from ._diagnostics import diagnose, effective_sample_size, ess_bulk, ess_tail, split_rhat
from ._from_config import RunConfig, load_run_config, posterior_from_config
from ._nuts import NUTSConfig, NUTSResult, find_mode, sample_nuts
from ._plots import triangle_plot
from ._posterior import Posterior
from ._priors import Normal, Prior, Uniform, prior_from_config
from ._sample import SampleResult, sample_posterior
from ._summary import ParamSummary, format_table, summarize
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
    "NUTSResult",
    "Normal",
    "ParamSummary",
    "Posterior",
    "Prior",
    "RunConfig",
    "SampleResult",
    "SoftInterval",
    "Uniform",
    "UpperBound",
    "bijection_for",
    "diagnose",
    "effective_sample_size",
    "ess_bulk",
    "ess_tail",
    "find_mode",
    "format_table",
    "latex_label",
    "load_run_config",
    "load_theory",
    "posterior_from_config",
    "prior_from_config",
    "read_chains",
    "sample_nuts",
    "sample_posterior",
    "split_rhat",
    "summarize",
    "to_getdist",
    "triangle_plot",
    "write_chains",
]
