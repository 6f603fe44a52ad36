"""Reading YAML configs with errors that name the field.

Every ``cosmoemu`` command reads a YAML file into plain dicts; these helpers pull typed values
out of them and raise :class:`~cosmoemu._errors.ConfigError` naming the dotted field path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ._errors import ConfigError, did_you_mean

__all__ = ["load_yaml", "get", "check_choice", "check_keys", "check_writable_dir"]

_MISSING = object()


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; a clear error when missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError("<file>", f"'{path}' is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(
            "<file>", f"'{path}' must hold a mapping of fields, got {type(data).__name__}"
        )
    return data


def get(
    cfg: Mapping[str, Any],
    key: str,
    types: type | tuple[type, ...] | None = None,
    default: Any = _MISSING,
    *,
    where: str = "",
) -> Any:
    """Return ``cfg[key]`` checked against ``types``; ``default`` when absent (else an error).

    Args:
        cfg: the mapping to read.
        key: the key in it.
        types: allowed Python types (``int`` also accepts nothing but ints; ``float`` accepts ints).
        default: value when the key is absent; without it the key is required.
        where: dotted prefix of ``cfg`` inside the whole config, for the message.
    """
    field = f"{where}.{key}" if where else key
    if not isinstance(cfg, Mapping):
        raise ConfigError(where or "<root>", f"must be a mapping, got {type(cfg).__name__}")
    if key not in cfg:
        if default is _MISSING:
            raise ConfigError(field, "is required but missing")
        return default
    value = cfg[key]
    if types is not None:
        allowed = types if isinstance(types, tuple) else (types,)
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            names = " or ".join(t.__name__ for t in allowed)
            raise ConfigError(field, f"expected {names}, got {value!r}")
    return value


def check_choice(value: Any, allowed: Iterable[str], field: str) -> str:
    """Raise unless ``value`` is one of ``allowed``; the message lists them."""
    allowed = list(allowed)
    if value not in allowed:
        hint = did_you_mean(str(value), allowed)
        raise ConfigError(field, f"got {value!r}{hint}; allowed values: {', '.join(allowed)}")
    return value


def check_keys(cfg: Mapping[str, Any], allowed: Iterable[str], where: str = "") -> None:
    """Raise on a key of ``cfg`` that is not in ``allowed`` (catches typos in configs)."""
    allowed = list(allowed)
    for key in cfg:
        if key not in allowed:
            field = f"{where}.{key}" if where else str(key)
            raise ConfigError(
                field,
                f"unknown field{did_you_mean(str(key), allowed)}; "
                f"allowed fields: {', '.join(allowed)}",
            )


def check_writable_dir(directory: str | Path, field: str, what: str = "path") -> None:
    """Create ``directory`` if needed and check a file can be written there.

    Raises:
        ConfigError: naming ``field``, the directory and the system's reason.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(field, f"cannot write to '{directory}': {err.strerror or err}; "
                                 f"choose a writable {what}") from err
