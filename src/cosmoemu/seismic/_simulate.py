"""The forward model: surface displacement seismograms of a hypocentre, with pyprop8.

For a hypocentre (x, y, depth) in km the traces are computed exactly as the scenario specifies
(:mod:`._scenario`):

1. velocity spectra ``V(w)`` from :func:`pyprop8.compute_spectra` at the complex frequencies
   ``w_j = 2 pi f_j - i alpha`` for the rfft frequencies ``f_j <= f_max`` of an ``n_fft``-point
   FFT at ``dt``, ``alpha = ln 10 / ((n_fft - 1) dt)``;
2. wavenumbers on a fixed trapezoid grid per frequency band: ``[0, f_max]`` is cut into
   ``n_bands`` bands of equal width (a frequency on an edge goes to the upper band, ``f_max`` to
   the last; 10 bands of 10 frequencies and a last of 11 for the packaged scenario), and each
   band is integrated over ``[0, k_max]`` with ``ceil(k_max / dk)`` equal steps (spacing at most
   ``dk``),

   .. math::

       k_{max} = w_{top} / c_{min} + k_{extra}

   at the band's highest computed real angular frequency ``w_top`` (the grid does not depend on
   the hypocentre, so the traces are smooth in it). The scenario also states a floor
   ``K / z_min`` (5 /km for the packaged one); the shared reference event was computed without
   it (with this rule its traces are reproduced to ~1e-15), so it is not applied:
   :attr:`Scenario.k_floor` and :attr:`Scenario.z_min` are read but unused here;
3. the source spectrum: pyprop8's cosine pulse delayed by its half-width (a causal Hann
   moment-rate pulse) times the cosine low-pass ``clp_filter`` (exactly 0 above ``f1``);
4. exact integration to displacement: ``W = irfft(V S / (i w)) / dt`` and
   ``u(t) = exp(alpha t) W(t) - W(0)`` (this keeps the static offset);
5. rotation from radial/transverse/vertical to x (East), y (North), z (Up), and the first
   ``nt`` samples.

One event costs ~1 s of one CPU core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .._errors import OutOfBoxError
from ._scenario import PARAMETERS, Scenario, ScenarioError, load_scenario

__all__ = ["Simulator", "simulate"]


_MIN_OFFSET_KM = 1e-7


class Simulator:
    """The scenario's forward model with everything that does not depend on the hypocentre
    prepared once (earth model, moment tensor, frequencies, wavenumber grids, source spectrum).

    Args:
        scenario: a :class:`Scenario`, a path, a mapping or ``None`` (the packaged one).

    Raises:
        ImportError: pyprop8 is not installed (``pip install 'cosmoemu[seismic]'``).
        ScenarioError: the scenario is invalid.
    """

    def __init__(self, scenario: Scenario | str | None = None) -> None:
        try:
            import pyprop8
            from pyprop8 import utils
        except ImportError as err:
            raise ImportError("the seismic forward model needs pyprop8: pip install "
                              "'cosmoemu[seismic]'") from err
        self._pp = pyprop8
        sc = self.scenario = load_scenario(scenario)
        self._model = pyprop8.LayeredStructureModel([tuple(row) for row in sc.layers])
        self._moment = utils.rtf2xyz(
            utils.make_moment_tensor(sc.strike, sc.dip, sc.rake, sc.m0_internal))
        self._force = np.zeros((3, 1))
        freqs = np.fft.rfftfreq(sc.n_fft, sc.dt)
        self._index = np.flatnonzero(freqs <= sc.f_max)  # computed frequencies
        self._omega = 2 * np.pi * freqs[self._index] - 1j * sc.alpha
        self._bands = []
        # equal-width bands in frequency; the tolerance keeps a frequency on an edge in the
        # upper band whatever the rounding of f * n_bands / f_max
        which = np.floor(freqs[self._index] * sc.n_bands / sc.f_max + 1e-9).astype(int)
        which = np.minimum(which, sc.n_bands - 1)
        for b in range(sc.n_bands):
            band = np.flatnonzero(which == b)
            if band.size == 0:
                continue
            w_top = 2 * np.pi * freqs[self._index[band[-1]]]
            k_max = w_top / sc.c_min + sc.k_extra
            if k_max <= 0:
                raise ScenarioError(sc.source_file, "numerics.k_extra_per_km",
                                    f"gives k_max = {k_max:g} /km <= 0 for the band at "
                                    f"{w_top / (2 * np.pi):g} Hz")
            nk = max(2, int(np.ceil(k_max / sc.dk - 1e-9)) + 1)
            self._bands.append((band, {"kmin": 0.0, "kmax": k_max, "nk": nk}))
        w0, w1 = (2 * np.pi * f for f in sc.lowpass_hz)
        hw = sc.stf_half_width
        self._source_spectrum = np.array([
            utils.stf_cosine(w, hw) * np.exp(-1j * w * hw) * utils.clp_filter(w, w0, w1)
            for w in self._omega
        ])
        self._growth = np.exp(sc.alpha * sc.dt * np.arange(sc.n_fft))

    @property
    def n_frequencies(self) -> int:
        """Number of frequencies computed by pyprop8."""
        return int(self._index.size)

    def check_hypocentre(self, hypocentre: ArrayLike) -> np.ndarray:
        """The hypocentre as float64 ``(3,)`` = (x East km, y North km, depth km), checked.

        Raises:
            ValueError: not 3 finite numbers.
            OutOfBoxError: outside the scenario's prior box (naming the coordinate).
        """
        h = np.asarray(hypocentre, dtype=np.float64)
        if h.shape != (len(PARAMETERS),):
            raise ValueError(f"hypocentre must be ({', '.join(PARAMETERS)}) in km, shape (3,); "
                             f"got shape {h.shape}")
        if not np.all(np.isfinite(h)):
            raise ValueError(f"hypocentre must be finite, got {h.tolist()}")
        for name, value in zip(PARAMETERS, h, strict=True):
            lo, hi = self.scenario.box[name]
            if not lo <= value <= hi:
                raise OutOfBoxError(
                    f"hypocentre {name} = {value:g} km is outside the box [{lo:g}, {hi:g}] km "
                    f"of scenario '{self.scenario.name}'")
        return h

    def __call__(self, hypocentre: ArrayLike) -> np.ndarray:
        """Displacement traces of one hypocentre.

        Args:
            hypocentre: (x East, y North, depth) in km, inside the scenario's box.

        Returns:
            Float64 array ``(n_receivers, 3, nt)``: displacement in mm, components x (East),
            y (North), z (Up), at times :attr:`Scenario.times` (s).
        """
        sc, pp = self.scenario, self._pp
        x, y, depth = self.check_hypocentre(hypocentre)
        # pyprop8 rotates by the receiver's azimuth, undefined for a receiver exactly above the
        # source (its horizontal traces come back NaN); the wavefield is smooth there, so such a
        # source is moved 1e-7 km East (traces change by ~1e-8 relative)
        offsets = np.hypot(sc.receivers[:, 0] - x, sc.receivers[:, 1] - y)
        if offsets.min() < _MIN_OFFSET_KM:
            x = x + _MIN_OFFSET_KM
        source = pp.PointSource(x, y, depth, self._moment, self._force, sc.origin_time)
        receivers = pp.ListOfReceivers(sc.receivers[:, 0].copy(), sc.receivers[:, 1].copy(),
                                       depth=sc.receiver_depth)
        velocity = np.empty((sc.n_receivers, 3, self.n_frequencies), dtype=np.complex128)
        for band, stencil in self._bands:
            spectra = pp.compute_spectra(self._model, source, receivers, self._omega[band],
                                         show_progress=False, stencil_kwargs=dict(stencil),
                                         squeeze_outputs=False)
            velocity[..., band] = spectra[0]
        if sc.origin_time != 0.0:
            velocity = velocity * np.exp(-1j * self._omega * sc.origin_time)
        spectrum = np.zeros((sc.n_receivers, 3, sc.n_fft // 2 + 1), dtype=np.complex128)
        spectrum[..., self._index] = velocity * self._source_spectrum / (1j * self._omega)
        damped = np.fft.irfft(spectrum, sc.n_fft) / sc.dt
        rtz = (self._growth * damped - damped[..., :1])[..., :sc.nt]
        # radial/transverse -> x/y with the azimuth pyprop8 computed for each receiver
        cos, sin = np.cos(receivers.pp)[:, None], np.sin(receivers.pp)[:, None]
        out = np.empty_like(rtz)
        out[:, 0] = cos * rtz[:, 0] - sin * rtz[:, 1]
        out[:, 1] = sin * rtz[:, 0] + cos * rtz[:, 1]
        out[:, 2] = rtz[:, 2]
        return out


_CACHE: dict[str, Simulator] = {}


def simulate(hypocentre: ArrayLike | Sequence[float],
             scenario: Scenario | str | None = None) -> np.ndarray:
    """Noise-free displacement seismograms of one hypocentre (pyprop8, ~1 s).

    Args:
        hypocentre: (x East, y North, depth) in km, shape ``(3,)``, inside the scenario's box.
        scenario: ``None`` (the packaged ``seismic_hypocentre_v1``), a path to a scenario JSON
            or a :class:`Scenario`.

    Returns:
        Float64 ``(n_receivers, 3, nt)`` = (10, 3, 200) for the packaged scenario: displacement
        in mm, components x East, y North, z Up, at t = 0, 0.2, ..., 39.8 s.

    Raises:
        ValueError: a hypocentre that is not 3 finite numbers.
        OutOfBoxError: a hypocentre outside the prior box.
        ScenarioError: an invalid scenario file (the message names the field).

    Example::

        from cosmoemu.seismic import simulate
        traces = simulate([1.5, -2.5, 12.0])     # (10, 3, 200) mm
    """
    if isinstance(scenario, Scenario):
        return Simulator(scenario)(hypocentre)
    key = "" if scenario is None else str(scenario)
    if key not in _CACHE:
        _CACHE[key] = Simulator(scenario)
    return _CACHE[key](hypocentre)
