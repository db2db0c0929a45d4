"""Where independent work runs: in this process (``local``) or on a Ray cluster (``ray``).

Simulation trials and estimation replications are embarrassingly parallel: a simulation chunk draws its
training sets and noise from seeds derived from (run seed, chunk) alone, and an estimation shard's sample
rows are fixed by the seed before anything runs, so a chunk gives the same numbers wherever and in
whatever order it runs; merging in index order makes a Ray run *identical* to a local one.  The Ray
backend ships the shared inputs (landscape, schedule) to the object store once, runs one task per chunk
(each task with one torch thread, so workers do not oversubscribe cores), reports every finished chunk
as it arrives (progress and resume files advance while workers run), and leaves the cluster running.

Ray is an optional extra (``pip install -c constraints.txt -e '.[ray]'``); ``address=None`` starts or
joins a local instance (``ray.init()``), an address such as ``"ray://head:10001"`` or ``"auto"`` joins a
cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .errors import SgdDiagramsError

__all__ = ["BACKENDS", "DEVICES", "check_backend", "resolve_device", "run_chunks"]

BACKENDS = ("local", "ray")


def check_backend(backend: str, address: str | None = None) -> str:
    """The backend name, validated (``address`` only with ``ray``)."""
    if backend not in BACKENDS:
        raise SgdDiagramsError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise SgdDiagramsError("an address is only for the ray backend; add --backend ray")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise SgdDiagramsError("the ray address must be a non-empty string such as auto or ray://host:10001")
    return backend


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


def _one_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import torch

    torch.set_num_threads(1)
    return fn(*args)


def run_chunks(chunks: Sequence[int], fn: Callable[..., Any], shared: Sequence[Any],
               per_chunk: Callable[[int], Sequence[Any]], on_done: Callable[[int, Any], None],
               backend: str = "local", address: str | None = None) -> None:
    """Run ``fn(*shared, *per_chunk(c))`` for every chunk c; ``on_done(c, result)`` as each finishes.

    ``local`` runs them in order here; ``ray`` runs them as tasks (``shared`` put in the object store once)
    and calls ``on_done`` in completion order — callers merge by chunk index, so the result is the same.
    """
    check_backend(backend, address)
    if backend == "local" or not chunks:
        for c in chunks:
            on_done(c, fn(*shared, *per_chunk(c)))
        return
    ray = _ray(address)
    remote = ray.remote(_one_thread)
    refs = [ray.put(x) for x in shared]
    pending = {remote.remote(fn, *refs, *per_chunk(c)): c for c in chunks}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            c = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, SgdDiagramsError):
                    raise cause from None
                raise
            on_done(c, result)


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
