"""Run a backend in a child process that can be killed: per-sample timeouts, crash isolation.

A hung Boltzmann call sits in compiled code, where no Python signal handler runs, so the only
sure way to stop it is to kill the process it runs in. Each worker therefore drives one
*sandbox*: a ``python -m cosmoemu.data._child`` process with ``OMP_NUM_THREADS=1`` that imports
the backend once and computes samples one at a time. The parent waits for each answer at most
``timeout`` seconds; on a timeout it kills the child (SIGKILL), the sample is recorded as
failed and a fresh sandbox takes the next sample. A crash of the child (segmentation fault,
Fortran ``STOP``) is recorded the same way, with the tail of the child's stderr.

Messages are data only, never pickles: a length-prefixed JSON document in which arrays are
replaced by references to raw little-endian buffers that follow it (dtype and shape in the JSON),
over pipes between two processes of this same run (never written to disk). The child's stdout
is redirected to its stderr so that Boltzmann-code chatter cannot corrupt them. On Linux the
child also dies with the thread that started it (``PR_SET_PDEATHSIG``), so killing a run with
SIGKILL leaves no orphans.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Sandbox", "SampleOutcome", "sandbox_for", "close_all"]

_HEADER = struct.Struct("!Q")
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass
class SampleOutcome:
    """Result of one sample: ``values`` (store key -> array) or an ``error`` message."""

    values: dict[str, np.ndarray] | None
    error: str
    seconds: float


class SandboxError(RuntimeError):
    """The sandbox could not start its backend."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _encode(obj: Any, buffers: list[bytes]) -> Any:
    """JSON-ready copy of ``obj``; arrays go to ``buffers`` and are replaced by references."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"cannot send an array of dtype {a.dtype}")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        buffers.append(a.tobytes())
        return {"__array__": len(buffers) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
    if isinstance(obj, dict):
        return {str(k): _encode(v, buffers) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v, buffers) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot send a {type(obj).__name__} to the sandbox")


def _decode(obj: Any, buffers: list[bytes]) -> Any:
    if isinstance(obj, dict):
        if "__array__" in obj:
            a = np.frombuffer(buffers[obj["__array__"]], dtype=np.dtype(obj["dtype"]))
            return a.reshape(obj["shape"]).copy()
        return {k: _decode(v, buffers) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, buffers) for v in obj]
    return obj


def _send(fd: int, obj: Any) -> None:
    buffers: list[bytes] = []
    body = _encode(obj, buffers)
    head = json.dumps({"buffers": len(buffers), "body": body}).encode()
    parts = [_HEADER.pack(len(head)), head]
    for b in buffers:
        parts += [_HEADER.pack(len(b)), b]
    _write_all(fd, b"".join(parts))


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _recv(fd: int, deadline: float | None = None) -> Any:
    def frame() -> bytes:
        (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
        return _read_exact(fd, size, deadline)

    head = json.loads(frame())
    buffers = [frame() for _ in range(head["buffers"])]
    return _decode(head["body"], buffers)


def _describe(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text[:2000]


class Sandbox:
    """A child process holding one backend instance.

    Args:
        target: the backend's import path ``"module:ClassName"``.
        request: the :class:`~cosmoemu.data.Request` (passed to the backend).
        settings: backend settings.
        fixed: fixed parameter values.
        startup_timeout: seconds to wait for the child to import and build the backend.

    Raises:
        SandboxError: the backend could not be built (the message says why).
    """

    def __init__(
        self,
        target: str,
        request: Any,
        settings: Mapping[str, Any],
        fixed: Mapping[str, float],
        startup_timeout: float = 600.0,
    ) -> None:
        env = dict(os.environ)
        env.update({name: "1" for name in _THREAD_ENV})
        env["COSMOEMU_SANDBOX_PARENT"] = str(os.getpid())
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "cosmoemu.data._child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env,
            close_fds=True,
        )
        _LIVE.add(self)
        spec = {"target": target, "request": request.to_json(),
                "settings": dict(settings), "fixed": dict(fixed), "sys_path": list(sys.path)}
        try:
            _send(self._proc.stdin.fileno(), spec)
            reply = _recv(self._proc.stdout.fileno(), time.monotonic() + startup_timeout)
        except TimeoutError:
            self.kill()
            raise SandboxError(f"backend did not start within {startup_timeout:.0f} s") from None
        except (EOFError, BrokenPipeError):
            why = self._death()
            self.kill()
            raise SandboxError(f"backend process died at start-up{why}") from None
        if reply[0] != "ready":
            self.kill()
            raise SandboxError(f"backend could not start: {reply[1]}")

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc.poll() is None

    def compute(self, params: Mapping[str, float], timeout: float | None) -> SampleOutcome:
        """One sample, killed after ``timeout`` seconds (``None``: no limit).

        A timeout or a crash kills the child; :attr:`alive` is then false and the outcome holds
        the error message.
        """
        t0 = time.monotonic()
        try:
            _send(self._proc.stdin.fileno(), dict(params))
            deadline = None if timeout is None else t0 + timeout
            status, payload, seconds = _recv(self._proc.stdout.fileno(), deadline)
        except TimeoutError:
            self.kill()
            return SampleOutcome(None, f"timed out after {timeout:g} s; backend process killed",
                                 time.monotonic() - t0)
        except (EOFError, BrokenPipeError):
            self._proc.wait()
            return SampleOutcome(None, f"backend process died{self._death()}",
                                 time.monotonic() - t0)
        if status == "ok":
            return SampleOutcome(payload, "", seconds)
        return SampleOutcome(None, payload, seconds)

    def _death(self) -> str:
        code = self._proc.wait()
        code_text = f"exit code {code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                code_text = f"killed by {signal.Signals(-code).name}"
        self._stderr.seek(0)
        tail = self._stderr.read()[-600:].decode(errors="replace").strip()
        return f" ({code_text})" + (f"; stderr: ...{tail}" if tail else "")

    def kill(self) -> None:
        """Kill the child at once (SIGKILL) and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._close_pipes()

    def close(self) -> None:
        """Ask the child to exit (end of input); kill it if it does not within 5 s."""
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self._proc.stdin, self._proc.stdout, self._stderr):
            with contextlib.suppress(OSError):
                stream.close()
        _LIVE.discard(self)


# ---- one sandbox per worker thread, reused across the tasks that thread runs ----

_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()
_LOCAL = threading.local()


def sandbox_for(
    target: str, request: Any, settings: Mapping[str, Any], fixed: Mapping[str, float]
) -> Sandbox:
    """This thread's live sandbox for that backend, started if needed (saves imports per task)."""
    key = json.dumps([target, request.to_json(), settings, fixed], sort_keys=True,
                     default=repr)
    current = getattr(_LOCAL, "sandbox", None)
    if current is not None and (_LOCAL.key != key or not current.alive):
        current.close()
        current = None
    if current is None:
        current = Sandbox(target, request, settings, fixed)
        _LOCAL.sandbox, _LOCAL.key = current, key
    return current


def close_all() -> None:
    """Close every sandbox of this process (end of a local run, or an interrupt)."""
    for sandbox in list(_LIVE):
        sandbox.kill()


# ---- the child ----

def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the thread that started it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    parent = os.environ.get("COSMOEMU_SANDBOX_PARENT")
    if parent is not None and os.getppid() != int(parent):
        os._exit(1)  # the parent is already gone


def _main() -> None:
    out_fd = os.dup(1)
    os.dup2(2, 1)  # Boltzmann-code prints go to stderr, never into the message pipe
    in_fd = 0
    _die_with_parent()
    try:
        spec = _recv(in_fd)
    except EOFError:
        return
    for path in reversed(spec["sys_path"]):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        from ._backend import get_backend
        from ._request import Request

        request = Request.from_json(spec["request"])
        backend = get_backend(spec["target"])(request, spec["settings"], spec["fixed"])
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        _send(out_fd, ("error", _describe(err)))
        return
    _send(out_fd, ("ready", None))
    while True:
        try:
            params = _recv(in_fd)
        except EOFError:
            return
        t0 = time.perf_counter()
        try:
            values = backend.compute(params)
            reply = ("ok", values, time.perf_counter() - t0)
        except Exception as err:  # noqa: BLE001 - a failed sample, reported to the parent
            reply = ("fail", _describe(err), time.perf_counter() - t0)
        try:
            _send(out_fd, reply)
        except BrokenPipeError:
            return

