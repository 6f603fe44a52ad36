"""One writer per store (a lock that a crash never leaves held), executor errors that name
where the setting came from, and Dask's log lines kept quiet (issue 16, defect 9)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cosmoemu._errors import ConfigError
from cosmoemu.cli import main
from cosmoemu.data import generate, open_store
from cosmoemu.data._executors import ExecutorUnavailable
from cosmoemu.data._lock import StoreLocked, store_lock

SRC = Path(__file__).parents[2] / "src"


def test_second_run_on_a_locked_store_refuses_naming_the_holder(toy_config):
    cfg = toy_config(design=[{"kind": "lhs", "n": 6, "seed": 1}])
    root = Path(cfg["output"])
    root.mkdir()
    with store_lock(root):  # a first run holds the store (another open file: flock conflicts)
        with pytest.raises(StoreLocked, match=rf"pid {os.getpid()} on host "
                                              rf"{socket.gethostname()}.*kill {os.getpid()}"):
            generate(cfg, progress=False)
        assert not (root / "manifest.json").exists()  # refused before writing anything
    summary = generate(cfg, workers=1, progress=False)  # released: it runs
    assert summary.n_done == 6 and len(open_store(root)) == 6


def test_lock_of_a_killed_run_does_not_block(toy_config, tmp_path):
    cfg = toy_config(design=[{"kind": "lhs", "n": 6, "seed": 1}])
    root = Path(cfg["output"])
    root.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from cosmoemu.data._lock import store_lock
            with store_lock({str(root)!r}):
                print("locked", flush=True)
                time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(cfg))
        res = CliRunner().invoke(main, ["generate", str(path), "--no-progress"])
        assert res.exit_code == 1
        assert f"being written by another `cosmoemu generate` (pid {holder.pid}" in res.output
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no clean-up runs
        holder.wait()
    assert (root / ".lock").exists()  # the file stays, but nobody holds it
    assert generate(cfg, workers=1, progress=False).n_done == 6


def test_executor_error_names_the_option_or_the_config_field(toy_config, tmp_path,
                                                            monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_mpi(name, *args, **kwargs):
        if name.startswith("mpi4py"):
            raise ImportError("No module named 'mpi4py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpi)
    cfg = toy_config(design=[{"kind": "lhs", "n": 3, "seed": 1}])
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(main, ["generate", str(path), "--executor", "mpi", "--no-progress"])
    assert res.exit_code == 1
    assert "--executor mpi: executor 'mpi' needs mpi4py" in res.output
    assert "config field" not in res.output  # it came from the command line
    with pytest.raises(ExecutorUnavailable, match="needs mpi4py"):
        generate(cfg, kind="mpi", progress=False)
    cfg["output"] = str(tmp_path / "other")
    cfg["execution"] = {"executor": "mpi"}  # now it comes from the config
    with pytest.raises(ConfigError, match=r"config field 'execution.executor': executor 'mpi' "
                                          r"needs mpi4py"):
        generate(cfg, progress=False)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_dask_logs_follow_our_level(toy_config, monkeypatch):
    """As under `cosmoemu generate` (root at WARNING, a handler that prints what reaches it):
    Dask's INFO lines (its loggers set to INFO by Dask) flooded stderr."""
    pytest.importorskip("distributed")
    import distributed  # noqa: F401 - Dask configures its loggers on import

    cfg = toy_config(design=[{"kind": "lhs", "n": 4, "seed": 1}], chunk_size=2)
    root, handler = logging.getLogger(), _Records()
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setattr(logging.getLogger("cosmoemu"), "level", logging.NOTSET)
    before = logging.getLogger("distributed").level
    root.addHandler(handler)
    try:
        assert generate(cfg, kind="dask", workers=1, progress=False).n_done == 4
    finally:
        root.removeHandler(handler)
    dask_lines = [f"{r.name}: {r.getMessage()}" for r in handler.records
                  if r.name.startswith("distributed") and r.levelno < logging.WARNING]
    assert dask_lines == []
    assert logging.getLogger("distributed").level == before  # restored after the run
