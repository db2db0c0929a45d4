"""Local worker processes (``workers=N``, ``--workers N``): exactly the numbers of one process (chunk seeds
and estimation rows are fixed before anything runs), resumable, the progress bar advances, worker CPU is
counted, Ctrl-C stops the workers at once, and bad input is a one-line error."""

from __future__ import annotations

import json
import multiprocessing
import time

import numpy as np
import pytest

import sgd_diagrams as sd
from sgd_diagrams.backends import run_chunks
from sgd_diagrams.cli import main


class _Bar:
    def __init__(self, total, *_):
        self.total, self.done, self.closed = total, 0, False

    def update(self, n):
        self.done += n

    def close(self):
        self.closed = True


def test_simulation_with_two_workers_equals_one_process(monkeypatch):
    import sgd_diagrams.optimizers.trials as trials

    bars = []
    monkeypatch.setattr(trials, "progress_bar",
                        lambda *a, enabled=True: (bars.append(_Bar(*a)) or bars[-1]) if enabled else None)
    land, sched = sd.landscape("gauss"), sd.sgd(N=6)
    one = sd.simulate(land, sched, ["sgd", "gd"], eta=[0.02, 0.05], trials=300, seed=4, chunk=70)
    two = sd.simulate(land, sched, ["sgd", "gd"], eta=[0.02, 0.05], trials=300, seed=4, chunk=70,
                      execution=sd.Execution(workers=2, progress=True))
    assert two.summaries == one.summaries
    assert len(bars) == 2 and all(b.done == b.total == 300 * 2 * 6 and b.closed for b in bars)
    assert two.seconds["measured"] > 0  # the workers' CPU is counted, not only this process's


def test_matrix_free_estimation_with_two_workers_equals_one_process():
    land = sd.landscape("logistic-digits")
    sampling = sd.Sampling(samples=1200, seed=3, replications=8)
    one = sd.predict(land, sd.sgd(N=5), order=2, eta=[0.01, 0.05], sampling=sampling)
    two = sd.predict(land, sd.sgd(N=5), order=2, eta=[0.01, 0.05], sampling=sampling,
                     execution=sd.Execution(workers=2))
    assert one.details["estimator"] == "matrix-free"
    assert np.array_equal(one.value, two.value) and np.array_equal(one.stderr, two.stderr)


def test_cli_workers_resume(tmp_path, capsys):
    out = tmp_path / "w.json"
    argv = ["simulate", "--landscape", "gauss", "--schedule", "sgd:N=6", "--optimizer", "sgd", "--eta", "0.05",
            "--trials", "200", "--chunk", "50", "--json"]
    assert main([*argv, "--quiet"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert main([*argv, "--quiet", "--workers", "2", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["sweep"] == expected["sweep"]
    saved = json.loads(out.read_text())
    assert sorted(saved["chunks"]) == ["0", "1", "2", "3"]
    del saved["chunks"]["3"], saved["chunks"]["1"]
    saved["complete"] = False
    out.write_text(json.dumps(saved))
    assert main([*argv, "--quiet", "--workers", "2", "--out", str(out)]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["meta"]["resumed_chunks"] == [0, 2]
    assert resumed["sweep"] == expected["sweep"]


def test_interrupt_stops_the_workers_at_once():
    """Ctrl-C (here raised while the first result is handled) cancels the queue and terminates the worker
    still sleeping for a minute: run_chunks returns within seconds and no child process is left."""
    def on_done(c, _):
        raise KeyboardInterrupt

    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_chunks([0, 1, 2], time.sleep, (), lambda c: (0.0 if c == 0 else 60.0,), on_done, workers=2)
    assert time.perf_counter() - start < 30
    assert not [p for p in multiprocessing.active_children() if "ForkServer" not in type(p).__name__
                and p.is_alive()]


def test_worker_errors_are_one_line(capsys):
    with pytest.raises(sd.SgdDiagramsError, match="workers must be an integer"):
        sd.Execution(workers=0)
    with pytest.raises(sd.SgdDiagramsError, match="workers is for the local backend"):
        sd.Execution(backend="ray", workers=2)
    assert main(["simulate", "--landscape", "gauss", "--schedule", "sgd:N=4", "--optimizer", "sgd", "--eta",
                 "0.1", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "workers must be an integer" in err and len(err.strip().splitlines()) == 1
    # an error inside a worker comes back as the same one-line error
    with pytest.raises(sd.SgdDiagramsError, match="seed must be"):
        run_chunks([0, 1], _raise_seed_error, (), lambda c: (c,), lambda c, r: None, workers=2)


def _raise_seed_error(c: int) -> None:
    raise sd.SgdDiagramsError(f"seed must be a non-negative integer, got {-c}")


def test_keep_freed_memory_applies_once_and_respects_the_users_settings(monkeypatch):
    from sgd_diagrams.backends import keep_freed_memory

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert keep_freed_memory() is False  # the user's own allocator settings win
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert keep_freed_memory() is True
