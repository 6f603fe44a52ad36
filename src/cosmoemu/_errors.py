"""Error types and message helpers shared by every part of cosmoemu.

Errors say what was expected, what arrived and what to do. Use :func:`did_you_mean` for names
and :class:`ConfigError` for anything read from a YAML config (it names the field).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ConfigError", "OutOfBoxError", "did_you_mean", "unknown_name_message"]


class ConfigError(ValueError):
    """A configuration value is missing or invalid.

    Args:
        field: dotted path of the offending field, e.g. ``"training.schedule[1].lr"``.
        message: what is wrong and what is allowed.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"config field '{field}': {message}")


class OutOfBoxError(ValueError):
    """A parameter lies outside the box an emulator was trained on."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" — did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" — did you mean '{close[0]}'?" if close else ""


def unknown_name_message(kind: str, name: str, allowed: Iterable[str]) -> str:
    """Message for an unknown name.

    Example: ``unknown parameter 'Omega_b' — did you mean 'omega_b'? (allowed: ...)``.
    """
    allowed = list(allowed)
    return (
        f"unknown {kind} '{name}'{did_you_mean(name, allowed)} "
        f"(allowed: {', '.join(map(str, allowed))})"
    )
