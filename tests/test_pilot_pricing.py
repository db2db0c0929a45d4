"""Pretraining and reproductions are priced from a pilot of their own work, refused over the budget unless
forced (never under it), and record the estimate beside the measured CPU seconds."""

from __future__ import annotations

import pytest

import sgd_diagrams as sd
import sgd_diagrams.limits as limits
from sgd_diagrams.experiments.reproduce.base import Context


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("torch")
    return sd.landscape("logistic-digits")


def test_pretraining_records_its_estimate_and_measured_cpu(digits):
    near = digits.pretrained(12, 0.5)
    p = near.pretraining
    assert p["estimated_cpu_s"] > 0 and p["measured_cpu_s"] > 0
    assert p["train_loss_after"] < p["train_loss_before"]
    # fewer steps than the pilot: still priced (from the steps there are); no steps: nothing to price
    short = digits.pretrained(2, 0.5).pretraining
    assert short["estimated_cpu_s"] > 0
    assert digits.pretrained(0, 0.5).pretraining["estimated_cpu_s"] == 0.0


def test_pretraining_over_the_budget_is_refused_unless_forced(digits, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET_SECONDS", 1e-9)
    with pytest.raises(sd.SgdDiagramsError, match="pretraining 40 full-batch GD steps.*--force"):
        digits.pretrained(40, 0.5)
    forced = digits.pretrained(40, 0.5, force=True)
    assert forced.pretraining["steps"] == 40
    monkeypatch.setattr(limits, "WORK_BUDGET_SECONDS", 1e9)  # under the limit: never refused
    assert digits.pretrained(40, 0.5).pretraining["train_loss_after"] == forced.pretraining["train_loss_after"]


def _scripted(ctx: Context, monkeypatch, cpu: list[float]) -> None:
    values = iter(cpu)
    monkeypatch.setattr(Context, "cpu_so_far", lambda self: next(values))


def test_a_reproduction_is_priced_from_its_first_unit(tmp_path, monkeypatch):
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [10.0, 12.0])  # 10 s before the loop, its first of 4 units took 2 s
    bar = ctx.progress(4, "trials", "chunk")
    bar.update(1)
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(10.0 + 2.0 * 4)
    assert "first 1 of 4 chunks of 'trials'" in ctx.estimate["estimate_from"]
    second = ctx.progress(10, "figures", "figure")  # later counters do not re-price the run
    second.update(1)
    bar.update(3)
    bar.close()
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(18.0)


def test_a_block_of_units_sharing_work_is_priced_after_the_block(tmp_path, monkeypatch):
    """Units not alike (one initialization's estimates, then its 3 η points): priced from the first block."""
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [1.0, 29.0, 30.0, 31.0])  # 1 s before the loop; the first init's points: 30 s
    bar = ctx.progress(6, "SGD simulations", "η points", price_after=3)
    bar.update(1)
    bar.update(1)
    assert ctx.estimate is None  # not priced from the first point (it carried the whole block's estimates)
    bar.update(1)
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(1.0 + 30.0 * 6 / 3)
    assert "first 3 of 6 η points of 'SGD simulations'" in ctx.estimate["estimate_from"]


def test_a_reproduction_over_the_budget_is_refused_unless_forced(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "WORK_BUDGET_SECONDS", 15.0)
    for force in (False, True):
        ctx = Context(name="demo", out_dir=tmp_path, force=force)
        _scripted(ctx, monkeypatch, [10.0, 12.0])
        bar = ctx.progress(4, "trials", "chunk")
        if force:
            bar.update(1)
            assert ctx.estimate["estimated_cpu_s"] == pytest.approx(18.0)
        else:
            with pytest.raises(sd.SgdDiagramsError, match="reproduction demo.*--force"):
                bar.update(1)
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [1.0, 2.0])  # 1 + 1 x 4 = 5 s: under the budget, never refused
    ctx.progress(4, "trials", "chunk").update(1)
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(5.0)


def test_reproduce_records_estimate_and_measured_cpu(tmp_path):
    from sgd_diagrams.experiments.reproduce import run_reproduction

    meta = run_reproduction("batch-size", tmp_path, quick=True, show_progress=False)["meta"]
    assert meta["estimated_cpu_s"] > 0 and meta["measured_cpu_s"] > 0
    assert meta["measured_cpu_s"] == meta["cpu_seconds"]
    assert meta["estimate_from"].startswith("first ")


def test_kinds_of_units_are_priced_from_their_own(tmp_path, monkeypatch):
    """Two kinds (2 SDE points at 10 s, then 4 SGD points at 1 s): each extrapolated from its own first."""
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [5.0, 15.0, 25.0, 26.0])
    bar = ctx.progress(6, "simulations", "point", segments=[(2, "sde", 1.0), (4, "sgd", 1.0)])
    bar.update(1)
    bar.update(1)
    assert ctx.estimate is None  # no SGD point yet
    bar.update(1)
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(26.0 + 3 * 1.0)
    # weights within a kind, and a first (set-up) update left out of the rate
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [0.0, 7.0, 8.0])  # first chunk 7 s (set-up), second 1 s for the same work
    bar = ctx.progress(4, "chunks", "chunk", segments=[(2, "", 1.0), (2, "", 2.0)], warmup=True)
    bar.update(1)
    assert ctx.estimate is None
    bar.update(1)
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(8.0 + 1.0 * 4)
    with pytest.raises(ValueError, match="segments"):
        ctx.progress(3, "x", segments=[(1, "", 1.0), (2, "", -1.0)])
    with pytest.raises(ValueError, match="segments"):  # runs that do not add up to the total
        ctx.progress(3, "x", segments=[(1, "", 1.0)])
    # an update spanning two kinds charges each its share of the work
    ctx = Context(name="demo", out_dir=tmp_path)
    _scripted(ctx, monkeypatch, [0.0, 4.0])
    bar = ctx.progress(4, "mixed", "unit", segments=[(2, "a", 1.0), (2, "b", 1.0)])
    bar.update(3)  # 2 of kind a and 1 of kind b for 4 s: 1.33 s of work each
    assert ctx.estimate["estimated_cpu_s"] == pytest.approx(4.0 + 4.0 / 3)
