"""Parameter designs: Latin hypercube, Sobol, uniform, Gaussian and ellipsoidal regions, unions.

A design is a list of :class:`DesignSpec`; each gives ``n`` points and a region index (its
position in the list), so a union of a wide Latin hypercube and a dense Gaussian region around a
fiducial is one design. Every spec is seeded: the same config gives the same points, bit for bit
(``scipy.stats.qmc`` with ``rng=seed``).

A design may hold some parameters fixed over groups of consecutive rows (``shared`` and
``group``): ``n / group`` points of the shared parameters, each repeated for ``group`` rows, while
the others take ``n`` points of their own design. A Boltzmann code that reuses its transfer
functions when only the primordial and non-linear parameters change (the CAMB backend does) then
pays for one transfer function per group: for P(k) with HMcode, 1.7 s per group and 0.03 s per
row (idle; ~0.14 s per row in all, with 2 workers, writing included).

The Latin hypercube of the shared CAMB set is
``qmc.scale(qmc.LatinHypercube(d=6, rng=777).random(6000), low, high)``, which
``DesignSpec("lhs", n=6000, seed=777)`` reproduces.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .._errors import ConfigError

__all__ = ["ParameterBox", "DesignSpec", "DESIGN_KINDS", "make_design"]

DESIGN_KINDS = ("lhs", "sobol", "uniform", "gaussian", "ellipsoid")


@dataclass(frozen=True)
class ParameterBox:
    """Sampled parameters and their ranges.

    Attributes:
        names: parameter names, in design-column order.
        low: lower bounds, shape ``(n_par,)``.
        high: upper bounds, shape ``(n_par,)``, each > ``low``.
    """

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    @property
    def dim(self) -> int:
        """Number of parameters."""
        return len(self.names)


@dataclass(frozen=True)
class DesignSpec:
    """One design of a union.

    Attributes:
        kind: ``lhs``, ``sobol`` (scrambled), ``uniform``, ``gaussian`` (normal around
            ``fiducial``) or ``ellipsoid`` (uniform inside the ``radius``-sigma ellipsoid).
        n: number of points.
        seed: random seed (recorded with the data).
        fiducial: centre of ``gaussian``/``ellipsoid``, one value per parameter.
        covariance: their covariance, ``(n_par, n_par)`` in parameter order; or give
        sigma: per-parameter standard deviations (a diagonal covariance).
        radius: the ellipsoid's radius in sigmas.
        truncate: keep only points inside the box (redrawing the others); default true.
        group: rows per group sharing the values of ``shared`` (``lhs``, ``sobol``,
            ``uniform``); 1: no groups.
        shared: the parameters held fixed within a group; their ``ceil(n / group)`` points
            are a design of the same kind and seed, the other parameters' ``n`` points one
            of seed ``seed + 1``.
    """

    kind: str
    n: int
    seed: int = 0
    fiducial: tuple[float, ...] | None = None
    covariance: tuple[tuple[float, ...], ...] | None = None
    sigma: tuple[float, ...] | None = None
    radius: float = 1.0
    truncate: bool = True
    group: int = 1
    shared: tuple[str, ...] = ()

    def to_json(self) -> dict:
        """A JSON-ready recipe of this design (for the manifest)."""
        out: dict = {"kind": self.kind, "n": self.n, "seed": self.seed}
        if self.kind in ("gaussian", "ellipsoid"):
            out["fiducial"] = list(self.fiducial or ())
            if self.covariance is not None:
                out["covariance"] = [list(row) for row in self.covariance]
            else:
                out["sigma"] = list(self.sigma or ())
            out["truncate"] = self.truncate
            if self.kind == "ellipsoid":
                out["radius"] = self.radius
        if self.group > 1:
            out["group"] = self.group
            out["shared"] = list(self.shared)
        return out


def make_design(box: ParameterBox, specs: Sequence[DesignSpec]) -> tuple[np.ndarray, np.ndarray]:
    """Points of a union of designs.

    Args:
        box: the parameter box.
        specs: the designs, in order.

    Returns:
        ``(params, region)``: parameter values, shape ``(n_total, n_par)`` float64 (rows of
        spec 0 first), and the index of the spec each row comes from, shape ``(n_total,)``.

    Raises:
        ConfigError: a truncated Gaussian or ellipsoid with almost no mass inside the box.
    """
    low, high = np.asarray(box.low, np.float64), np.asarray(box.high, np.float64)
    parts, regions = [], []
    for i, spec in enumerate(specs):
        if spec.group > 1:
            pts = _grouped(spec, box, low, high)
        else:
            pts = _one(spec, low, high, f"design[{i}]")
        parts.append(pts)
        regions.append(np.full(len(pts), i, dtype=np.int64))
    if not parts:
        return np.empty((0, box.dim)), np.empty((0,), np.int64)
    return np.concatenate(parts), np.concatenate(regions)


def _one(spec: DesignSpec, low: np.ndarray, high: np.ndarray, where: str) -> np.ndarray:
    from scipy.stats import qmc

    d = low.size
    if spec.kind == "lhs":
        return qmc.scale(qmc.LatinHypercube(d=d, rng=spec.seed).random(spec.n), low, high)
    if spec.kind == "sobol":
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            unit = qmc.Sobol(d=d, scramble=True, rng=spec.seed).random(spec.n)
        return qmc.scale(unit, low, high)
    if spec.kind == "uniform":
        return low + (high - low) * np.random.default_rng(spec.seed).random((spec.n, d))
    return _gaussian(spec, low, high, where)


def _grouped(spec: DesignSpec, box: ParameterBox, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``ceil(n / group)`` points of the shared parameters, each repeated ``group`` times."""
    shared = np.array([name in spec.shared for name in box.names])
    n_groups = -(-spec.n // spec.group)
    outer = _one(replace(spec, n=n_groups, group=1), low[shared], high[shared], "")
    pts = np.empty((spec.n, box.dim))
    pts[:, shared] = np.repeat(outer, spec.group, axis=0)[: spec.n]
    if (~shared).any():
        inner = replace(spec, seed=spec.seed + 1, group=1)
        pts[:, ~shared] = _one(inner, low[~shared], high[~shared], "")
    return pts


def _gaussian(spec: DesignSpec, low: np.ndarray, high: np.ndarray, where: str) -> np.ndarray:
    rng = np.random.default_rng(spec.seed)
    mean = np.asarray(spec.fiducial, np.float64)
    if spec.covariance is not None:
        cov = np.asarray(spec.covariance, np.float64)
    else:
        cov = np.diag(np.asarray(spec.sigma, np.float64) ** 2)
    chol = np.linalg.cholesky(cov)
    d = mean.size
    out = np.empty((0, d))
    drawn = 0
    while len(out) < spec.n:
        m = max(2 * (spec.n - len(out)), 64)
        u = rng.standard_normal((m, d))
        if spec.kind == "ellipsoid":  # uniform in the unit ball, then scaled
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            u *= spec.radius * rng.random((m, 1)) ** (1.0 / d)
        x = mean + u @ chol.T
        if spec.truncate:
            x = x[np.all((x >= low) & (x <= high), axis=1)]
        out = np.concatenate([out, x])
        drawn += m
        if drawn > 1000 * spec.n + 10_000 and len(out) < spec.n:
            raise ConfigError(
                where,
                f"only {len(out)} of {drawn} {spec.kind} points fall inside the parameter box; "
                "move the fiducial, shrink the covariance, or set truncate: false",
            )
    return out[: spec.n]
