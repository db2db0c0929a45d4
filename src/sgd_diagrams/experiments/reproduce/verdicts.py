"""The statistical rules every reproduction's verdict follows, as small pure functions.

A reproduction compares simulation with prediction at several points (η values, curvatures, models).
Each point is a :class:`Comparison`: an observed mean with its standard error, a prediction with its
own standard error (0 for exact theory), and the *effect* the comparison is meant to resolve — the size
of the difference between the claim and its rival (e.g. η²/6 against an SDE's 0), so that a test whose
noise swamps the effect is not mistaken for agreement.  A fitted coefficient is a comparison too, with
its degrees of freedom.

The rules (:data:`RULE_TEXT` is written next to the numbers in every report):

* **z** of a point is (observed − predicted)/√(SE_obs² + SE_pred²), two-sided p-value from the normal law.
* **Multiplicity.** Points tested together are judged by Holm's step-down procedure at family-wise level
  α = 0.05: a family *rejects* when Holm rejects at least one point.  Under the null (the prediction is
  right at every point) this happens with probability ≤ α however many points are added, so adding
  points does not flip verdicts by chance more often than α.
* **Power.** Each part of a claim (e.g. "SGD − ODE" and "SGD − SDE") has power when at least one of its
  points could see its effect: |effect|/SE ≥ z_{1−α/(2m)} + z_{0.8} (the Bonferroni critical value for m
  points plus 0.84, i.e. ≥ 80 % power to detect the effect at that point).  A fit with ≤ 0 degrees of
  freedom has no power (nothing is tested); a point with no stated effect has none either.
* **Verdict.**  *refuted* when the claim's family rejects; else *inconclusive* when a part has no power;
  else *confirmed with a correction* when a powered family testing the paper's printed statement (where
  ours differs from it) rejects; *confirmed* otherwise.
* **Agreement range.** "agrees through ηT = x" names the largest x such that no point with ηT ≤ x is
  rejected; when the smallest ηT tested is rejected it says "at no tested point".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

__all__ = ["ALPHA", "POWER_Z", "RULE_TEXT", "VERDICTS", "Comparison", "Family", "Judgement", "agreement_range",
           "critical_z", "decide", "from_summary", "holm_rejections", "majority_verdict", "p_value",
           "signed_rejections"]

VERDICTS = ("confirmed", "confirmed with a correction", "refuted", "inconclusive")
ALPHA = 0.05
POWER_Z = NormalDist().inv_cdf(0.8)  # 0.8416: 80 % power
RULE_TEXT = (
    "Rule: z = (observed − predicted)/√(SE_obs² + SE_pred²) per point; all points of the claim are tested together "
    "by Holm's step-down procedure at family-wise α = 0.05 (adding points cannot flip a verdict by chance more often "
    "than 5 %). Each part of the claim has power when one of its points has |effect|/SE ≥ z_{1−α/(2m)} + 0.84 "
    "(80 % power to see the effect the claim is about); a fit needs positive degrees of freedom. A rejected point → "
    "refuted; else a part without power → inconclusive; else, when a powered test of the paper's printed statement "
    "rejects it → confirmed with a correction; else confirmed."
)


@dataclass(frozen=True)
class Comparison:
    """One point: observed ± se_obs against predicted ± se_pred; ``effect`` is what the test must resolve."""

    label: str
    observed: float
    se_obs: float
    predicted: float
    se_pred: float = 0.0
    effect: float = math.nan
    x: float = math.nan  # ηT (or another abscissa) for agreement ranges
    dof: int | None = None  # for a fitted coefficient: degrees of freedom of the fit
    part: str = ""  # the sub-claim this point belongs to: each part of a claim needs power of its own

    @property
    def se(self) -> float:
        return math.hypot(self.se_obs, self.se_pred)

    @property
    def z(self) -> float:
        diff = self.observed - self.predicted
        if self.se > 0:
            return diff / self.se
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)

    @property
    def power_ratio(self) -> float:
        """|effect|/SE: how many standard errors the effect being tested spans (nan when no effect is given)."""
        if self.dof is not None and self.dof <= 0:
            return 0.0
        if not math.isfinite(self.effect):
            return math.nan
        return abs(self.effect) / self.se if self.se > 0 else math.inf


def from_summary(label: str, summary: dict, predicted: float, effect: float, x: float = math.nan,
                 se_pred: float = 0.0, dof: int | None = None, part: str = "") -> Comparison:
    """A :class:`Comparison` from a simulated ``{"mean", "sem"}`` summary."""
    return Comparison(label, float(summary["mean"]), float(summary["sem"]), float(predicted), float(se_pred),
                      float(effect), float(x), dof, part)


def p_value(z: float) -> float:
    """Two-sided normal p-value of ``z``."""
    return 2.0 * NormalDist().cdf(-abs(z)) if math.isfinite(z) else 0.0


def critical_z(m: int, alpha: float = ALPHA) -> float:
    """z_{1−α/(2m)}: the Bonferroni two-sided critical value for m points."""
    return NormalDist().inv_cdf(1.0 - alpha / (2 * max(m, 1)))


def holm_rejections(zs: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down procedure on two-sided z's: which points are rejected at family-wise level ``alpha``."""
    m = len(zs)
    order = sorted(range(m), key=lambda i: p_value(zs[i]))
    out = [False] * m
    for rank, i in enumerate(order):
        if p_value(zs[i]) <= alpha / (m - rank):
            out[i] = True
        else:
            break
    return out


@dataclass(frozen=True)
class Family:
    """Points tested together; ``name`` says what is compared (e.g. "SGD vs the resummed engine")."""

    name: str
    points: tuple[Comparison, ...]

    def __init__(self, name: str, points: Sequence[Comparison]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "points", tuple(points))

    @property
    def rejected(self) -> list[bool]:
        return holm_rejections([p.z for p in self.points])

    @property
    def rejects(self) -> bool:
        return any(self.rejected)

    @property
    def needed_ratio(self) -> float:
        return critical_z(len(self.points)) + POWER_Z

    @property
    def parts(self) -> list[str]:
        return list(dict.fromkeys(p.part for p in self.points))

    def best_power_ratio(self, part: str | None = None) -> float:
        ratios = [p.power_ratio for p in self.points if (part is None or p.part == part)
                  and not math.isnan(p.power_ratio)]
        return max(ratios) if ratios else math.nan

    def part_powered(self, part: str) -> bool:
        r = self.best_power_ratio(part)
        return bool(r >= self.needed_ratio) if not math.isnan(r) else False

    @property
    def powered(self) -> bool:
        """Every part has a point that resolves its effect at 80 % power (a fit also needs positive dof; no stated
        effect: no power)."""
        return bool(self.points) and all(self.part_powered(part) for part in self.parts)

    def describe(self) -> str:
        """One line: every point's z, which are rejected, and the power ratio against the needed one."""
        parts = []
        for p, rej in zip(self.points, self.rejected, strict=True):
            extra = f", effect/SE {p.power_ratio:.1f}" if not math.isnan(p.power_ratio) else ""
            dof = f", {p.dof} dof" if p.dof is not None else ""
            head = f"{p.part}: {p.label}" if p.part else p.label
            parts.append(f"{head}: z = {p.z:+.2f}{' (rejected)' if rej else ''}{extra}{dof}")
        power = []
        for part in self.parts:
            r = self.best_power_ratio(part)
            if math.isnan(r):
                power.append(f"{part + ': ' if part else ''}no predicted effect (a comparison against 0: its "
                             "rejections decide)")
                continue
            power.append(f"power{' of ' + part if part else ''}: best effect/SE {r:.1f} vs {self.needed_ratio:.2f} "
                         f"needed ({'has power' if self.part_powered(part) else 'NO power'})")
        return f"{self.name} — " + "; ".join(parts + power)


@dataclass(frozen=True)
class Judgement:
    """A verdict, the sentence that justifies it, and the families it rests on (for the report)."""

    verdict: str
    reason: str
    families: list[Family] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Markdown bullets: each family's z's and power, then the rule."""
        return [f"- {f.describe()}" for f in self.families] + [f"- {RULE_TEXT}"]


def decide(claim: Family, printed: Family | None = None) -> Judgement:
    """The verdict of ``claim`` (our prediction vs simulation) and, optionally, the paper's printed statement.

    ``printed`` tests the paper's statement as printed where it differs from the prediction we check.
    """
    fams = [claim] + ([printed] if printed is not None else [])
    if claim.rejects:
        bad = [(p.part + ": " if p.part else "") + p.label
               for p, r in zip(claim.points, claim.rejected, strict=True) if r]
        return Judgement("refuted", f"{claim.name}: rejected at {', '.join(bad)} (Holm, α = {ALPHA:g}).", fams)
    if not claim.powered:
        weak = [part or claim.name for part in claim.parts if not claim.part_powered(part)]
        return Judgement("inconclusive", f"{claim.name}: no point rejected, but the test has no power for "
                         f"{', '.join(weak)} (best effect/SE below {claim.needed_ratio:.2f}), so agreement there "
                         "means nothing.", fams)
    if printed is not None and printed.powered and printed.rejects:
        return Judgement("confirmed with a correction",
                         f"{claim.name}: no point rejected, with power; the paper's printed statement "
                         f"({printed.name}) is rejected.", fams)
    return Judgement("confirmed", f"{claim.name}: no point rejected (Holm, α = {ALPHA:g}), with power.", fams)


def signed_rejections(family: Family) -> tuple[int, int]:
    """How many points Holm rejects with z < 0 (observed below predicted) and with z > 0."""
    below = sum(1 for p, r in zip(family.points, family.rejected, strict=True) if r and p.z < 0)
    above = sum(1 for p, r in zip(family.points, family.rejected, strict=True) if r and p.z > 0)
    return below, above


def majority_verdict(family: Family, better_below: bool = True) -> tuple[str, str]:
    """The rule for "A beats B at most points": the points are A − B against 0, tested by Holm.  Confirmed when
    more than half are significantly better; refuted when at least half are significantly worse or when the
    significant wins cannot reach a majority although every point was decided; inconclusive otherwise."""
    below, above = signed_rejections(family)
    wins, losses = (below, above) if better_below else (above, below)
    m = len(family.points)
    text = f"significantly better at {wins} of {m}, worse at {losses} (Holm, α = {ALPHA:g})"
    if 2 * wins > m:
        return "confirmed", text
    if 2 * losses >= m or wins + losses == m:
        return "refuted", text
    return "inconclusive", text


def agreement_range(xs: Sequence[float], rejected: Sequence[bool], unit: str = "ηT") -> str:
    """"agrees through {unit} = x" (largest x with no rejected point at or below it), or "at no tested point"."""
    pairs = sorted(zip(xs, rejected, strict=True))
    through = None
    for x, rej in pairs:
        if rej:
            break
        through = x
    if through is None:
        return "agrees at no tested point"
    if through == pairs[-1][0]:
        return f"agrees at every tested point (through {unit} = {through:g})"
    return f"agrees through {unit} = {through:g}"
