"""Diagram values: cumulants (outline rule) and uvalues (node, outline, edge rules)."""

from .cumulants import joint_cumulant, joint_moment, set_partitions_of
from .uvalue import UvalueEvaluator, uvalue

__all__ = ["UvalueEvaluator", "joint_cumulant", "joint_moment", "set_partitions_of", "uvalue"]
