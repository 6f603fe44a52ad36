"""Backends: the interface and a small registry (name -> class).

A backend turns one parameter point (a dict of parameter values) into the arrays of a
:class:`~cosmoemu.data.Request`. Boltzmann codes fill the cosmological quantities (C_ell,
derived parameters, P(k, z)); any other simulator declares its own output arrays with
:meth:`Backend.output_arrays` and is run, stored and resumed the same way.

The class is imported and checked in the driver process (cheap:
no Boltzmann code is imported there) and instantiated inside a sandbox process, where the
heavy module is imported and every sample is computed.

Third-party backends: subclass :class:`Backend` and call :func:`register_backend`, or name the
class in a config as ``backend: {name: "my_package.my_module:MyBackend"}``. Worker processes
find a backend by that import path, so it must live in an importable module.
"""

from __future__ import annotations

import abc
import importlib
import importlib.metadata
import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._config import check_keys
from .._errors import ConfigError, unknown_name_message
from ._params import check_cosmo_parameters
from ._request import DERIVED_NAMES, NONLINEAR_MODELS, QUANTITIES, ArraySpec, Request

__all__ = ["Backend", "register_backend", "get_backend", "backend_names", "backend_target"]


class Backend(abc.ABC):
    """One simulator behind named parameters and outputs (a Boltzmann code, or any other).

    Subclasses set the class attributes and implement :meth:`compute`; a non-cosmological
    simulator also overrides :meth:`output_arrays` to declare its outputs. The constructor runs in
    the worker's sandbox process and may import the heavy code.

    Args:
        request: what to compute.
        settings: fixed backend settings (accuracy), already checked by :meth:`check`.
        fixed: fixed parameter values by name.
    """

    #: registry name
    name: ClassVar[str] = ""
    #: the PyPI distribution whose version is recorded (``None``: cosmoemu's own)
    distribution: ClassVar[str | None] = None
    #: the module that must be importable for the backend to run
    module: ClassVar[str | None] = None
    #: the cosmoemu extra that installs it (named in the error when it is missing)
    extra: ClassVar[str | None] = None
    #: allowed parameter names (``None``: any name)
    parameters: ClassVar[tuple[str, ...] | None] = None
    quantities: ClassVar[tuple[str, ...]] = QUANTITIES
    derived_names: ClassVar[tuple[str, ...]] = DERIVED_NAMES
    nonlinear_models: ClassVar[tuple[str, ...]] = NONLINEAR_MODELS
    #: allowed settings and their defaults (the default's type is the allowed type)
    default_settings: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, request: Request, settings: Mapping[str, Any], fixed: Mapping[str, float]
    ) -> None:
        self.request = request
        self.settings = {**self.default_settings, **settings}
        self.fixed = dict(fixed)

    @abc.abstractmethod
    def compute(self, params: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Outputs for one cosmology.

        Args:
            params: sampled parameter values by name.

        Returns:
            Arrays keyed by store key with the shapes of ``request.shapes()`` (float64).

        Raises:
            Exception: any error; the sample is then recorded as failed with its message.
        """

    # ---- driver-side checks (no Boltzmann code is imported) ----

    @classmethod
    def output_arrays(cls, settings: Mapping[str, Any]) -> tuple[ArraySpec, ...] | None:
        """The output arrays of a non-cosmological backend, or ``None`` (the default): the
        backend fills the cosmological quantities of the config (``quantities``, ``cmb``,
        ``pk``, ``derived``, ``nonlinear``).

        Override it to declare arrays by name, axes and units; a config then selects among
        them with ``quantities`` (default: all) and the store keeps them under their names.
        It runs in the driver, so it must not import the simulator itself.

        Args:
            settings: the backend settings, merged with the defaults.
        """
        return None

    @classmethod
    def version(cls) -> str:
        """Version of the code behind the backend, read from package metadata."""
        dist = cls.distribution
        if dist is None:
            from .. import __version__

            return f"cosmoemu {__version__}"
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    @classmethod
    def check_available(cls) -> None:
        """Raise :class:`ConfigError` when the backend's module is not installed."""
        if cls.module is not None and importlib.util.find_spec(cls.module) is None:
            extra = (f" (pip install 'cosmoemu[{cls.extra}]')" if cls.extra else "")
            raise ConfigError(
                "backend.name",
                f"backend '{cls.name}' needs the Python package '{cls.distribution}', which is "
                f"not installed{extra}",
            )

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Check settings names and types; return them merged with the defaults."""
        check_keys(settings, cls.default_settings, where="backend.settings")
        out = dict(cls.default_settings)
        for key, value in settings.items():
            default = cls.default_settings[key]
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, int | float):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                value = type(default)(value) if ok and isinstance(default, float) else value
            else:
                ok = isinstance(value, type(default)) or default is None
            if not ok:
                raise ConfigError(
                    f"backend.settings.{key}",
                    f"expected {type(default).__name__}, got {value!r}",
                )
            out[key] = value
        return out

    @classmethod
    def check(
        cls,
        sampled: Sequence[str],
        fixed: Mapping[str, float],
        request: Request,
        settings: Mapping[str, Any],
    ) -> None:
        """Check a config against what this backend can do, before any run.

        Raises:
            ConfigError: naming the field and the allowed values.
        """
        if cls.parameters is not None:
            for section, names in (("parameters", sampled), ("fixed", list(fixed))):
                for name in names:
                    if name not in cls.parameters:
                        raise ConfigError(
                            f"{section}.{name}",
                            unknown_name_message(f"parameter for backend '{cls.name}'", name,
                                                 cls.parameters),
                        )
        if request.arrays:
            declared = cls.output_arrays({**cls.default_settings, **settings}) or ()
            names = [spec.name for spec in declared]
            for spec in request.arrays:
                if spec not in declared:
                    raise ConfigError("quantities", unknown_name_message(
                        f"output of backend '{cls.name}'", spec.name, names))
            cls.check_settings(settings)
            return
        for q in request.quantities:
            if q not in cls.quantities:
                raise ConfigError(
                    "quantities", unknown_name_message(f"quantity for backend '{cls.name}'", q,
                                                       cls.quantities)
                )
        for d in request.derived:
            if d not in cls.derived_names:
                raise ConfigError("derived", unknown_name_message("derived parameter", d,
                                                                  cls.derived_names))
        if request.nonlinear not in cls.nonlinear_models:
            raise ConfigError(
                "nonlinear", unknown_name_message(f"non-linear model for backend '{cls.name}'",
                                                  request.nonlinear, cls.nonlinear_models)
            )
        cls.check_settings(settings)


    @classmethod
    def check_box(cls, low: Mapping[str, float], high: Mapping[str, float],
                  fixed: Mapping[str, float], settings: Mapping[str, Any]) -> None:
        """Check the design box and fixed values against the backend's domain (default: no
        check). Called once per config, after :meth:`check`.

        Args:
            low, high: the box's corners by sampled parameter name.
            fixed: fixed parameter values.
            settings: backend settings merged with the defaults.

        Raises:
            ConfigError: naming the parameter and the allowed range.
        """
        return None


# name -> "module:qualname" (imported lazily, so the registry costs nothing)
_REGISTRY: dict[str, str] = {
    "camb": "cosmoemu.data._camb:CambBackend",
    "class": "cosmoemu.data._class:ClassBackend",
    "toy": "cosmoemu.data._toy:ToyBackend",
    "pyprop8": "cosmoemu.seismic._backend:PyProp8Backend",
}


def register_backend(name: str, backend: type[Backend] | str) -> None:
    """Make a backend available under ``name`` in configs.

    Args:
        name: the name used in ``backend.name``.
        backend: a :class:`Backend` subclass defined at module level, or its import path
            ``"package.module:ClassName"``.
    """
    if isinstance(backend, str):
        _REGISTRY[name] = backend
    else:
        _REGISTRY[name] = f"{backend.__module__}:{backend.__qualname__}"


def backend_names() -> tuple[str, ...]:
    """Names of the registered backends."""
    return tuple(_REGISTRY)


def backend_target(name: str) -> str:
    """The import path ``"module:qualname"`` of the backend called ``name`` (or a path itself)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return name
    raise ConfigError("backend.name", unknown_name_message("backend", name, _REGISTRY))


def get_backend(name: str) -> type[Backend]:
    """The backend class for a registered name or an import path ``"module:ClassName"``.

    Raises:
        ConfigError: unknown name, or the path does not name a :class:`Backend` subclass.
    """
    target = backend_target(name)
    module_name, _, qualname = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise ConfigError("backend.name", f"cannot import backend '{target}': {err}") from err
    if not (isinstance(obj, type) and issubclass(obj, Backend)):
        raise ConfigError("backend.name", f"'{target}' is not a cosmoemu.data.Backend subclass")
    return obj


class BoltzmannBackend(Backend):
    """Shared by the CAMB and CLASS backends: the cosmological-parameter checks."""

    @classmethod
    def check(
        cls,
        sampled: Sequence[str],
        fixed: Mapping[str, float],
        request: Request,
        settings: Mapping[str, Any],
    ) -> None:
        super().check(sampled, fixed, request, settings)
        check_cosmo_parameters(sampled, fixed, request.nonlinear, cls.name)
        if "pk_nonlin" in request.pk and request.nonlinear == "none":
            raise ConfigError("nonlinear", "quantity 'pk_nonlin' needs a non-linear model, got "
                                           "'none'")
