"""Datasets with spurious correlations and group labels.

Synthetic generators (:func:`make_spurious_memorization`,
:func:`make_colored_digits`) and a loader for the UCI Adult data
(:func:`fetch_adult`). Each returns group ids alongside the labels, for
worst-group evaluation.
"""

from ._adult import fetch_adult
from ._colored_digits import make_colored_digits
from ._interpretable import make_spurious_memorization

__all__ = [
    "fetch_adult",
    "make_colored_digits",
    "make_spurious_memorization",
]
