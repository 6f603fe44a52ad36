"""The ``cosmoemu generate`` YAML config: read, check (before any Boltzmann call), hold.

Fields (see ``examples/generate_lcdm_cmb.yaml`` for a full one)::

    output: path/to/store          # a directory, relative to the working directory
    backend: camb                  # or {name: camb, settings: {...}}; camb, class, toy, a:path
    parameters:                    # sampled parameters and their box [low, high]
      omega_b: [0.019, 0.026]
    fixed: {m_ncdm: 0.06}          # fixed parameters (defaults: cosmoemu.data._params)
    design:                        # one design or a list (their union)
      - {kind: lhs, n: 6000, seed: 777}
      # or groups of rows sharing the transfer-function parameters (CAMB reuses its transfers):
      # {kind: lhs, n: 40000, seed: 1, group: 40, shared: [omega_b, omega_cdm, h]}
    quantities: [tt, te, ee, pp, derived]    # also bb, pk_lin, pk_nonlin; for a backend that
                                   # declares its own output arrays (e.g. pyprop8: traces), a
                                   # subset of those (default: all), and no cmb/pk/derived/nonlinear
    cmb: {lmax: 2508}
    derived: [sigma8, thetastar]   # default: all of DERIVED_NAMES
    pk: {k: {min: 1.0e-4, max: 5.0, n: 200}, z: [0.0, 0.5, 1.0]}   # k in 1/Mpc (or a list)
    nonlinear: hmcode2020          # none, halofit, hmcode2016, hmcode2020, hmcode2020_feedback
    chunk_size: 25                 # samples per chunk file
    dtype: float32                 # storage of spectra and P(k) (float32 costs ~6e-8 relative)
    timeout: 600                   # seconds per sample before the backend process is killed
    execution: {executor: local, address: null, workers: null}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._config import check_choice, check_keys, get, load_yaml
from .._errors import ConfigError, unknown_name_message
from ._backend import Backend, backend_target, get_backend
from ._design import DESIGN_KINDS, DesignSpec, ParameterBox
from ._request import (
    CMB_QUANTITIES,
    DERIVED_NAMES,
    NONLINEAR_MODELS,
    QUANTITIES,
    ArraySpec,
    Request,
)

__all__ = ["GenerateConfig", "load_config", "parse_config", "EXECUTORS"]

EXECUTORS = ("local", "dask", "mpi")
_FIELDS = ("output", "backend", "parameters", "fixed", "design", "quantities", "cmb", "pk",
           "derived", "nonlinear", "chunk_size", "dtype", "timeout", "execution")


@dataclass(frozen=True)
class GenerateConfig:
    """A checked ``cosmoemu generate`` config.

    Attributes:
        output: the store directory.
        backend: backend name (or import path); ``target`` is its import path.
        settings: backend settings, merged with the backend's defaults.
        box: sampled parameters and their ranges.
        fixed: fixed parameter values.
        designs: the designs whose union is sampled.
        request: outputs and grids.
        chunk_size: samples per chunk file.
        dtype: storage dtype of spectra and P(k) (``float32`` or ``float64``).
        timeout: seconds per sample (``None``: no limit).
        execution: defaults for the executor (``executor``, ``address``, ``workers``).
        raw: the config as read (recorded in the manifest).
    """

    output: Path
    backend: str
    target: str
    settings: dict[str, Any]
    box: ParameterBox
    fixed: dict[str, float]
    designs: tuple[DesignSpec, ...]
    request: Request
    chunk_size: int = 25
    dtype: str = "float32"
    timeout: float | None = 600.0
    execution: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def backend_class(self) -> type[Backend]:
        """The backend class (imported; the Boltzmann code itself is not)."""
        return get_backend(self.target)

    @property
    def n_samples(self) -> int:
        """Rows of the whole design."""
        return sum(spec.n for spec in self.designs)


def load_config(path: str | Path) -> GenerateConfig:
    """Read and check a ``cosmoemu generate`` YAML config.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: a bad field, naming it and the allowed values.
    """
    return parse_config(load_yaml(path))


def parse_config(cfg: Mapping[str, Any]) -> GenerateConfig:
    """Check a config mapping (as read from YAML) and build a :class:`GenerateConfig`.

    Every name, range and setting is checked against the chosen backend here, so a bad config
    fails before any Boltzmann call.

    Raises:
        ConfigError: naming the field, what arrived and what is allowed.
    """
    check_keys(cfg, _FIELDS)
    output = Path(get(cfg, "output", str))
    backend, settings = _backend(cfg.get("backend", "camb"))
    box = _box(get(cfg, "parameters", dict))
    fixed = _fixed(get(cfg, "fixed", dict, {}))
    designs = _designs(get(cfg, "design", (dict, list)), box)
    target = backend_target(backend)
    cls = get_backend(target)
    declared = cls.output_arrays(cls.check_settings(settings))
    request = _request(cfg) if declared is None else _array_request(cfg, declared)
    chunk_size = get(cfg, "chunk_size", int, 25)
    if chunk_size < 1:
        raise ConfigError("chunk_size", f"must be >= 1, got {chunk_size}")
    dtype = check_choice(get(cfg, "dtype", str, "float32"), ("float32", "float64"), "dtype")
    timeout = get(cfg, "timeout", (float, type(None)), 600.0)
    if timeout is not None and not timeout > 0:
        raise ConfigError("timeout", f"must be a positive number of seconds or null, got {timeout}")
    execution = _execution(get(cfg, "execution", dict, {}))

    cls.check(box.names, fixed, request, settings)
    cls.check_box(dict(zip(box.names, box.low, strict=True)),
                  dict(zip(box.names, box.high, strict=True)), fixed,
                  cls.check_settings(settings))
    cls.check_available()
    return GenerateConfig(
        output=output, backend=backend, target=target, settings=cls.check_settings(settings),
        box=box, fixed=fixed, designs=designs, request=request, chunk_size=chunk_size,
        dtype=dtype, timeout=timeout, execution=execution, raw=dict(cfg),
    )


def _backend(value: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    if not isinstance(value, Mapping):
        raise ConfigError("backend", f"expected a name or a mapping, got {value!r}")
    check_keys(value, ("name", "settings"), where="backend")
    return get(value, "name", str, where="backend"), dict(
        get(value, "settings", dict, {}, where="backend")
    )


def _number(value: Any, field_: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field_, f"expected a finite number, got {value!r}")
    return float(value)


def _box(params: Mapping[str, Any]) -> ParameterBox:
    if not params:
        raise ConfigError("parameters", "needs at least one sampled parameter")
    names, low, high = [], [], []
    for name, rng in params.items():
        where = f"parameters.{name}"
        if isinstance(rng, Mapping):
            check_keys(rng, ("low", "high"), where=where)
            rng = [get(rng, "low", where=where), get(rng, "high", where=where)]
        if not isinstance(rng, list | tuple) or len(rng) != 2:
            raise ConfigError(where, f"expected a box [low, high], got {rng!r}")
        lo, hi = _number(rng[0], where), _number(rng[1], where)
        if not lo < hi:
            raise ConfigError(where, f"low must be below high, got [{lo}, {hi}]")
        names.append(str(name))
        low.append(lo)
        high.append(hi)
    return ParameterBox(tuple(names), tuple(low), tuple(high))


def _fixed(fixed: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): _number(v, f"fixed.{k}") for k, v in fixed.items()}


def _per_parameter(value: Any, box: ParameterBox, where: str) -> tuple[float, ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(where, f"expected a mapping parameter -> value, got {value!r}")
    for name in value:
        if name not in box.names:
            raise ConfigError(f"{where}.{name}", unknown_name_message("parameter", name, box.names))
    missing = [n for n in box.names if n not in value]
    if missing:
        raise ConfigError(where, f"missing a value for {', '.join(missing)}")
    return tuple(_number(value[n], f"{where}.{n}") for n in box.names)


def _designs(value: Any, box: ParameterBox) -> tuple[DesignSpec, ...]:
    items = [value] if isinstance(value, Mapping) else list(value)
    if not items:
        raise ConfigError("design", "needs at least one design")
    specs = []
    for i, item in enumerate(items):
        where = f"design[{i}]" if isinstance(value, list) else "design"
        kind = check_choice(get(item, "kind", str, where=where), DESIGN_KINDS, f"{where}.kind")
        allowed = ["kind", "n", "seed"]
        if kind in ("lhs", "sobol", "uniform"):
            allowed += ["group", "shared"]
        if kind in ("gaussian", "ellipsoid"):
            allowed += ["fiducial", "sigma", "covariance", "truncate"]
        if kind == "ellipsoid":
            allowed.append("radius")
        check_keys(item, allowed, where=where)
        n = get(item, "n", int, where=where)
        if n < 1:
            raise ConfigError(f"{where}.n", f"must be >= 1, got {n}")
        seed = get(item, "seed", int, 0, where=where)
        if kind not in ("gaussian", "ellipsoid"):
            group, shared = _groups(item, box, where)
            specs.append(DesignSpec(kind, n, seed, group=group, shared=shared))
            continue
        fiducial = _per_parameter(get(item, "fiducial", where=where), box, f"{where}.fiducial")
        sigma = covariance = None
        if ("sigma" in item) == ("covariance" in item):
            raise ConfigError(where, "give exactly one of 'sigma' and 'covariance'")
        if "sigma" in item:
            sigma = _per_parameter(item["sigma"], box, f"{where}.sigma")
            if min(sigma) <= 0:
                raise ConfigError(f"{where}.sigma", "every sigma must be > 0")
        else:
            covariance = _covariance(item["covariance"], box.dim, f"{where}.covariance")
        radius = get(item, "radius", float, 1.0, where=where)
        if radius <= 0:
            raise ConfigError(f"{where}.radius", f"must be > 0, got {radius}")
        specs.append(DesignSpec(kind, n, seed, fiducial, covariance, sigma, radius,
                                get(item, "truncate", bool, True, where=where)))
    return tuple(specs)


def _groups(item: Mapping, box: ParameterBox, where: str) -> tuple[int, tuple[str, ...]]:
    group = get(item, "group", int, 1, where=where)
    if group < 1:
        raise ConfigError(f"{where}.group", f"must be >= 1, got {group}")
    shared = get(item, "shared", list, [], where=where)
    unknown = [str(name) for name in shared if name not in box.names]
    if unknown:
        raise ConfigError(f"{where}.shared", f"{', '.join(unknown)} not among the sampled "
                                             f"parameters ({', '.join(box.names)})")
    if (group > 1) != bool(shared):
        raise ConfigError(where, "give 'group' > 1 together with the 'shared' parameters "
                                 "(or neither)")
    return group, tuple(name for name in box.names if name in shared)


def _covariance(value: Any, dim: int, where: str) -> tuple[tuple[float, ...], ...]:
    try:
        cov = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError(where, f"expected a {dim}x{dim} matrix of numbers: {err}") from err
    if cov.shape != (dim, dim):
        raise ConfigError(where, f"expected shape ({dim}, {dim}) in parameter order, got "
                                 f"{cov.shape}")
    if not np.allclose(cov, cov.T) or np.any(np.linalg.eigvalsh(cov) <= 0):
        raise ConfigError(where, "must be symmetric and positive definite")
    return tuple(tuple(float(v) for v in row) for row in cov)


def _request(cfg: Mapping[str, Any]) -> Request:
    quantities = get(cfg, "quantities", list)
    if not quantities:
        raise ConfigError("quantities", f"needs at least one of {', '.join(QUANTITIES)}")
    for q in quantities:
        if q not in QUANTITIES:
            raise ConfigError("quantities", unknown_name_message("quantity", str(q), QUANTITIES))
    if len(set(quantities)) != len(quantities):
        raise ConfigError("quantities", f"lists a quantity twice: {quantities}")
    cmb = tuple(q for q in quantities if q in CMB_QUANTITIES)
    pk = tuple(q for q in quantities if q.startswith("pk_"))
    nonlinear = check_choice(get(cfg, "nonlinear", str, "hmcode2020"), NONLINEAR_MODELS,
                             "nonlinear")
    cmb_cfg = get(cfg, "cmb", dict, {})
    check_keys(cmb_cfg, ("lmax",), where="cmb")
    lmax = get(cmb_cfg, "lmax", int, 2508, where="cmb")
    if lmax < 10:
        raise ConfigError("cmb.lmax", f"must be >= 10, got {lmax}")
    derived: tuple[str, ...] = ()
    if "derived" in quantities:
        derived = tuple(get(cfg, "derived", list, list(DERIVED_NAMES)))
        if not derived or len(set(derived)) != len(derived):
            raise ConfigError("derived", f"needs distinct names, got {list(derived)}")
    elif "derived" in cfg:
        raise ConfigError("derived", "is set but 'derived' is not in quantities")
    k: tuple[float, ...] = ()
    z: tuple[float, ...] = ()
    if pk:
        k, z = _pk_grid(get(cfg, "pk", dict, {}))
    return Request(cmb=cmb, lmax=lmax, derived=derived, pk=pk, k=k, z=z, nonlinear=nonlinear)


def _array_request(cfg: Mapping[str, Any], declared: tuple[ArraySpec, ...]) -> Request:
    """The request of a backend that declares its output arrays: ``quantities`` selects among
    them (default: all); the cosmological fields do not apply."""
    for name in ("cmb", "pk", "derived", "nonlinear"):
        if name in cfg:
            raise ConfigError(name, "applies to cosmological backends only; this backend "
                                    f"declares its outputs ({', '.join(s.name for s in declared)})")
    names = [spec.name for spec in declared]
    wanted = get(cfg, "quantities", list, names)
    if not wanted:
        raise ConfigError("quantities", f"needs at least one of {', '.join(names)}")
    for q in wanted:
        if q not in names:
            raise ConfigError("quantities", unknown_name_message("quantity", str(q), names))
    if len(set(wanted)) != len(wanted):
        raise ConfigError("quantities", f"lists a quantity twice: {wanted}")
    return Request(arrays=tuple(spec for spec in declared if spec.name in wanted))


def _pk_grid(pk: Mapping[str, Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    check_keys(pk, ("k", "z"), where="pk")
    kcfg = pk.get("k", {"min": 1e-4, "max": 5.0, "n": 200})
    if isinstance(kcfg, Mapping):
        check_keys(kcfg, ("min", "max", "n"), where="pk.k")
        kmin = _number(get(kcfg, "min", where="pk.k"), "pk.k.min")
        kmax = _number(get(kcfg, "max", where="pk.k"), "pk.k.max")
        n = get(kcfg, "n", int, where="pk.k")
        if not 0 < kmin < kmax or n < 2:
            raise ConfigError("pk.k", f"needs 0 < min < max and n >= 2, got {dict(kcfg)}")
        k = np.geomspace(kmin, kmax, n)
    elif isinstance(kcfg, list):
        k = np.array([_number(v, "pk.k") for v in kcfg])
        if k.size < 2 or np.any(k <= 0) or np.any(np.diff(k) <= 0):
            raise ConfigError("pk.k", "a list of k must be positive and increasing")
    else:
        raise ConfigError("pk.k", f"expected {{min, max, n}} or a list, got {kcfg!r}")
    zlist = pk.get("z", [0.0])
    if not isinstance(zlist, list) or not zlist:
        raise ConfigError("pk.z", f"expected a list of redshifts, got {zlist!r}")
    z = [_number(v, "pk.z") for v in zlist]
    if min(z) < 0 or len(set(z)) != len(z):
        raise ConfigError("pk.z", f"redshifts must be distinct and >= 0, got {z}")
    return tuple(float(v) for v in k), tuple(z)


def _execution(cfg: Mapping[str, Any]) -> dict[str, Any]:
    check_keys(cfg, ("executor", "address", "workers"), where="execution")
    out = {
        "executor": check_choice(get(cfg, "executor", str, "local", where="execution"),
                                 EXECUTORS, "execution.executor"),
        "address": get(cfg, "address", (str, type(None)), None, where="execution"),
        "workers": get(cfg, "workers", (int, type(None)), None, where="execution"),
    }
    if out["workers"] is not None and out["workers"] < 1:
        raise ConfigError("execution.workers", f"must be >= 1, got {out['workers']}")
    return out
