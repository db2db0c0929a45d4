"""Where independent work runs: in this process or N local worker processes (``local``), or on Ray (``ray``).

Simulation trials and estimation replications are embarrassingly parallel: a simulation chunk draws its
training sets and noise from seeds derived from (run seed, chunk) alone, and an estimation shard's sample
rows are fixed by the seed before anything runs, so a chunk gives the same numbers wherever and in
whatever order it runs; merging in index order makes a Ray run *identical* to a local one.  The Ray
backend ships the shared inputs (landscape, schedule) to the object store once, runs one task per chunk
(each task with one torch thread, so workers do not oversubscribe cores), reports every finished chunk
as it arrives (progress and resume files advance while workers run), and leaves the cluster running.

``local`` with ``workers=N > 1`` runs the chunks in N worker processes on this machine
(:class:`concurrent.futures.ProcessPoolExecutor`, 'forkserver' start method, one torch thread each): a
server process imports torch and this package once, every worker is forked from it (no import per worker,
no threads of this process copied), the shared inputs travel once per worker (in its initializer), each
chunk's own arguments with its task, and results come back as each chunk finishes — the same numbers as
one process, in the same merge order.  Ctrl-C stops the workers at once (they ignore SIGINT themselves;
the parent terminates them), so nothing is left running and callers' atomic writes leave no half-written
file.

Ray is an optional extra (``pip install -c constraints.txt -e '.[ray]'``); ``address=None`` starts or
joins a local instance (``ray.init()``), an address such as ``"ray://head:10001"`` or ``"auto"`` joins a
cluster.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from .errors import SgdDiagramsError

__all__ = ["BACKENDS", "DEVICES", "MAX_WORKERS", "check_backend", "check_workers", "keep_freed_memory",
           "resolve_device", "run_chunks"]

BACKENDS = ("local", "ray")
MAX_WORKERS = 256
"""Local worker processes at most (each holds its own copy of the model and data)."""


def check_backend(backend: str, address: str | None = None) -> str:
    """The backend name, validated (``address`` only with ``ray``)."""
    if backend not in BACKENDS:
        raise SgdDiagramsError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise SgdDiagramsError("an address is only for the ray backend; add --backend ray")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise SgdDiagramsError("the ray address must be a non-empty string such as auto or ray://host:10001")
    return backend


def check_workers(workers: Any, backend: str = "local") -> int:
    """The number of local worker processes, validated (more than one only with the ``local`` backend)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise SgdDiagramsError(f"workers must be an integer from 1 to {MAX_WORKERS}, got {workers!r}")
    if workers > 1 and backend != "local":
        raise SgdDiagramsError("workers is for the local backend (Ray schedules its own tasks); drop --workers "
                               "or --backend ray")
    return workers


MMAP_THRESHOLD_BYTES = 32 * 2**20
"""glibc's largest mmap threshold on 64-bit: blocks below it come from the heap and are reused when freed."""
TRIM_THRESHOLD_BYTES = 512 * 2**20
"""Free memory at the top of the heap kept for reuse (not returned to the system) up to this size."""


def keep_freed_memory() -> bool:
    """Let glibc reuse freed tensor memory instead of returning it to the system and faulting it back in.

    With glibc's defaults every tensor over its (adaptive) mmap threshold is a fresh mapping, unmapped when
    freed: the next one of the same size page-faults every page again.  Measured on the resummed convnet
    estimate (order 3, K = 8000, Krylov 12): 104.6 CPU s of which 38.1 s in the kernel (22 M page faults);
    with the two thresholds below, 67.8 s (7.8 s kernel), the same numbers, 65 MiB more resident memory.
    Called by the command line and by local workers only (a library does not retune its host's allocator);
    skipped where the user set ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` or the C library is
    not glibc.  Returns whether it applied.
    """
    import ctypes
    import os

    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (musl has no mallopt thresholds)
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)) and bool(
        libc.mallopt(m_trim_threshold, TRIM_THRESHOLD_BYTES))


def _ray(address: str | None):
    try:
        import ray
    except ImportError:
        raise SgdDiagramsError(
            "the ray backend needs Ray: pip install -c constraints.txt 'sgd-diagrams[ray]'"
        ) from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SgdDiagramsError(f"cannot start or reach Ray at {address or 'a local instance'}: {first}") from None
    return ray


def _one_thread(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """``fn(*args)`` with one torch thread, and the CPU seconds it took in this process."""
    import torch

    torch.set_num_threads(1)
    start = time.process_time()
    return fn(*args), time.process_time() - start


_WORKER_JOB: tuple[Callable[..., Any], tuple[Any, ...]] | None = None


def _worker_start(payload: bytes) -> None:
    """Initializer of a local worker process: ignore Ctrl-C (the parent stops us), load the shared inputs."""
    import signal

    global _WORKER_JOB
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    _WORKER_JOB = pickle.loads(payload)


def _worker_task(*args: Any) -> tuple[Any, float]:
    assert _WORKER_JOB is not None, "a worker task ran before its initializer"
    fn, shared = _WORKER_JOB
    return _one_thread(fn, *shared, *args)


def _payload(fn: Callable[..., Any], shared: Sequence[Any]) -> bytes:
    """The shared inputs as bytes for the workers (cloudpickle when installed: it also sends closures)."""
    try:
        import cloudpickle as dumper
    except ImportError:
        dumper = pickle
    try:
        return dumper.dumps((fn, tuple(shared)))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise SgdDiagramsError(f"this job's inputs cannot be sent to worker processes ({_first_line(exc)}); "
                               "use workers=1 (--workers 1)") from None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


_PRELOAD = ["sgd_diagrams.backends", "sgd_diagrams.optimizers.trials", "sgd_diagrams.estimation.predictions"]
"""Imported once by the fork server, so every worker starts with torch and the job's code loaded."""


def _context():
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ctx


@contextmanager
def _main_hidden():
    """Hide the ``__main__`` module while workers start, so they do not re-run the caller's script.

    The 'spawn' and 'forkserver' start methods import the parent's main script in every child; a script without an
    ``if __name__ == "__main__":`` guard would then start workers recursively.  The workers need nothing
    from it: the shared inputs travel pickled (by value with cloudpickle), the task function lives here.
    """
    import sys
    import types

    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


@contextmanager
def _sigint_ignored():
    """SIGINT ignored while child processes start (they inherit it); the handler restored after."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(pool: Any) -> None:
    """Cancel what has not started and terminate the workers now (Ctrl-C, or an error in a chunk)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=10)


def _run_in_processes(chunks: Sequence[int], fn: Callable[..., Any], shared: Sequence[Any],
                      per_chunk: Callable[[int], Sequence[Any]], on_done: Callable[[int, Any], None],
                      workers: int) -> float:
    """The chunks in ``workers`` processes; returns the CPU seconds the workers spent on the chunks."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    payload = _payload(fn, shared)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_context(),
                               initializer=_worker_start, initargs=(payload,))
    cpu = 0.0
    try:
        with _sigint_ignored(), _main_hidden():  # the workers start now (spawned by submit)
            pending = {pool.submit(_worker_task, *per_chunk(c)): c for c in chunks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=pending.__getitem__):
                c = pending.pop(future)
                result, seconds = future.result()
                cpu += seconds
                on_done(c, result)
    except BrokenProcessPool:
        _stop(pool)
        raise SgdDiagramsError("a worker process died or could not load the job (out of memory, or a model class "
                               "defined in a script without the cloudpickle package); use fewer --workers, a "
                               "smaller --chunk, or --workers 1") from None
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return cpu


def run_chunks(chunks: Sequence[int], fn: Callable[..., Any], shared: Sequence[Any],
               per_chunk: Callable[[int], Sequence[Any]], on_done: Callable[[int, Any], None],
               backend: str = "local", address: str | None = None, workers: int = 1) -> float:
    """Run ``fn(*shared, *per_chunk(c))`` for every chunk c; ``on_done(c, result)`` as each finishes.

    ``local`` runs them in order here (``workers=1``) or in ``workers`` local processes; ``ray`` runs them as
    tasks (``shared`` put in the object store once).  Other processes call back in completion order — callers
    merge by chunk index, so the result is the same.  Returns the CPU seconds spent outside this process
    (worker processes or Ray tasks; 0.0 when everything ran here).
    """
    check_backend(backend, address)
    check_workers(workers, backend)
    if not chunks:
        return 0.0
    if backend == "local" and workers == 1:
        for c in chunks:
            on_done(c, fn(*shared, *per_chunk(c)))
        return 0.0
    if backend == "local":
        return _run_in_processes(chunks, fn, shared, per_chunk, on_done, workers)
    ray = _ray(address)
    remote = ray.remote(_one_thread)
    refs = [ray.put(x) for x in shared]
    pending = {remote.remote(fn, *refs, *per_chunk(c)): c for c in chunks}
    cpu = 0.0
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            c = pending.pop(ref)
            try:
                result, seconds = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, SgdDiagramsError):
                    raise cause from None
                raise
            cpu += seconds
            on_done(c, result)
    return cpu


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(spec: str | None) -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is visible, else ``"cpu"``; ``"cpu"``; ``"cuda"`` / ``"cuda:N"``
    (refused in one line when no such GPU exists)."""
    import torch

    if spec is None or spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(spec, str):
        raise SgdDiagramsError(f"device must be auto, cpu or cuda[:N], got {spec!r}")
    if spec == "cpu":
        return spec
    name, _, index = spec.partition(":")
    if name != "cuda" or (index and not index.isdigit()):
        raise SgdDiagramsError(f"unknown device {spec!r}; use auto, cpu or cuda[:N]")
    if not torch.cuda.is_available():
        raise SgdDiagramsError(f"device {spec} asked for, but no CUDA GPU is visible here; use --device cpu or auto")
    if index and int(index) >= torch.cuda.device_count():
        raise SgdDiagramsError(f"device {spec} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    return spec
