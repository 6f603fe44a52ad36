"""Named axes of an emulator's outputs: ``ell``; ``(z, k)`` for P(k, z); ``(receiver,
component, time)`` for a seismic trace. Each has a name, units and a label per index; they are
saved in the model manifest and ``predict`` returns one array dimension per axis, in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Axis", "as_axes"]


@dataclass(frozen=True)
class Axis:
    """One named axis of an emulator's outputs.

    Attributes:
        name: e.g. ``"ell"``, ``"z"``, ``"k"``, ``"name"`` (derived outputs), ``"time"``.
        values: the label of each index (numbers or strings), a tuple.
        units: of the values, e.g. ``"1/Mpc"`` for k; ``""`` when dimensionless or unnamed.
    """

    name: str
    values: tuple
    units: str = ""

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"axis '{self.name}' needs a 1-D, non-empty list of values, got "
                             f"shape {values.shape}")
        object.__setattr__(self, "values", tuple(values.tolist()))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "units", str(self.units))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def array(self) -> np.ndarray:
        """The values as an array."""
        return np.asarray(self.values)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "units": self.units, "values": list(self.values)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Axis:
        return cls(d["name"], tuple(d["values"]), d.get("units", ""))


def as_axes(axes: Any, shape: tuple[int, ...] | None = None) -> tuple[Axis, ...]:
    """Axes from a mapping ``{name: values}`` (or ``{name: {"values", "units"}}``) or a sequence
    of :class:`Axis`, ``(name, values[, units])`` or ``{"name", "values", "units"}``, checked
    against ``shape`` (the outputs' shape per sample) when given.

    Raises:
        ValueError: an axis is empty or not 1-D, names repeat, or the lengths do not match.
    """
    out: list[Axis] = []
    items = axes.items() if isinstance(axes, Mapping) else enumerate(axes)
    for key, a in items:
        if isinstance(a, Axis):
            out.append(a)
        elif isinstance(axes, Mapping):
            if isinstance(a, Mapping):
                out.append(Axis(key, a["values"], a.get("units", "")))
            else:
                out.append(Axis(key, a))
        elif isinstance(a, Mapping):
            out.append(Axis.from_json(a))
        else:
            out.append(Axis(*a))
    names = [a.name for a in out]
    if len(set(names)) != len(names):
        raise ValueError(f"axis names must differ, got {names}")
    if shape is not None and tuple(len(a) for a in out) != tuple(shape):
        raise ValueError(
            "axes " + ", ".join(f"{a.name} ({len(a)})" for a in out)
            + f" do not match the outputs' shape per sample {tuple(shape)}"
        )
    return tuple(out)
