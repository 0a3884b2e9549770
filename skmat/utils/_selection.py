"""The validation scores that choose epochs and shift strengths (torch-free)."""

from statistics import NormalDist

import numpy as np

# Weight of the worst-class accuracy in the score on inferred groups; the rest
# goes to the (shrunk) worst inferred-group accuracy, inferred groups and their
# pooled minority both. See docs/benchmarks.md,
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
    return _Grouping(groups).accuracies(correct, shrinkage)


class _Grouping:
    """Rows' group codes and counts, computed once for many predictions."""

    def __init__(self, groups):
        _, self.codes = np.unique(groups, return_inverse=True)
        self.counts = np.bincount(self.codes)

    def accuracies(self, correct, shrinkage=0.0):
        """Accuracy within each group, shrunk towards the overall accuracy."""
        hits = np.bincount(self.codes, weights=correct)
        return (hits + shrinkage * correct.mean()) / (self.counts + shrinkage)


def _pooled_minority(y_true, groups):
    """Whether each row lies outside the largest inferred group of its class.

    Pools the inferred minority groups of every class into one: a shortcut's
    minority rows are a handful in each class of a validation split, but
    together they are enough to count.
    """
    _, codes = np.unique(groups, return_inverse=True)
    counts = np.zeros((int(y_true.max()) + 1, codes.max() + 1))
    np.add.at(counts, (y_true, codes), 1)
    return (codes != counts.argmax(axis=1)[y_true]).astype(np.int64)


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
        ``0.3 * worst-class + 0.7 * min(worst shrunk inferred group, worst
        shrunk pooled group)``, where the pooled groups are the rows in the
        largest inferred group of their class and all the others (the
        inferred minorities of every class together). Inferred groups are
        noisy where the data hold no shortcut, and a model that fits exactly
        XRM's mistakes would otherwise score well on them by construction;
        shrinkage keeps a group of a handful of rows from deciding alone, and
        pooling keeps the minorities of many classes from vanishing in it.

    Returns
    -------
    score : float
    tie_break : float
        ``score`` plus a small multiple of the balanced accuracy, which orders
        epochs or candidates with equal scores.
    """
    return ValidationScorer(y_true, groups, source).score(y_pred)[:2]


class ValidationScorer:
    """:func:`validation_score` for many predictions of the same rows.

    The groups of the rows (classes, given or inferred groups, the pooled
    minority) are found once, not at every epoch of every candidate head.
    """

    def __init__(self, y_true, groups=None, source="class"):
        self.y_true = np.asarray(y_true)
        self.source = source
        self.classes = _Grouping(self.y_true)
        if source == "group_labels":
            self.groups = [_Grouping(groups)]
        elif source == "inferred":
            self.groups = [
                _Grouping(groups),
                _Grouping(_pooled_minority(self.y_true, groups)),
            ]

    def score(self, y_pred):
        """Return the score, the score with its tie-break, and the balanced accuracy."""
        correct = (np.asarray(y_pred) == self.y_true).astype(np.float64)
        by_class = self.classes.accuracies(correct)
        if self.source == "group_labels":
            score = self.groups[0].accuracies(correct).min()
        elif self.source == "inferred":
            shrunk = min(
                grouping.accuracies(correct, INFERRED_SHRINKAGE).min()
                for grouping in self.groups
            )
            score = (
                INFERRED_CLASS_WEIGHT * by_class.min()
                + (1 - INFERRED_CLASS_WEIGHT) * shrunk
            )
        else:
            score = by_class.min()
        balanced = by_class.mean()
        return float(score), float(score + TIE_BREAK_WEIGHT * balanced), float(balanced)

    def pooled_accuracies(self, y_pred):
        """Accuracy on the pooled inferred minority and on the other rows.

        Both NaN unless the groups are inferred and the rows hold both
        parts (see :func:`minority_lift`).
        """
        if self.source != "inferred":
            return np.nan, np.nan
        pooled = self.groups[1]
        if len(pooled.counts) < 2:
            return np.nan, np.nan
        correct = (np.asarray(y_pred) == self.y_true).astype(np.float64)
        majority, minority = pooled.accuracies(correct)
        return float(minority), float(majority)


# One-sided level of the test of minority_lift, before the Bonferroni
# correction over the candidates.
LIFT_LEVEL = 0.025


def minority_lift(minority_accuracy, majority_accuracy, n_minority, n_tests=1):
    """Lower confidence bound of how far the inferred minority is learnable.

    Where XRM's inferred minority is label noise (rows whose label was
    flipped at random), a minority row with label ``y`` lies where the rows
    of another class are, and any classifier predicts ``y`` there at most as
    often as it errs on that class: its accuracy on the minority is at most
    one minus its accuracy on the majority, in expectation, *whatever the
    classifier*. A shortcut's minority is different: its labels follow a
    core feature, and a network that learns it classifies the minority and
    the majority alike. This returns the lower bound of the minority's
    accuracy (Agresti-Coull, one-sided at ``LIFT_LEVEL / n_tests``, a
    Bonferroni correction when the largest over ``n_tests`` candidates is
    taken) minus ``1 - majority_accuracy``: above zero, some network
    classifies the minority better than label noise allows.

    Parameters
    ----------
    minority_accuracy, majority_accuracy : float
        Accuracy on the pooled inferred minority of the validation rows and
        on the other rows (:meth:`ValidationScorer.pooled_accuracies`).
    n_minority : int
        Number of validation rows in the pooled minority.
    n_tests : int, default=1
        Number of candidates whose largest lift is taken.

    Returns
    -------
    float
        NaN when either accuracy is NaN.
    """
    z = NormalDist().inv_cdf(1 - LIFT_LEVEL / n_tests)
    n = n_minority + 4
    p = (minority_accuracy * n_minority + 2) / n
    return float(p - z * np.sqrt(p * (1 - p) / n) - (1 - majority_accuracy))
