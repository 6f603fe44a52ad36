"""Priors, posterior assembly, NUTS sampling, diagnostics, chain I/O, summaries and plots.

The NUTS kernel's pure functions are also reachable as one namespace, ``inference.nuts``
(``nuts.init``, ``nuts.step_block``, ``nuts.end_warmup``, ``nuts.chain_mesh``), as in BlackJAX.
A run saves itself to a :class:`Checkpoint` and resumes from it (``sample_posterior(...,
checkpoint=STEM)``).
"""

from ..cosmology import T_CMB
from ..theory import EmulatorTheory, load_theory
from . import _nuts as nuts
from ._chains import Chains
from ._chains_io import read_chains, to_getdist, write_chains
from ._checkpoint import Checkpoint, CheckpointMismatch
from ._derived import DERIVED, latex_label
from ._diagnostics import diagnose, effective_sample_size, ess_bulk, ess_tail, split_rhat
from ._driver import NUTSResult, SamplerKeys, sample_nuts
from ._from_config import RunConfig, load_run_config, posterior_from_config
from ._mode import find_mode
from ._nuts import NUTSConfig, NUTSInfo, NUTSState, end_warmup, step_block
from ._plots import triangle_plot
from ._posterior import Posterior, block_names
from ._priors import (
    PRIORS,
    Independent,
    LogUniform,
    MvNormal,
    Normal,
    Prior,
    ScalarPrior,
    Uniform,
    VectorPrior,
    prior_from_config,
    register_prior,
)
from ._sample import SampleResult, posterior_identity, sample_posterior
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
    "PRIORS",
    "T_CMB",
    "Bijection",
    "Chains",
    "Checkpoint",
    "CheckpointMismatch",
    "EmulatorTheory",
    "Identity",
    "Independent",
    "LogUniform",
    "LowerBound",
    "MvNormal",
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
    "ScalarPrior",
    "SoftInterval",
    "Uniform",
    "UpperBound",
    "VectorPrior",
    "bijection_for",
    "block_names",
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
    "posterior_identity",
    "prior_from_config",
    "read_chains",
    "register_prior",
    "sample_nuts",
    "sample_posterior",
    "split_rhat",
    "step_block",
    "summarize",
    "to_getdist",
    "triangle_plot",
    "write_chains",
]
