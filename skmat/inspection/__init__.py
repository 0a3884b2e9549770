"""Inspect what a classifier memorizes and how it does on each group.

- :func:`memorization_scores`: Feldman-Zhang memorization of every training
  example, for any scikit-learn classifier with ``predict_proba``.
- :func:`group_report`: accuracy, confidence and memorization per group.
- Plots (need matplotlib, ``pip install skmat[plot]``):
  :func:`plot_group_accuracy`, :func:`plot_memorization`,
  :func:`plot_decision_boundary` and :func:`plot_training_curves`.
"""

from ._memorization import memorization_scores
from ._plot import (
    plot_decision_boundary,
    plot_group_accuracy,
    plot_memorization,
    plot_training_curves,
)
from ._report import group_report

__all__ = [
    "group_report",
    "memorization_scores",
    "plot_decision_boundary",
    "plot_group_accuracy",
    "plot_memorization",
    "plot_training_curves",
]
