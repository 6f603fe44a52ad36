"""Posterior summaries: mean, std, 68 % limits and diagnostics per parameter, as a table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ._chains import Chains
from ._diagnostics import ess_bulk, ess_tail, split_rhat

__all__ = ["ParamSummary", "summarize", "format_table"]


@dataclass(frozen=True)
class ParamSummary:
    """One parameter's marginal: weighted mean, std, equal-tail 68 % interval, diagnostics."""

    name: str
    label: str
    mean: float
    std: float
    lower68: float
    upper68: float
    rhat: float
    ess_bulk: float
    ess_tail: float


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: Sequence[float]) -> np.ndarray:
    order = np.argsort(x)
    x, w = x[order], w[order]
    cdf = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(q, cdf, x)


def summarize(chains: Chains, params: Sequence[str] | None = None) -> list[ParamSummary]:
    """Summaries of ``params`` (default: every sampled and derived parameter).

    Mean, std and the 68 % limits (the 15.87 % and 84.13 % weighted quantiles) use every row of
    every chain. R-hat and ESS use the draws per chain (Vehtari et al. 2021); chains of unequal
    length enter them with their first ``min(lengths)`` draws (NaN with fewer than 4).
    """
    out = []
    fw = chains.flat_weights
    shortest = min(chains.lengths)
    for name in params or chains.all_names:
        flat = chains.flat(name)
        x = np.stack([c[:shortest] for c in chains.per_chain(name)])
        mean = float(np.average(flat, weights=fw))
        std = float(np.sqrt(np.average((flat - mean) ** 2, weights=fw)))
        lo, hi = _weighted_quantile(flat, fw, [0.158655, 0.841345])
        ok = shortest >= 4
        out.append(ParamSummary(
            name=name,
            label=chains.labels.get(name, name),
            mean=mean,
            std=std,
            lower68=float(lo),
            upper68=float(hi),
            rhat=split_rhat(x) if ok else float("nan"),
            ess_bulk=ess_bulk(x) if ok else float("nan"),
            ess_tail=ess_tail(x) if ok else float("nan"),
        ))
    return out


def _sig(x: float, err: float) -> str:
    """x with as many decimals as the error needs (two significant figures of the error)."""
    if not np.isfinite(err) or err <= 0:
        return f"{x:.6g}"
    decimals = max(0, 1 - int(np.floor(np.log10(err))))
    return f"{x:.{decimals}f}"


def format_table(
    rows: Sequence[ParamSummary], reference: Mapping[str, tuple[float, float]] | None = None,
    reference_name: str = "reference",
) -> str:
    """A plain-text table; with ``reference`` (name → (mean, std)) also the shift in σ.

    The shift is (mean − reference mean) / reference std.
    """
    head = ["parameter", "mean", "std", "68% limits", "R-hat", "ESS bulk", "ESS tail"]
    if reference is not None:
        head += [reference_name, "shift"]
    lines = []
    for r in rows:
        cells = [
            r.name,
            _sig(r.mean, r.std),
            _sig(r.std, r.std),
            f"[{_sig(r.lower68, r.std)}, {_sig(r.upper68, r.std)}]",
            f"{r.rhat:.4f}",
            f"{r.ess_bulk:.0f}",
            f"{r.ess_tail:.0f}",
        ]
        if reference is not None:
            if r.name in reference:
                m, s = reference[r.name]
                cells += [f"{_sig(m, s)} ± {_sig(s, s)}", f"{(r.mean - m) / s:+.2f}σ"]
            else:
                cells += ["—", ""]
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*cells) for cells in lines]
    return "\n".join(line.rstrip() for line in out)
