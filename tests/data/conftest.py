"""Helpers for the training-data tests: small toy-backend configs."""

from __future__ import annotations

import copy

import pytest

TOY = {
    "backend": {"name": "toy", "settings": {}},
    "parameters": {"a": [0.0, 1.0], "b": [0.0, 1.0], "c": [-1.0, 1.0]},
    "design": [{"kind": "lhs", "n": 24, "seed": 3}],
    "quantities": ["tt", "te", "ee", "derived", "pk_lin", "pk_nonlin"],
    "cmb": {"lmax": 40},
    "derived": ["sigma8", "S8", "age"],
    "pk": {"k": {"min": 1e-3, "max": 1.0, "n": 8}, "z": [0.0, 1.0]},
    "chunk_size": 5,
    "timeout": 30,
}


@pytest.fixture
def toy_config(tmp_path):
    """``toy_config(name, **fields)``: the TOY config writing to ``tmp_path / name``."""

    def make(name: str = "store", settings: dict | None = None, **fields) -> dict:
        cfg = copy.deepcopy(TOY)
        cfg["output"] = str(tmp_path / name)
        cfg["backend"]["settings"] = dict(settings or {})
        cfg.update(fields)
        return cfg

    return make
