"""Model files: ``STEM.npz`` (arrays, loaded with ``allow_pickle=False``) + ``STEM.json``.

The JSON manifest holds the schema version, the quantity emulated and its units, parameter
names and box, the output axes (name, units, values of each), the transform chain (which refers
to arrays by name), the architecture, training provenance and an accuracy summary, plus the
SHA-256 of the npz so a corrupt or swapped file is caught. Loading runs nothing from the files:
it reads numbers and strings, rebuilds known types and checks that the arrays chain to the
axes' shape.

Checksums: ``npz_sha256`` is the SHA-256 of the npz file, and ``manifest_sha256`` the SHA-256 of
the manifest itself in canonical form (:func:`canonical_manifest`: every field but
``manifest_sha256``, keys sorted, no whitespace), which contains ``npz_sha256``: together they
cover the arrays and every field of the JSON (box, axes, transforms...). Loading checks both, so
an edited box or axis is refused instead of being believed. They guard against accidents (a
hand edit, a file of another model, a truncated copy), not against someone who recomputes them.
Files written before ``manifest_sha256`` existed (schema 1, or 2 without it)
still load, with a warning that their manifest is unchecked; :func:`add_manifest_checksum`
(after checking the npz) or re-saving upgrades them.

Schema versions:

- 2 (written now): ``"quantity": {"name", "units"}`` (``null`` when never given) and
  ``"axes": [{"name", "units", "values"}, ...]``, one entry per output axis in C order
  (``predict`` returns ``(..., *lengths)``).
- 1 (read): one output axis given as ``"modes"`` and ``"mode_label"``; the quantity, when
  recorded, is ``metadata.quantity`` (``cosmoemu train`` always wrote it), with no units. Such
  a file loads as a one-axis emulator named ``mode_label`` with that quantity; re-save it to
  upgrade it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._emulator import Emulator, make_emulator
from ._network import ACTIVATIONS, MLP
from ._transforms import Affine, transform_from_spec

__all__ = [
    "save_emulator",
    "read_emulator",
    "ModelFileError",
    "SCHEMA_VERSION",
    "model_paths",
    "canonical_manifest",
    "add_manifest_checksum",
]

log = logging.getLogger(__name__)

FORMAT = "cosmoemu-emulator"
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or of an unknown format or schema version."""


def model_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """``(STEM.npz, STEM.json)`` for a path given as the stem, the ``.npz`` or the ``.json``."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".npz", ".json") else p
    return stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


MANIFEST_HASH = "manifest_sha256"


def canonical_manifest(manifest: dict[str, Any]) -> bytes:
    """The bytes ``manifest_sha256`` is computed on: every field but ``manifest_sha256``, as
    JSON with sorted keys, no whitespace and ASCII escapes (floats as Python's shortest repr)."""
    body = {k: v for k, v in manifest.items() if k != MANIFEST_HASH}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode()


def _manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_manifest(manifest)).hexdigest()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: np.asarray(o).tolist()))


def save_emulator(emulator: Emulator, path: str | os.PathLike, **extra: Any) -> tuple[Path, Path]:
    """Write ``emulator`` to ``STEM.npz`` + ``STEM.json`` (atomically: temp files + rename).

    Args:
        emulator: the emulator.
        path: the stem (``.npz``/``.json`` suffixes are stripped).
        **extra: more JSON-able manifest entries (e.g. ``accuracy={...}``); they are merged into
            the metadata returned by ``Emulator.metadata`` after loading. ``quantity`` (a name
            or ``{"name", "units"}``) sets the quantity instead, if training did not.

    Returns:
        The two paths written.
    """
    npz_path, json_path = model_paths(path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    net = emulator.network
    arrays: dict[str, np.ndarray] = {}
    for i in range(len(net.weights)):
        arrays[f"network/{i}/weight"] = np.asarray(net.weights[i])
        arrays[f"network/{i}/bias"] = np.asarray(net.biases[i])
    for i in range(len(net.alphas)):
        arrays[f"network/{i}/alpha"] = np.asarray(net.alphas[i])
        arrays[f"network/{i}/beta"] = np.asarray(net.betas[i])
    in_spec, in_arrays = emulator.input_transform.spec("input")
    arrays.update(in_arrays)
    out_specs = []
    for j, step in enumerate(emulator.output_transforms):
        spec, arr = step.spec(f"output/{j}")
        out_specs.append(spec)
        arrays.update(arr)

    tmp_npz = npz_path.with_name(npz_path.name + ".tmp.npz")
    np.savez_compressed(tmp_npz, **arrays)  # ~6 % smaller; loads the same
    meta = emulator.metadata
    meta.pop("source", None)  # where it was loaded from; not part of the model
    extra = _jsonable(extra)
    quantity = None
    if emulator.quantity is not None:
        quantity = {"name": emulator.quantity, "units": emulator.units}
    q_extra = extra.pop("quantity", None)
    if q_extra is not None and (quantity is None or q_extra in (quantity["name"], quantity)):
        quantity = ({"name": q_extra, "units": ""} if isinstance(q_extra, str)
                    else {"name": q_extra["name"], "units": q_extra.get("units", "")})
    elif q_extra is not None:
        raise ValueError(f"quantity={q_extra!r} differs from the emulator's {quantity}")
    meta.update(extra)
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "quantity": quantity,
        "kind": emulator.kind,
        "parameters": list(emulator.parameters),
        "box": {p: list(b) for p, b in emulator.box.items()},
        "axes": [a.to_json() for a in emulator.axes],
        "network": {"sizes": list(net.sizes), "activation": net.activation,
                    **({"input_degree": net.input_degree} if net.input_degree != 1 else {})},
        **({"region": emulator.region} if emulator.region is not None else {}),
        **({"structure": emulator.structure} if emulator.structure is not None else {}),
        "input_transform": in_spec,
        "output_transforms": out_specs,
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
        "npz_sha256": _sha256(tmp_npz),
        "metadata": meta,
    }
    manifest[MANIFEST_HASH] = _manifest_hash(manifest)
    tmp_json = json_path.with_name(json_path.name + ".tmp")
    tmp_json.write_text(json.dumps(manifest, indent=1, sort_keys=False))
    os.replace(tmp_npz, npz_path)
    os.replace(tmp_json, json_path)
    return npz_path, json_path


def _require(manifest: dict[str, Any], key: str, where: Path) -> Any:
    if key not in manifest:
        raise ModelFileError(f"model manifest '{where}' lacks the field '{key}'")
    return manifest[key]


def _check_manifest_hash(manifest: dict[str, Any], json_path: Path) -> None:
    recorded = manifest.get(MANIFEST_HASH)
    if recorded is None:
        log.warning(
            "model manifest '%s' carries no %s (written before manifests were checksummed): "
            "its box, axes and transforms are not checked against the arrays. Re-save it "
            "(save_emulator) or run cosmoemu.emulator.add_manifest_checksum on it to add one.",
            json_path, MANIFEST_HASH,
        )
        return
    try:
        actual = _manifest_hash(manifest)
    except ValueError as err:  # NaN/inf in the JSON
        raise ModelFileError(f"model manifest '{json_path}' holds a non-finite number: {err}") \
            from err
    if recorded != actual:
        raise ModelFileError(
            f"model manifest '{json_path}' was changed after it was written (its {MANIFEST_HASH} "
            "does not match its content): a field such as the box, the axes or a transform was "
            "edited, so the model cannot be trusted. Restore the original file, or re-train / "
            "re-save the model with the settings you want."
        )


def add_manifest_checksum(path: str | os.PathLike) -> Path:
    """Add ``manifest_sha256`` to the manifest of a model written before it existed.

    The npz must match the manifest's ``npz_sha256`` and the model must load. Only the JSON is
    rewritten, with the new field added and every other field kept as it is (a schema-1 file
    stays schema 1), so predictions are bit-identical. Use it only on a file you trust: it
    vouches for the manifest as it stands.

    Args:
        path: the model's stem, ``.npz`` or ``.json``.

    Returns:
        The manifest path.

    Raises:
        ModelFileError: the file does not load, or already has a different checksum.
    """
    npz_path, json_path = model_paths(path)
    read_emulator(path)  # the npz checksum, the shapes, and an existing manifest hash
    text = json_path.read_text()
    manifest = json.loads(text)
    manifest.pop(MANIFEST_HASH, None)
    manifest[MANIFEST_HASH] = _manifest_hash(manifest)
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=False))
    os.replace(tmp, json_path)
    return json_path


def read_emulator(path: str | os.PathLike) -> Emulator:
    """Load an emulator written by :func:`save_emulator`.

    Args:
        path: the stem, ``STEM.npz`` or ``STEM.json``.

    Raises:
        ModelFileError: missing file, corrupt npz or JSON, checksum mismatch (of the npz or of
            the manifest), unknown format or schema version, missing or mis-shaped array, a box
            or axes that do not fit the arrays.
    """
    npz_path, json_path = model_paths(path)
    for p in (json_path, npz_path):
        if not p.is_file():
            raise ModelFileError(
                f"model file '{p}' does not exist (a model is STEM.npz + STEM.json)"
            )
    try:
        manifest = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"model manifest '{json_path}' is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelFileError(
            f"'{json_path}' is not a cosmoemu model manifest (format != {FORMAT!r})"
        )
    version = manifest.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"'{json_path}' has schema version {version!r}; this cosmoemu reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}. Upgrade cosmoemu (newer files) or "
            "re-save the model."
        )
    expected = _sha256(npz_path)
    if manifest.get("npz_sha256") != expected:
        raise ModelFileError(
            f"'{npz_path}' does not match its manifest (checksum differs): the file is corrupt "
            "or belongs to another model"
        )
    _check_manifest_hash(manifest, json_path)
    try:
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise ModelFileError(f"'{npz_path}' is not a readable npz file: {err}") from err
    for name, desc in _require(manifest, "arrays", json_path).items():
        if name not in arrays:
            raise ModelFileError(f"'{npz_path}' lacks the array '{name}'")
        a = arrays[name]
        if list(a.shape) != desc["shape"] or str(a.dtype) != desc["dtype"]:
            raise ModelFileError(
                f"array '{name}' in '{npz_path}' has shape {a.shape} {a.dtype}, "
                f"manifest says {desc['shape']} {desc['dtype']}"
            )
    net_spec = _require(manifest, "network", json_path)
    act = net_spec.get("activation")
    if act not in ACTIVATIONS:
        raise ModelFileError(f"unknown activation {act!r} in '{json_path}'")
    n_layers = len(net_spec["sizes"]) - 1
    try:
        weights = tuple(arrays[f"network/{i}/weight"] for i in range(n_layers))
        biases = tuple(arrays[f"network/{i}/bias"] for i in range(n_layers))
        n_act = n_layers - 1 if act == "alsing" else 0
        alphas = tuple(arrays[f"network/{i}/alpha"] for i in range(n_act))
        betas = tuple(arrays[f"network/{i}/beta"] for i in range(n_act))
        degree = net_spec.get("input_degree", 1)
        if not (isinstance(degree, int) and degree >= 1):
            raise ModelFileError(f"bad input_degree {degree!r} in '{json_path}'")
        network = MLP(weights, biases, alphas, betas, act, degree)
        input_tf = Affine.from_spec(_require(manifest, "input_transform", json_path), arrays)
        outputs = tuple(
            transform_from_spec(s, arrays)
            for s in _require(manifest, "output_transforms", json_path)
        )
    except KeyError as err:
        raise ModelFileError(f"'{npz_path}' lacks the array {err}") from err
    except ValueError as err:
        raise ModelFileError(f"'{json_path}': {err}") from err
    if network.sizes != tuple(net_spec["sizes"]):
        raise ModelFileError(f"network sizes in '{npz_path}' differ from the manifest")
    parameters = _require(manifest, "parameters", json_path)
    box = _require(manifest, "box", json_path)
    if not isinstance(box, dict) or sorted(box) != sorted(parameters):
        raise ModelFileError(f"'{json_path}': the box must give (low, high) for exactly the "
                             f"parameters {parameters}, got {box!r}")
    meta = dict(manifest.get("metadata", {}))
    meta["source"] = str(json_path)
    if version == 1:  # one axis, quantity in the metadata (see the module docstring)
        quantity = meta.pop("quantity", None)
        axes = [{"name": manifest.get("mode_label", "mode"), "units": "",
                 "values": _require(manifest, "modes", json_path)}]
    else:
        quantity = manifest.get("quantity")
        axes = _require(manifest, "axes", json_path)
    try:
        return make_emulator(
            network,
            input_tf,
            outputs,
            parameters,
            box,
            None,
            _require(manifest, "kind", json_path),
            axes=axes,
            quantity=quantity,
            metadata=meta,
            region=manifest.get("region"),
            structure=manifest.get("structure"),
        )
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"'{json_path}': {err}") from err
