"""Local worker processes for an ensemble, under the ensemble's full control.

Each worker is ``python -m pardus.workers R W``: a fresh interpreter that imports only pardus (never
the user's ``__main__``, so a script without an ``if __name__ == "__main__":`` guard, or code piped
on stdin, runs as it is) and talks to the parent over two pipes with
:class:`multiprocessing.connection.Connection` framing:

* parent → worker: ``(task_id, function, args)``; closing the pipe means "stop now";
* worker → parent: ``("replicate", task_id)`` after every replicate (progress),
  ``("done", task_id, result)`` or ``("error", task_id, text)``.

Stopping is immediate, not at the end of a chunk: :meth:`Pool.close` closes the pipes, sends
SIGTERM to every worker and reaps it, so when it returns no worker is left and none has started
another replicate. A worker whose parent dies (even by SIGKILL) sees its pipe close and exits at
once. Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and the parent
alone decides what happens. No semaphore or shared memory is used, so there is no
resource-tracker process to leave behind.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait


class WorkerError(RuntimeError):
    """A worker raised an exception or died; the message says which task and why."""


def can_fork() -> bool:
    """Whether workers may be forked from this process: on Linux, and only while this process
    runs a single thread (forking a multi-threaded process can copy a lock another thread
    holds)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux") and threading.active_count() == 1


class _Forked:
    """A forked worker, with the part of :class:`subprocess.Popen`'s interface the pool uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def _reaped(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                self.returncode = 0
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reaped(os.WNOHANG)

    def wait(self) -> int:
        return self._reaped(0)  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)


class Pool:
    """``n`` worker processes; :meth:`map_unordered` runs tasks on them, one at a time each.

    Workers are forked from this process when :func:`can_fork` (they start at once, with every
    module and compiled kernel this process has loaded), else started as fresh interpreters
    (``python -m pardus.workers``) that import what they need.
    """

    def __init__(self, n: int, fork: bool | None = None):
        self.procs: list[subprocess.Popen | _Forked] = []
        self.send: list[Connection] = []
        self.recv: list[Connection] = []
        fork = can_fork() if fork is None else fork
        try:
            for _ in range(n):
                self._fork() if fork else self._start()
        except BaseException:
            self.close()
            raise

    def _fork(self) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                os.close(to_w)
                os.close(from_r)
                # the pipes of earlier workers: only the parent may hold them, or a worker
                # would not see its pipe close when the parent stops it or dies
                for conn in self.send + self.recv:
                    conn.close()
                _main([str(to_r), str(from_w)])
            except BaseException:  # noqa: BLE001 — a worker never returns into the parent's code
                code = 1
            finally:
                os._exit(code)
        os.close(to_r)
        os.close(from_w)
        self.procs.append(_Forked(pid))
        self.send.append(Connection(to_w, readable=False))
        self.recv.append(Connection(from_r, writable=False))

    def _start(self) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        env = dict(os.environ)
        # one thread per worker process: the workers are the parallelism
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            env.setdefault(var, "1")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pardus.workers", str(to_r), str(from_w)],
                pass_fds=(to_r, from_w),
                stdin=subprocess.DEVNULL,
                env=env,
                close_fds=True,
            )
        finally:
            os.close(to_r)
            os.close(from_w)
        self.procs.append(proc)
        self.send.append(Connection(to_w, readable=False))
        self.recv.append(Connection(from_r, writable=False))

    def map_unordered(
        self,
        fn: Callable,
        tasks: Iterable[tuple],
        on_replicate: Callable[[int], None] | None = None,
    ):
        """Yield ``(task_index, result)`` as tasks finish; ``on_replicate(task_index)`` per replicate.

        Any exception (including KeyboardInterrupt) leaves the pool to :meth:`close`.
        """
        todo = list(enumerate(tasks))
        todo.reverse()
        busy: dict[int, int] = {}  # worker index → task index
        for w in range(len(self.procs)):
            if todo:
                self._give(w, todo, busy, fn)
        while busy:
            for conn in wait([self.recv[w] for w in busy]):
                w = self.recv.index(conn)
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    rc = self.procs[w].wait()
                    if rc in (-signal.SIGTERM, -signal.SIGINT):
                        # someone stopped our worker (e.g. SIGTERM to the whole process group)
                        from .ensemble import Interrupted

                        raise Interrupted(-rc) from None
                    raise WorkerError(self._death(w, busy[w], rc)) from None
                kind, tid = msg[0], msg[1]
                if kind == "replicate":
                    if on_replicate:
                        on_replicate(tid)
                    continue
                del busy[w]
                if kind == "error":
                    raise WorkerError(f"a worker failed on task {tid}:\n{msg[2]}")
                if todo:
                    self._give(w, todo, busy, fn)
                yield tid, msg[2]

    def _give(self, w: int, todo: list, busy: dict, fn: Callable) -> None:
        tid, args = todo.pop()
        busy[w] = tid
        self.send[w].send((tid, fn, args))

    def _death(self, w: int, tid: int, rc: int) -> str:
        proc = self.procs[w]
        how = f"killed by signal {-rc} ({signal.Signals(-rc).name})" if rc < 0 else f"exit code {rc}"
        hint = " — out of memory?" if rc == -signal.SIGKILL else ""
        return f"worker process {proc.pid} died ({how}{hint}) while running task {tid}"

    def close(self) -> None:
        """Stop every worker now and reap it: nothing is left running when this returns."""
        for conn in self.send + self.recv:
            try:
                conn.close()
            except OSError:
                pass
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            _reap(proc)
        self.procs, self.send, self.recv = [], [], []

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _reap(proc) -> None:
    """Wait for a worker that was sent SIGTERM, even if another signal interrupts the wait."""
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


# ---------------------------------------------------------------------------------------------
# the worker side


def _serve(inbox: Connection, outbox: Connection) -> None:
    tasks: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                tasks.put(inbox.recv())
        except (EOFError, OSError):
            pass
        os._exit(0)  # the parent closed the pipe or died: stop at once, even mid-replicate

    threading.Thread(target=read, daemon=True, name="pardus-inbox").start()
    while True:
        tid, fn, args = tasks.get()
        try:
            result = fn(*args, on_replicate=lambda: outbox.send(("replicate", tid)))
        except BaseException:  # noqa: BLE001 — reported to the parent, which raises it
            outbox.send(("error", tid, traceback.format_exc()))
            continue
        outbox.send(("done", tid, result))


def _main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    inbox = Connection(int(argv[0]), writable=False)
    outbox = Connection(int(argv[1]), readable=False)
    try:
        _serve(inbox, outbox)
    except (BrokenPipeError, OSError):
        os._exit(0)  # the parent went away while we were answering


if __name__ == "__main__":
    _main(sys.argv[1:])

