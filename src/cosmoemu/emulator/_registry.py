"""Names of the shipped emulators -> their model files (``cosmoemu/pretrained/registry.json``)."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from ._emulator import Emulator
from ._io import model_paths, read_emulator

__all__ = ["load_emulator", "list_emulators", "registry"]


def registry() -> dict[str, dict[str, Any]]:
    """``{name: {"file": relative stem, "description": ...}}`` of the shipped emulators."""
    text = resources.files("cosmoemu.pretrained").joinpath("registry.json").read_text()
    return json.loads(text)


def list_emulators() -> list[str]:
    """Names accepted by :func:`load_emulator`, sorted."""
    return sorted(registry())


def load_emulator(name_or_path: str | os.PathLike) -> Emulator:
    """Load a shipped emulator by name, or a model file by path.

    Args:
        name_or_path: a name from :func:`list_emulators` (e.g. ``"lcdm_cmb_tt"``), or the path
            of a model (``STEM``, ``STEM.npz`` or ``STEM.json``).

    Returns:
        The :class:`~cosmoemu.Emulator`.

    Raises:
        ValueError: neither a shipped name nor an existing model file.
        ModelFileError: the file is corrupt or of an unknown version.
    """
    reg = registry()
    key = str(name_or_path)
    if key in reg:
        base = resources.files("cosmoemu.pretrained")
        with resources.as_file(base.joinpath(reg[key]["file"] + ".json")) as json_path:
            return read_emulator(Path(json_path))
    npz, js = model_paths(name_or_path)
    if npz.exists() or js.exists():
        return read_emulator(name_or_path)
    names = list(reg)
    raise ValueError(
        f"'{key}' is neither a shipped emulator{did_you_mean(key, names)} nor a model file "
        f"(looked for '{js}'). Shipped: {', '.join(sorted(names)) or 'none'}"
    )
