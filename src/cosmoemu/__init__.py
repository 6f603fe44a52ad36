"""cosmoemu: fully differentiable Bayesian cosmology with neural emulators.

generate training spectra → train emulators → validate them → build likelihoods → sample →
evidence, in JAX. The public names below are imported lazily, so ``import cosmoemu`` is quick.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    # emulators
    "Emulator": "cosmoemu.emulator",
    "OutOfBoxError": "cosmoemu.emulator",
    "load_emulator": "cosmoemu.emulator",
    "list_emulators": "cosmoemu.emulator",
    "save_emulator": "cosmoemu.emulator",
    "train_emulator": "cosmoemu.emulator",
    "TrainSpec": "cosmoemu.emulator",
    "import_cosmopower": "cosmoemu.emulator",
    # cosmology and theory
    "Cosmology": "cosmoemu.cosmology",
    "EmulatorTheory": "cosmoemu.theory",
    "register_product": "cosmoemu.theory",
    # matter power spectrum
    "matter_power": "cosmoemu.matter",
    "sigma8": "cosmoemu.matter",
    "S8": "cosmoemu.matter",
    "ln10As_from_S8": "cosmoemu.matter",
    "MatterPower": "cosmoemu.matter",
    "load_matter_power": "cosmoemu.matter",
    # training data
    "generate": "cosmoemu.data",
    "open_store": "cosmoemu.data",
    # likelihoods
    "PlanckLite": "cosmoemu.likelihoods",
    "planck_lite_loglike": "cosmoemu.likelihoods",
    "DesiBAO": "cosmoemu.likelihoods",
    "register_likelihood": "cosmoemu.likelihoods",
    # inference
    "posterior_from_config": "cosmoemu.inference",
    "sample_posterior": "cosmoemu.inference",
    "Chains": "cosmoemu.inference",
    "read_chains": "cosmoemu.inference",
    "register_prior": "cosmoemu.inference",
    # evidence: `cosmoemu.evidence` is the subpackage, which is callable (it calls its
    # `evidence` function), so the function and the module are one object in every import order
    "evidence": None,
    "bayes_factor": "cosmoemu.evidence",
    # simulation-based inference (the subpackage)
    "sbi": None,
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "evidence":
        return importlib.import_module("cosmoemu.evidence")  # binds cosmoemu.evidence itself
    if name == "sbi":
        return importlib.import_module("cosmoemu.sbi")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cosmoemu' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
