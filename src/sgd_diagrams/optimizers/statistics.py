"""Mergeable per-trial statistics: mean, SEM and 95% confidence intervals.

:class:`Moments` keeps (count, mean, M2) per component (Welford/Chan), so chunks
of trials merge exactly and a resumed run reproduces an uninterrupted one.
Non-finite values (a diverged trial) are excluded from the moments and counted
in ``nonfinite``; they are reported, never averaged in.  The 95% interval is
mean ± 1.96·SEM (normal approximation; use ≥ 30 trials).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Moments", "Z95"]

Z95 = 1.959963984540054


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of each component, plus non-finite counts."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    nonfinite: np.ndarray

    @classmethod
    def from_values(cls, values: np.ndarray) -> Moments:
        """Moments of ``values`` with trials on axis 0 (NaN/inf entries excluded and counted)."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        count = finite.sum(axis=0)
        clean = np.where(finite, values, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, clean.sum(axis=0) / np.maximum(count, 1), np.nan)
        dev = np.where(finite, values - mean, 0.0)
        m2 = (dev**2).sum(axis=0)
        return cls(count.astype(np.int64), mean, m2, (~finite).sum(axis=0).astype(np.int64))

    def merge(self, other: Moments) -> Moments:
        """Moments of the union of both samples (Chan et al.'s parallel update)."""
        n = self.count + other.count
        safe_n = np.maximum(n, 1)
        delta = np.nan_to_num(other.mean) - np.nan_to_num(self.mean)
        mean = np.where(n > 0, np.nan_to_num(self.mean) + delta * other.count / safe_n, np.nan)
        m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / safe_n
        return Moments(n, mean, m2, self.nonfinite + other.nonfinite)

    def summary(self) -> dict[str, Any]:
        """``{"mean", "sem", "ci95", "n", "nonfinite"}``; lists for vector-valued metrics."""
        n = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.where(n > 1, self.m2 / np.maximum(n - 1, 1), np.nan)
            sem = np.sqrt(var / np.maximum(n, 1))
        lo, hi = self.mean - Z95 * sem, self.mean + Z95 * sem

        def out(a: np.ndarray) -> Any:
            if np.ndim(a) == 0:
                v = float(a)
                return v if np.isfinite(v) else None
            return [out(x) for x in a]

        ci = (
            [out(lo), out(hi)]
            if np.ndim(lo) == 0
            else [[out(a), out(b)] for a, b in zip(lo, hi, strict=True)]
        )
        return {
            "mean": out(self.mean),
            "sem": out(sem),
            "ci95": ci,
            "n": int(np.min(n)) if np.ndim(n) else int(n),
            "nonfinite": int(np.max(self.nonfinite))
            if np.ndim(self.nonfinite)
            else int(self.nonfinite),
        }

    def to_json(self) -> dict[str, Any]:
        """Exact serialisation (for checkpoints)."""
        return {
            "count": np.asarray(self.count).tolist(),
            "mean": np.asarray(self.mean).tolist(),
            "m2": np.asarray(self.m2).tolist(),
            "nonfinite": np.asarray(self.nonfinite).tolist(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Moments:
        """Inverse of :meth:`to_json`."""
        return cls(
            np.asarray(obj["count"], dtype=np.int64),
            np.asarray(obj["mean"], dtype=np.float64),
            np.asarray(obj["m2"], dtype=np.float64),
            np.asarray(obj["nonfinite"], dtype=np.int64),
        )
