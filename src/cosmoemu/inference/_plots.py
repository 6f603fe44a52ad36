"""Triangle plots of chains with GetDist, saved as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ._chains import Chains
from ._chains_io import to_getdist

__all__ = ["triangle_plot"]


def triangle_plot(
    chains: Chains,
    path: str | Path,
    params: Sequence[str] | None = None,
    *,
    title: str | None = None,
    markers: dict[str, float] | None = None,
    width_inch: float = 8.0,
    dpi: int = 100,
) -> Path:
    """Draw a GetDist triangle plot (filled 68/95 % contours, 1-d marginals) to ``path``.

    Args:
        chains: the draws.
        path: output file (``.png``, or any format matplotlib writes).
        params: parameters to show (default: all sampled ones).
        title: text above the plot.
        markers: name → value drawn as dashed lines (e.g. a published best fit).
        width_inch: figure width.
        dpi: resolution (pixels per inch).

    Returns:
        The path written.
    """
    import matplotlib.pyplot as plt
    from getdist import plots

    names = list(params or chains.names)
    samples = to_getdist(chains, names, smooth_scale_2D=0.3, smooth_scale_1D=0.3)
    g = plots.get_subplot_plotter(width_inch=width_inch)
    g.settings.title_limit_fontsize = 10
    g.triangle_plot(samples, names, filled=True, markers=markers, title_limit=1)
    if title:
        g.fig.suptitle(title, y=1.01)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one draw (GetDist's export asks for a tight bounding box, which draws twice)
    g.fig.savefig(path, dpi=dpi)
    plt.close(g.fig)
    return path
