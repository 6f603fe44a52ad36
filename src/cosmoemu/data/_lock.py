"""One writer per store: ``cosmoemu generate`` holds an exclusive lock on ``STORE/.lock``.

Two runs on one store would both compute every missing sample. The driver takes
``fcntl.flock(LOCK_EX | LOCK_NB)`` on ``.lock`` for the whole run and writes its PID, host and
start time into it; a second run refuses at once with a message naming the holder. The kernel
drops the lock when the holding process exits, however it exits (even ``kill -9``), so a crashed
run never blocks the next one; the file itself stays, with the old holder's details, and is
simply locked again. On a file system without ``flock`` support the run goes on unlocked, with a
warning.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["LOCK", "StoreLocked", "store_lock"]

log = logging.getLogger(__name__)

LOCK = ".lock"


class StoreLocked(RuntimeError):
    """Another process is writing this store.

    Attributes:
        holder: what the lock file says about the holder (``pid``, ``host``, ``since``).
    """

    def __init__(self, root: Path, holder: dict[str, Any]) -> None:
        self.holder = holder
        who = (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, since "
               f"{holder.get('since', '?')}")
        super().__init__(
            f"store '{root}' is being written by another `cosmoemu generate` ({who}); two runs "
            "would both compute the same samples. Wait for it to finish and run the command "
            f"again to resume, or stop that run first (kill {holder.get('pid', 'PID')} on "
            f"{holder.get('host', 'its host')}).")


def _holder(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


@contextlib.contextmanager
def store_lock(root: str | os.PathLike) -> Iterator[None]:
    """Hold the store's write lock for the duration of the block.

    Raises:
        StoreLocked: another process holds it (the message names it).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        log.warning("no fcntl on this platform: store '%s' is not locked against a second run",
                    root)
        yield
        return
    path = Path(root) / LOCK
    f: IO[str] = open(path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreLocked(Path(root), _holder(path)) from None
        except OSError as err:  # e.g. ENOLCK on some network file systems
            log.warning("cannot lock store '%s' (%s): a second run on it would not be refused",
                        root, err)
            yield
            return
        f.seek(0)
        f.truncate()
        f.write(json.dumps({
            "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }) + "\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        f.close()
