"""Metrics for worst-group model selection.

Worst-group accuracy scores a classifier by its accuracy on the group where
it does worst, the usual criterion under spurious correlations.
"""

from skmat.metrics._group import (
    group_accuracy_report,
    worst_class_accuracy,
    worst_group_accuracy,
)

__all__ = [
    "group_accuracy_report",
    "worst_class_accuracy",
    "worst_group_accuracy",
]
