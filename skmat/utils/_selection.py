"""The validation scores that choose epochs and shift strengths (torch-free)."""

import numpy as np

# Weight of the worst-class accuracy in the score on inferred groups; the rest
# goes to the (shrunk) worst inferred-group accuracy. See docs/benchmarks.md,
# "Choosing the shift strength without group labels".
INFERRED_CLASS_WEIGHT = 0.3
# Pseudo-rows at the overall accuracy added to each inferred group: a group of
# a handful of rows cannot decide the score alone.
INFERRED_SHRINKAGE = 5.0
# Ties are broken by balanced accuracy with this (small) weight, then by the
# validation cross-entropy (clipped at 100) with a smaller one.
TIE_BREAK_WEIGHT = 1e-3
LOSS_TIE_BREAK_WEIGHT = 1e-6


def _group_accuracies(correct, groups, shrinkage=0.0):
    """Accuracy within each group, shrunk towards the overall accuracy."""
    _, codes = np.unique(groups, return_inverse=True)
    counts = np.bincount(codes)
    hits = np.bincount(codes, weights=correct)
    return (hits + shrinkage * correct.mean()) / (counts + shrinkage)


def validation_score(y_true, y_pred, groups=None, source="class"):
    """Score of predictions on the validation rows, higher is better.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n_samples,)
        Encoded labels and predictions.
    groups : ndarray of shape (n_samples,) or None
        Group ids of the rows; None with ``source="class"``.
    source : {"group_labels", "inferred", "class"}
        What the groups are. True groups give the worst-group accuracy;
        no groups give the worst-class accuracy; groups inferred by XRM give
        ``0.3 * worst-class + 0.7 * worst shrunk inferred-group accuracy``:
        inferred groups are noisy where the data hold no shortcut, and a
        model that fits exactly XRM's mistakes would otherwise score well on
        them by construction.

    Returns
    -------
    score : float
    tie_break : float
        ``score`` plus a small multiple of the balanced accuracy, which orders
        epochs or candidates with equal scores.
    """
    correct = (np.asarray(y_pred) == np.asarray(y_true)).astype(np.float64)
    by_class = _group_accuracies(correct, y_true)
    if source == "group_labels":
        score = _group_accuracies(correct, groups).min()
    elif source == "inferred":
        shrunk = _group_accuracies(correct, groups, INFERRED_SHRINKAGE).min()
        score = (
            INFERRED_CLASS_WEIGHT * by_class.min()
            + (1 - INFERRED_CLASS_WEIGHT) * shrunk
        )
    else:
        score = by_class.min()
    return float(score), float(score + TIE_BREAK_WEIGHT * by_class.mean())
