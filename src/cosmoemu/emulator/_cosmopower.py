"""Import CosmoPower and CosmoPower-JAX model files as an :class:`Emulator`.

CosmoPower (Spurio Mancini et al. 2022) emulators are dense networks with the trainable
activation of Alsing et al. (2020), ``f(x) = [beta + sigmoid(alpha x) (1 - beta)] x`` per unit —
the same parameterisation as :func:`~cosmoemu.emulator.alsing_activation` — on standardised
inputs ``(theta - mean) / std``. The network output is de-standardised
(``y * std + mean``); a ``cosmopower_PCAplusNN`` model then decodes PCA coefficients
(``c @ pca_matrix``) and de-standardises the spectrum once more. A model trained on log-spectra
is used as ``10**y`` (CosmoPower's ``ten_to_predictions_np``). That chain maps one to one onto
ours: ``Affine`` (inputs), the ``MLP``, ``Affine`` [, ``PCA``, ``Affine``] [, ``Pow10``].

Files read (only numbers, strings and lists are ever reconstructed):

- CosmoPower ``.npz`` (one object array holding a dict of attributes) and ``.pkl`` (the same
  attributes as a positional list; 15 entries for ``cosmopower_NN``, 19 for
  ``cosmopower_PCAplusNN``, which carries its PCA);
- CosmoPower-JAX ``.pkl`` (13 entries; weights stored ``(out, in)``); its PCA models keep the
  PCA beside the package in ``pca_utils/STEM_{pca_transform_matrix,training_mean,
  training_std}.npy``, found automatically or given with ``pca=``.

Pickles are read only through :class:`RestrictedUnpickler`, which admits numpy array
reconstruction and plain containers and refuses every other class, so a file cannot run code.

The files record neither the training box nor whether the network emulates a log-spectrum nor
what the spectrum is. For the models CosmoPower-JAX ships (``cmb_tt``, ``cmb_te``, ``cmb_ee``,
``cmb_pp``, ``mpk_lin``, ``mpk_boost``; CosmoPower's ``cmb_TT_NN``, ... of its paper) these come
from CosmoPower's documentation (the ``trained_models/CP_paper/{CMB,PK}/README.md`` parameter
tables and feature lists), and the manifest says so; for any other file pass ``box=``,
``log10=`` and, to validate it against a store, ``quantity=``.
"""

from __future__ import annotations

import codecs
import datetime
import io
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from ._axes import Axis
from ._emulator import Emulator, make_emulator, output_size
from ._io import ModelFileError, _sha256
from ._network import MLP
from ._transforms import PCA, Affine, Pow10, Transform

__all__ = ["import_cosmopower", "RestrictedUnpickler", "UnsafePickleError", "safe_unpickle"]


# --------------------------------------------------------------------------- restricted unpickling
class UnsafePickleError(ModelFileError, pickle.UnpicklingError):
    """A pickle asks for a class or function outside the numpy-arrays-and-containers set."""


def _numpy_callables() -> dict[tuple[str, str], Any]:
    """The numpy objects an array pickle needs, under every module path numpy has used."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    out: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core", "numpy._core"):
        out[(f"{mod}.multiarray", "_reconstruct")] = multiarray._reconstruct
        out[(f"{mod}.multiarray", "scalar")] = multiarray.scalar
        out[(f"{mod}.numeric", "_frombuffer")] = numeric._frombuffer
    out[("numpy", "ndarray")] = np.ndarray
    out[("numpy", "dtype")] = np.dtype
    for name in ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float16", "float32", "float64", "complex64", "complex128", "str_",
                 "bytes_"):
        out[("numpy", name)] = getattr(np, name)
    # numpy >= 1.25 pickles dtypes as numpy.dtypes.Float32DType etc.
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        for name in dir(dtypes):
            if name.endswith("DType") and name != "StringDType":
                out[("numpy.dtypes", name)] = getattr(dtypes, name)
    return out


_CONTAINERS: dict[tuple[str, str], Any] = {
    **{("builtins", t.__name__): t for t in (list, tuple, dict, set, frozenset, int, float,
                                            complex, str, bytes, bytearray, bool)},
    ("collections", "OrderedDict"): dict,
    # protocol-2 pickles spell bytes as _codecs.encode(text, "latin1"): a pure conversion
    ("_codecs", "encode"): codecs.encode,
    # TensorFlow's list wrapper (CosmoPower's own pickles hold their weights in these):
    # rebuilt as the plain list it wraps; TensorFlow is never imported
    ("tensorflow.python.trackable.data_structures", "ListWrapper"): list,
    ("tensorflow.python.training.tracking.data_structures", "ListWrapper"): list,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays, numpy scalars and plain containers only.

    :meth:`find_class` answers from a fixed table (numpy's array reconstruction functions,
    ``numpy.ndarray``, ``numpy.dtype``, numpy scalar types, ``list``, ``dict``, ``tuple``...,
    and TensorFlow's ``ListWrapper`` as a plain ``list``) and imports nothing; any other global
    (``os.system``, ``builtins.eval``, a class of some package...) raises
    :class:`UnsafePickleError` naming it, before anything is called.
    """

    _allowed: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        table = type(self)._allowed
        if table is None:
            table = type(self)._allowed = {**_numpy_callables(), **_CONTAINERS}
        try:
            return table[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle '{module}.{name}': model pickles are read with a "
                "restricted unpickler that admits only numpy arrays and plain containers "
                "(lists, dicts, numbers, strings). The file may be malicious, or from a format "
                "this importer does not know; convert it to .npz of plain arrays if you trust it."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r} in a model pickle")


def safe_unpickle(data: bytes | io.IOBase, where: str = "pickle") -> Any:
    """Load a pickle with :class:`RestrictedUnpickler`.

    Args:
        data: the bytes, or a binary file object positioned at the pickle.
        where: a name for error messages (the file).

    Raises:
        UnsafePickleError: the pickle refers to a class or function outside the allowed set.
        ModelFileError: the pickle is corrupt.
    """
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return RestrictedUnpickler(fh).load()
    except UnsafePickleError as err:
        raise UnsafePickleError(f"'{where}': {err}") from None
    except Exception as err:  # corrupt data: EOFError, UnpicklingError, ValueError...
        raise ModelFileError(f"'{where}' is not a readable pickle: {type(err).__name__}: "
                             f"{err}") from err


def _read_npz(path: Path) -> dict[str, Any]:
    """Arrays of an ``.npz``; object arrays (pickled inside) go through the restricted reader."""
    out: dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                with zf.open(member) as fh:
                    version = npy_format.read_magic(fh)
                    reader = (npy_format.read_array_header_1_0 if version == (1, 0)
                              else npy_format.read_array_header_2_0)
                    shape, fortran, dtype = reader(fh)
                    if dtype.hasobject:
                        arr = safe_unpickle(fh, f"{path}:{member}")
                    else:
                        fh.close()
                        with zf.open(member) as fh2:
                            arr = npy_format.read_array(fh2, allow_pickle=False)
                if isinstance(arr, np.ndarray) and arr.dtype.hasobject and arr.shape == ():
                    arr = arr.item()
                out[key] = arr
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(f"'{path}' is not a readable npz file: {err}") from err
    return out


# --------------------------------------------------------------------------- the raw model
@dataclass
class _Raw:
    """A CosmoPower model as read: weights ``(n_in, n_out)`` and the normalisations."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    alphas: list[np.ndarray]
    betas: list[np.ndarray]
    param_mean: np.ndarray
    param_std: np.ndarray
    feature_mean: np.ndarray
    feature_std: np.ndarray
    parameters: list[str]
    modes: np.ndarray | None
    pca: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # matrix, mean, std
    fmt: str


_CP_NN_KEYS = ("weights_", "biases_", "alphas_", "betas_", "param_train_mean",
               "param_train_std", "feature_train_mean", "feature_train_std", "n_parameters",
               "parameters", "n_modes", "modes", "n_hidden", "n_layers", "architecture")
_CP_PCA_KEYS = ("weights_", "biases_", "alphas_", "betas_", "param_train_mean",
                "param_train_std", "feature_train_mean", "feature_train_std", "training_mean",
                "training_std", "parameters", "n_parameters", "modes", "n_modes", "n_pcas",
                "pca_matrix", "n_hidden", "n_layers", "architecture")


def _arr(value: Any, what: str, where: Path) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise ModelFileError(f"'{where}': {what} is not numeric (dtype {a.dtype})")
    return a


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    raise KeyError(" or ".join(repr(k) for k in keys))


def _layers(d: Mapping[str, Any], plural: str, single: str, n: int) -> list[Any]:
    """``d[plural]`` (a list), or ``d[f"{single}_{i}"]`` for i < n (CosmoPower's newer npz)."""
    if plural in d:
        return list(d[plural])
    return [d[f"{single}_{i}"] for i in range(n)]


def _from_cp(d: Mapping[str, Any], where: Path, fmt: str) -> _Raw:
    """CosmoPower's attributes: the dict of its ``.npz``, or its positional pickle as a dict.

    Layouts seen in CosmoPower files: weights ``(n_in, n_out)`` as ``weights_`` or ``W_i``
    (biases ``biases_``/``b_i``, ``alphas_``/``alphas_i``, ``betas_``/``betas_i``); inputs
    normalised by ``param_train_*`` or ``parameters_*``. PCA models: the matrix as
    ``pca_matrix`` or ``pca_transform_matrix``; the coefficients normalised by
    ``feature_train_*`` and the spectra by ``training_*``, or, when ``pca_mean`` is present,
    the coefficients by ``pca_*`` and the spectra by ``feature_train_*`` / ``features_*``.
    """
    try:
        n_layers = int(d["n_layers"]) if "n_layers" in d else len(d["weights_"])
        pca = None
        if "pca_matrix" in d or "pca_transform_matrix" in d:
            matrix = _arr(_first(d, "pca_matrix", "pca_transform_matrix"), "pca_matrix", where)
            if "pca_mean" in d:
                coef = (d["pca_mean"], d["pca_std"])
                spec = (_first(d, "feature_train_mean", "features_mean"),
                        _first(d, "feature_train_std", "features_std"))
            else:
                coef = (d["feature_train_mean"], d["feature_train_std"])
                spec = (d["training_mean"], d["training_std"])
            pca = (matrix, _arr(spec[0], "the spectrum mean", where),
                   _arr(spec[1], "the spectrum std", where))
        else:
            coef = (_first(d, "feature_train_mean", "features_mean"),
                    _first(d, "feature_train_std", "features_std"))
        return _Raw(
            weights=[_arr(w, "a weight", where) for w in _layers(d, "weights_", "W", n_layers)],
            biases=[_arr(b, "a bias", where) for b in _layers(d, "biases_", "b", n_layers)],
            alphas=[_arr(a, "an alpha", where)
                    for a in _layers(d, "alphas_", "alphas", n_layers - 1)],
            betas=[_arr(b, "a beta", where)
                   for b in _layers(d, "betas_", "betas", n_layers - 1)],
            param_mean=_arr(_first(d, "param_train_mean", "parameters_mean"), "the parameter "
                            "mean", where),
            param_std=_arr(_first(d, "param_train_std", "parameters_std"), "the parameter std",
                           where),
            feature_mean=_arr(coef[0], "the feature mean", where),
            feature_std=_arr(coef[1], "the feature std", where),
            parameters=[str(p) for p in d["parameters"]],
            modes=np.asarray(d["modes"]) if "modes" in d else None,
            pca=pca,
            fmt=fmt + (" (cosmopower_PCAplusNN)" if pca is not None else " (cosmopower_NN)"),
        )
    except KeyError as err:
        raise ModelFileError(f"'{where}' lacks the CosmoPower attribute {err}") from err
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"'{where}' is not laid out as a CosmoPower model: {err}") from err


def _from_cpj(items: Sequence[Any], where: Path) -> _Raw:
    """CosmoPower-JAX's own pickle: ``[[W (out, in), b], ...], [[alpha, beta], ...], mean,
    std, feature mean, feature std, n_params, names, n_modes, modes, hidden, n_layers, sizes``.

    Its shipped models were trained with one scalar bias on the last layer, stored as the last
    entry of that layer's bias vector (CosmoPower-JAX adds ``b[-1]`` to every output for them);
    the bias is expanded to a full vector of that value here.
    """
    try:
        layers, hyper = items[0], items[1]
        biases = [_arr(b, "a bias", where) for _, b in layers]
        biases[-1] = np.full_like(biases[-1], biases[-1].reshape(-1)[-1])
        return _Raw(
            weights=[_arr(w, "a weight", where).T for w, _ in layers],
            biases=biases,
            alphas=[_arr(a, "an alpha", where) for a, _ in hyper],
            betas=[_arr(b, "a beta", where) for _, b in hyper],
            param_mean=_arr(items[2], "the parameter mean", where),
            param_std=_arr(items[3], "the parameter std", where),
            feature_mean=_arr(items[4], "the feature mean", where),
            feature_std=_arr(items[5], "the feature std", where),
            parameters=[str(p) for p in items[7]],
            modes=np.asarray(items[9]),
            pca=None,
            fmt="CosmoPower-JAX pickle",
        )
    except (TypeError, ValueError, IndexError) as err:
        raise ModelFileError(f"'{where}' is not laid out as a CosmoPower-JAX model: {err}") from err


def _read_raw(path: Path) -> _Raw:
    if path.suffix == ".npz":
        arrays = _read_npz(path)
        if len(arrays) == 1 and isinstance(next(iter(arrays.values())), Mapping):
            return _from_cp(next(iter(arrays.values())), path, "CosmoPower npz")
        if "weights_" in arrays or "W_0" in arrays:
            return _from_cp(arrays, path, "CosmoPower npz")
        raise ModelFileError(f"'{path}' holds {sorted(arrays)}, not a CosmoPower model")
    obj = safe_unpickle(path.read_bytes(), str(path))
    if isinstance(obj, Mapping):
        return _from_cp(obj, path, "CosmoPower pickle")
    if isinstance(obj, (list, tuple)):
        if len(obj) == 15:
            return _from_cp(dict(zip(_CP_NN_KEYS, obj, strict=True)), path, "CosmoPower pickle")
        if len(obj) == 19:
            return _from_cp(dict(zip(_CP_PCA_KEYS, obj, strict=True)), path,
                            "CosmoPower pickle")
        if len(obj) == 13:
            return _from_cpj(obj, path)
    raise ModelFileError(
        f"'{path}' is not a CosmoPower or CosmoPower-JAX model (a {type(obj).__name__}"
        + (f" of {len(obj)} entries" if isinstance(obj, (list, tuple)) else "") + "); expected "
        "a list of 13 (CosmoPower-JAX), 15 (cosmopower_NN) or 19 (cosmopower_PCAplusNN) entries "
        "or a dict of attributes"
    )


# --------------------------------------------------------------------------- documented models
_CMB_PARAMS = ("omega_b", "omega_cdm", "h", "tau_reio", "n_s", "ln10^{10}A_s")
_CMB_BOX = {"omega_b": (0.005, 0.04), "omega_cdm": (0.001, 0.99), "h": (0.2, 1.0),
            "tau_reio": (0.01, 0.8), "n_s": (0.7, 1.3), "ln10^{10}A_s": (1.61, 5.0)}
_PK_BOX = {"omega_b": (0.01875, 0.02625), "omega_cdm": (0.05, 0.255), "h": (0.64, 0.82),
           "n_s": (0.84, 1.1), "ln10^{10}A_s": (1.61, 3.91), "z": (0.0, 5.0),
           "cmin": (2.0, 4.0), "c_min": (2.0, 4.0), "eta_0": (0.5, 1.0)}
_CMB_SOURCE = ("CosmoPower's documentation, trained_models/CP_paper/CMB/README.md (parameter "
               "ranges; TT, EE, PP emulate log-spectra, TE the spectrum; raw dimensionless C_ell, "
               "ell = 2..2508); CosmoPower-JAX ships these models")
_PK_SOURCE = ("CosmoPower's documentation, trained_models/CP_paper/PK/README.md (parameter "
              "ranges; log-spectra; P_lin in Mpc^3, the non-linear boost dimensionless; "
              "k in 1/Mpc; z is an input); CosmoPower-JAX ships these models")


@dataclass(frozen=True)
class _Known:
    parameters: tuple[str, ...]
    box: Mapping[str, tuple[float, float]]
    log10: bool
    quantity: Mapping[str, str]
    axis: tuple[str, str]  # name, units
    pca: bool
    source: str


def _known(stem: str) -> _Known | None:
    cmb = {"tt": True, "te": False, "ee": True, "pp": True}
    s = stem.lower()
    for spec, log in cmb.items():
        if s == f"cmb_{spec}" or s.startswith(f"cmb_{spec}_"):
            return _Known(_CMB_PARAMS, _CMB_BOX, log, {"name": spec, "units": "dimensionless"},
                          ("ell", ""), spec in ("te", "pp"), _CMB_SOURCE)
    pk = ("omega_b", "omega_cdm", "h", "n_s", "ln10^{10}A_s")
    if s in ("mpk_lin", "pklin_nn"):
        return _Known((*pk, "z"), _PK_BOX, True, {"name": "pk_lin", "units": "Mpc^3"},
                      ("k", "1/Mpc"), False, _PK_SOURCE)
    if s in ("mpk_boost", "pknlboost_nn"):
        return _Known((*pk, "cmin", "eta_0", "z"), _PK_BOX, True,
                      {"name": "pk_boost", "units": "dimensionless"}, ("k", "1/Mpc"), False,
                      _PK_SOURCE)
    return None


def _find_pca(path: Path, pca: str | os.PathLike | None) -> tuple[Path, ...] | None:
    """CosmoPower-JAX's PCA files for a model: ``PREFIX_{pca_transform_matrix,training_mean,
    training_std}.npy``; ``PREFIX`` given, or ``../pca_utils/STEM`` beside the model."""
    suffixes = ("pca_transform_matrix", "training_mean", "training_std")
    prefix = (Path(pca) if pca is not None
              else path.resolve().parent.parent / "pca_utils" / path.stem)
    files = tuple(prefix.with_name(f"{prefix.name}_{s}.npy") for s in suffixes)
    if all(f.is_file() for f in files):
        return files
    if pca is not None:
        missing = [str(f) for f in files if not f.is_file()]
        raise FileNotFoundError(f"pca={str(pca)!r}: missing {', '.join(missing)}")
    return None


# --------------------------------------------------------------------------- the import
def import_cosmopower(
    path: str | os.PathLike,
    *,
    box: Mapping[str, Sequence[float]] | None = None,
    log10: bool | None = None,
    quantity: str | Mapping[str, str] | None = None,
    modes: Axis | Sequence[Any] | np.ndarray | None = None,
    pca: str | os.PathLike | None = None,
) -> Emulator:
    """Turn a CosmoPower or CosmoPower-JAX model file into an :class:`Emulator`.

    Predictions equal CosmoPower's to float32 rounding (the network, normalisations, PCA and
    ``10**`` are the same operations). Save the result with :func:`cosmoemu.save_emulator`
    (npz + JSON; the manifest records the file it came from and its SHA-256) and score it with
    ``cosmoemu validate``.

    Args:
        path: a CosmoPower ``.npz`` or ``.pkl`` (``cosmopower_NN`` or
            ``cosmopower_PCAplusNN``), or a CosmoPower-JAX ``.pkl``. Pickles are read with
            :class:`RestrictedUnpickler` (numpy arrays and plain containers only).
        box: the training box ``{name: (low, high)}``: required unless the model is one of those
            CosmoPower documents (the file stem ``cmb_tt``, ``cmb_te``, ``cmb_ee``, ``cmb_pp``,
            ``mpk_lin``, ``mpk_boost``, ``cmb_TT_NN``, ..., ``PKLIN_NN``, ``PKNLBOOST_NN``, with
            the documented parameters), whose box is taken from CosmoPower's documentation.
        log10: the network emulates ``log10`` of the output (CosmoPower's
            ``ten_to_predictions_np``); required unless documented as above.
        quantity: what is emulated, a store product name (``"tt"``) or ``{"name", "units"}``;
            documented models get theirs (``tt``/``te``/``ee``/``pp``: raw dimensionless
            C_ell; ``pk_lin``: Mpc^3 at the input ``z``; ``pk_boost``).
        modes: labels of the outputs (an :class:`Axis`, or values for an axis named from the
            model: ``ell``, ``k`` in 1/Mpc, else ``mode``); default: the file's ``modes``.
        pca: for CosmoPower-JAX PCA models, the prefix of their
            ``PREFIX_{pca_transform_matrix,training_mean,training_std}.npy``; default
            ``../pca_utils/STEM`` beside the model when those files exist (CosmoPower-JAX's
            layout).

    Returns:
        The emulator (float32 weights as in the file), ``kind`` ``"dense"`` or ``"pca"``.

    Raises:
        UnsafePickleError: a pickle refers to anything but numpy arrays and containers.
        ModelFileError: an unreadable or mis-shaped file.
        ValueError: ``box`` or ``log10`` needed and not given; a box that does not hold the
            training parameters' mean; ``modes`` of the wrong length.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CosmoPower model file '{path}' does not exist")
    raw = _read_raw(path)
    known = _known(path.stem)
    if known is not None and (len(raw.parameters) != len(known.parameters)
                              or not set(raw.parameters) <= set(known.box)):
        known = None  # same name, other parameters: nothing documented applies
    provenance: dict[str, Any] = {
        "from": "CosmoPower-JAX" if raw.fmt.startswith("CosmoPower-JAX") else "CosmoPower",
        "format": raw.fmt,
        "file": str(path.resolve()),
        "sha256": _sha256(path),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }

    # PCA: in the file (CosmoPower PCAplusNN) or beside it (CosmoPower-JAX)
    pca_arrays = raw.pca
    if pca_arrays is None and raw.fmt.startswith("CosmoPower-JAX"):
        files = _find_pca(path, pca)
        if files is None and known is not None and known.pca:
            raise ModelFileError(
                f"'{path}' is a CosmoPower-JAX PCA model whose PCA is kept apart; none found at "
                f"{path.resolve().parent.parent / 'pca_utils'}. Pass pca=PREFIX of "
                "PREFIX_pca_transform_matrix.npy, PREFIX_training_mean.npy, "
                "PREFIX_training_std.npy"
            )
        if files is not None:
            pca_arrays = tuple(np.load(f, allow_pickle=False) for f in files)  # type: ignore
            provenance["pca_files"] = [{"file": str(f.resolve()), "sha256": _sha256(f)}
                                       for f in files]
    elif pca is not None:
        raise ValueError(f"pca= is for CosmoPower-JAX models; '{path}' is a {raw.fmt}")

    # what the file does not say
    if box is None:
        if known is None:
            raise ValueError(
                f"CosmoPower model files do not record the training box, and '{path.name}' is "
                f"not a model CosmoPower documents: pass box={{name: (low, high)}} for "
                f"{', '.join(raw.parameters)}"
            )
        box = known.box
        provenance["box_source"] = known.source
    else:
        provenance["box_source"] = "given to import_cosmopower(box=...)"
    if log10 is None:
        if known is None:
            raise ValueError(
                f"say whether '{path.name}' emulates log10 of its outputs: log10=True for a "
                "model used with CosmoPower's ten_to_predictions_np, log10=False for "
                "predictions_np"
            )
        log10 = known.log10
        provenance["log10_source"] = known.source
    if quantity is None and known is not None:
        quantity = dict(known.quantity)
    missing = [p for p in raw.parameters if p not in box]
    if missing:
        raise ValueError(f"box lacks {', '.join(missing)} (the model's parameters are "
                         f"{', '.join(raw.parameters)})")
    box_t = {p: (float(box[p][0]), float(box[p][1])) for p in raw.parameters}
    mean = np.asarray(raw.param_mean, np.float64).reshape(-1)
    if mean.shape != (len(raw.parameters),):
        raise ModelFileError(f"'{path}': parameter mean has shape {mean.shape}, "
                             f"{len(raw.parameters)} parameters")
    outside = [f"{p} (training mean {m:.4g}, box [{lo:g}, {hi:g}])"
               for p, m, (lo, hi) in zip(raw.parameters, mean, box_t.values(), strict=True)
               if not lo <= m <= hi]
    if outside:
        raise ValueError(f"the box does not hold the training parameters of '{path.name}': "
                         + "; ".join(outside))

    # the network and the transform chain
    try:
        if not (len(raw.alphas) == len(raw.betas) == len(raw.weights) - 1):
            raise ValueError(f"{len(raw.weights)} layers need {len(raw.weights) - 1} alphas "
                             f"and betas, found {len(raw.alphas)} and {len(raw.betas)}")
        network = MLP(tuple(raw.weights), tuple(raw.biases), tuple(raw.alphas),
                      tuple(raw.betas), "alsing")
        for i in range(len(raw.weights) - 1):
            width = network.sizes[i + 1]
            shapes = {np.shape(raw.biases[i]), np.shape(raw.alphas[i]), np.shape(raw.betas[i])}
            if shapes != {(width,)} or np.shape(raw.weights[i + 1])[0] != width:
                raise ValueError(f"layer {i} has {width} units but its bias/alpha/beta or the "
                                 f"next weight have shapes {sorted(shapes)}, "
                                 f"{np.shape(raw.weights[i + 1])}")
        chain: list[Transform] = [Affine(raw.feature_mean, raw.feature_std)]
        if pca_arrays is not None:
            matrix, t_mean, t_std = pca_arrays
            chain += [PCA(matrix), Affine(t_mean, t_std)]
        n_out = output_size(network, tuple(chain))
        if np.shape(chain[-1].shift) != (n_out,):  # type: ignore[attr-defined]
            raise ValueError(f"the output normalisation has shape "
                             f"{np.shape(chain[-1].shift)}; {n_out} outputs")  # type: ignore
    except ValueError as err:
        raise ModelFileError(f"'{path}': {err}") from err
    if log10:
        chain.append(Pow10())

    # output labels
    if isinstance(modes, Axis):
        axis = modes
    else:
        values = modes if modes is not None else raw.modes
        if values is None or len(values) != n_out:
            if modes is None and known is not None and known.axis[0] == "ell":
                values = np.arange(2, 2 + n_out)  # CosmoPower's CMB models: ell = 2, 3, ...
                provenance["modes_source"] = known.source
            else:
                have = "no" if values is None else f"{len(values)}"
                raise ValueError(f"'{path.name}' gives {n_out} outputs and {have} mode labels: "
                                 f"pass modes= ({n_out} values)")
        name, units = known.axis if known is not None else ("mode", "")
        axis = Axis(name, tuple(np.asarray(values).tolist()), units)

    what = provenance["from"]
    try:
        return make_emulator(
            network,
            Affine(raw.param_mean, raw.param_std),
            chain,
            raw.parameters,
            box_t,
            None,
            "pca" if pca_arrays is not None else "dense",
            axes=[axis],
            quantity=quantity,
            metadata={
                "description": f"imported from {what} ({path.name}, {raw.fmt})",
                "imported": provenance,
            },
        )
    except ValueError as err:
        raise ModelFileError(f"'{path}': {err}") from err
