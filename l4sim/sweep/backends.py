"""Where runs execute: in this process, in local worker processes, or on Dask.

Each backend takes (key, config, replication, resolution) tasks and yields (key, record)
pairs as runs finish, in whatever order they finish: the caller files each
record in the cache at once, so an interrupted sweep keeps every finished
run, and it assembles the tables in task order afterwards, so the order of
completion never shows in them. Only a point's configuration (a dict) and
its replication number go to a worker, with the point's resolved fastpath
order or design, and only plain records come back
(:func:`l4sim.simulation.worker.run_record`), stamped with the model version
the worker ran.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from l4sim.simulation.resolution import Resolution
from l4sim.simulation.worker import run_record
from l4sim.sweep.model_version import model_version

# cache key, point configuration, replication, the point's resolved order or design
Task = tuple[str, dict, int, Resolution | None]

# how long to wait for a Dask scheduler before giving up
PROBE_TIMEOUT = 5.0
CONNECT_TIMEOUT = "10s"
# how often the main process reads the workers' progress while it waits for runs
PROGRESS_POLL_SECONDS = 0.25
# how long an interrupted sweep waits for a terminated worker before killing it
STOP_SECONDS = 5.0

# In a local worker process: the count of closed entries, shared with the main
# process (set by the pool's initializer), which runs add to as they go.
_shared_count = None


class BackendError(Exception):
    """The scheduler cannot be reached or a worker runs other code (one line, exit 2)."""


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def run_inline(
    tasks: list[Task], invariants: bool | None = None, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[str, dict]]:
    """Every run in this process; ``progress(count)`` hears of closed entries as they close."""
    for key, config, replication, resolution in tasks:
        yield key, run_task(config, replication, resolution, invariants, progress)


def run_task(
    config: dict,
    replication: int,
    resolution: Resolution | None,
    invariants: bool | None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """One run's record, with the model version this process runs.

    The caller checks the version, so a stale worker cannot pass its results
    off as current ones.
    """
    record = run_record(config, replication, resolution, invariants, progress)
    record["model"] = model_version()
    return record


def _start_worker(count, parent: int) -> None:
    global _shared_count
    _shared_count = count
    # the main process alone hears Ctrl-C and SIGTERM, and stops its workers itself
    # (a worker forked from it has its handlers: one would answer a Ctrl-C by ending
    # its run with an error, and go on waiting for the next)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)


# prctl(2)'s option that sends a signal to this process when its parent dies (Linux)
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Have the OS kill this worker when the process that started it dies.

    However it dies (kill -9 included): no worker may go on alone, holding the
    output folder's lock it inherited or computing runs nobody will file. Linux
    only; elsewhere the main process stops its workers itself when interrupted.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os._exit(1)


def _add_to_shared_count(step: int) -> None:
    with _shared_count.get_lock():  # type: ignore[union-attr]  # (set in each worker)
        _shared_count.value += step  # type: ignore[union-attr]


def _run_in_worker(
    config: dict, replication: int, resolution: Resolution | None, invariants: bool | None
) -> dict:
    counting = _add_to_shared_count if _shared_count is not None else None
    return run_task(config, replication, resolution, invariants, counting)


def run_local(
    tasks: list[Task],
    jobs: int,
    invariants: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[str, dict]]:
    """``jobs`` worker processes; pending runs are cancelled if the caller stops.

    The workers add the entries they close to one shared count, which is
    passed on to ``progress`` while waiting for runs to finish.
    """
    if jobs <= 1 or len(tasks) <= 1:
        yield from run_inline(tasks, invariants, progress)
        return
    context = multiprocessing.get_context()
    count = context.Value("q", 0)
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(count, os.getpid()),
    )
    told = 0

    def tell() -> None:
        nonlocal told
        if progress is not None:  # told of nothing new too: a log line every 30 s all the same
            now = count.value
            progress(now - told)
            told = now

    try:
        # keep a bounded window in flight so cancelling an interrupted sweep is quick
        pending = iter(tasks)
        running = {}
        for key, config, replication, resolution in pending:
            running[pool.submit(_run_in_worker, config, replication, resolution, invariants)] = key
            if len(running) >= 2 * jobs:
                break
        while running:
            done, _ = wait(running, timeout=PROGRESS_POLL_SECONDS, return_when=FIRST_COMPLETED)
            tell()
            for future in done:
                key = running.pop(future)
                yield key, future.result()
                task = next(pending, None)
                if task is not None:
                    running[pool.submit(_run_in_worker, *task[1:], invariants)] = task[0]
    except BaseException:  # interrupted (Ctrl-C, SIGTERM), or the caller stopped: at once
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop every worker of ``pool`` now.

    Its pending runs are cancelled and its running ones ended: a long run would
    otherwise go on after the sweep was interrupted.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())  # (not published)
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=STOP_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join()


def connect(address: str):
    """A Dask client of the scheduler at ``address`` (raises :class:`BackendError`).

    A TCP/TLS address is checked with a plain socket first: a half-built Client
    on a bad address hangs in its destructor and prints a traceback.
    """
    from distributed.comm import get_address_host_port  # type: ignore[attr-defined]
    from distributed.comm.addressing import normalize_address

    try:
        address = normalize_address(address)
        if address.startswith(("tcp://", "tls://")):
            host, port = get_address_host_port(address)
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
        return _client_class()(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except Exception as error:  # whatever a wrong address answers, it is one line
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BackendError(f"--scheduler {address}: cannot connect ({reason})") from None


def _client_class():
    from distributed import Client

    class QuietClient(Client):
        """A Client whose failed construction does not print a traceback at exit."""

        def __del__(self):
            with contextlib.suppress(Exception):
                super().__del__()

    return QuietClient


def run_dask(
    tasks: list[Task], client, invariants: bool | None = None
) -> Iterator[tuple[str, dict]]:
    """Every run as a Dask task; results are fetched and released as they finish."""
    from distributed import as_completed

    futures = {
        client.submit(
            run_task, config, replication, resolution, invariants, key=f"l4sim-run-{key}"
        ): key
        for key, config, replication, resolution in tasks
    }
    try:
        for future, record in as_completed(futures, loop=client.loop, with_results=True):
            key = futures.pop(future)
            future.release()
            yield key, record
    finally:
        if futures:
            client.cancel(list(futures))
