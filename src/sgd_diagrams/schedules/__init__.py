"""Schedules (grids, seed 001 App. A.2), the history sweep and history counting (App. A.3, A.5)."""

from .grid import (
    Schedule,
    from_batches,
    gd,
    load_schedule,
    lr_schedule,
    parse_schedule_spec,
    schedule_from_json,
    sgd,
    sgd_reshuffled,
)
from .shuffles import expected_history_count  # also registers the shuffle average with history_count

__all__ = [
    "Schedule",
    "from_batches",
    "gd",
    "load_schedule",
    "lr_schedule",
    "parse_schedule_spec",
    "schedule_from_json",
    "sgd",
    "sgd_reshuffled",
    "expected_history_count",
]
