"""A run killed with SIGKILL resumes with no lost, duplicated or rewritten rows, and no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import yaml

from cosmoemu.data import generate, open_store, parse_config, toy_outputs
from cosmoemu.data._design import make_design


def _processes_with(tag: str) -> list[int]:
    """Pids of live processes whose environment holds ``tag`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if tag.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_then_resume(toy_config, tmp_path):
    n, chunk = 60, 5
    cfg = toy_config(settings={"delay": 0.1}, chunk_size=chunk,
                     design=[{"kind": "lhs", "n": n, "seed": 21}])
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    tag = f"COSMOEMU_TEST_TAG={uuid.uuid4().hex}"
    env = {**os.environ, tag.split("=")[0]: tag.split("=")[1]}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from cosmoemu.data._cli import generate; generate()", str(path),
         "--workers", "2", "--no-progress"],  # `cosmoemu generate`, without the other commands

        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    root = Path(cfg["output"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(root.glob("chunk_*.npz"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: (p.stat().st_ino, p.read_bytes()) for p in root.glob("chunk_*.npz")}
    assert 3 <= len(kept) < n // chunk, "the kill must land mid-run"

    # the sandboxes died with their worker threads: no orphan keeps computing
    deadline = time.monotonic() + 10
    while _processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(tag) == []

    summary = generate(cfg, workers=2, progress=False)
    assert summary.computed == n - chunk * len(kept)
    assert (summary.n_done, summary.n_failed, summary.n_missing) == (n, 0, 0)
    for name, (inode, data) in kept.items():  # finished chunks were kept as they were
        assert (root / name).stat().st_ino == inode and (root / name).read_bytes() == data
    assert not list(root.glob(".*.tmp"))  # temp files of the killed run were cleaned up

    store = open_store(root)
    np.testing.assert_array_equal(store.design_rows, np.arange(n))  # none lost or duplicated
    checked = parse_config(cfg)
    params, _ = make_design(checked.box, checked.designs)
    np.testing.assert_array_equal(store.params(), params)
    truth = np.stack([toy_outputs(dict(zip(checked.box.names, p, strict=True)),
                                  checked.request)["spectra"][1] for p in params])
    np.testing.assert_array_equal(store.load("te"), truth.astype(np.float32))
