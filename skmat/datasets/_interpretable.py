"""The interpretable spurious-correlation setup of Bayat et al. (ICLR 2025)."""

# Authors: The skmat developers
# License: BSD 3 clause

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_spurious_memorization"]

#: Names of the four groups ``2 * y + a`` shared by the synthetic datasets.
_GROUP_NAMES = {0: "y=0, a=0", 1: "y=0, a=1", 2: "y=1, a=0", 3: "y=1, a=1"}

#: Groups where the spurious attribute disagrees with the label.
_MINORITY_GROUPS = [1, 2]


def _assign_attribute(y, n_minority, rng):
    """Return a binary attribute equal to ``y`` on all but a random minority.

    The minority has exactly ``n_minority`` rows, drawn uniformly without
    replacement; on it the attribute is ``1 - y``.
    """
    a = y.copy()
    minority = rng.choice(y.shape[0], size=n_minority, replace=False)
    a[minority] = 1 - a[minority]
    return a


def _balanced_labels(n_samples, rng):
    """Return shuffled int labels with ``n // 2`` ones and ``n - n // 2`` zeros."""
    n_pos = n_samples // 2
    y = np.zeros(n_samples, dtype=np.int64)
    y[:n_pos] = 1
    rng.shuffle(y)
    return y


def _make_split(n_samples, n_features, noise, spurious_scale, core_noise, frac, rng):
    y = _balanced_labels(n_samples, rng)
    a = _assign_attribute(y, int(round((1.0 - frac) * n_samples)), rng)
    X = np.empty((n_samples, n_features), dtype=np.float64)
    X[:, 0] = (core_noise * rng.standard_normal(n_samples) - 1.0) * (2 * y - 1)
    X[:, 1] = (
        spurious_scale
        * (core_noise * rng.standard_normal(n_samples) - 1.0)
        * (2 * a - 1)
    )
    X[:, 2:] = noise * rng.standard_normal((n_samples, n_features - 2))
    return X, y, 2 * y + a


_DESCR = """\
.. _spurious_memorization_dataset:

Interpretable spurious-memorization dataset
-------------------------------------------

The synthetic setup of Bayat et al., "The Pitfalls of Memorization: When
Memorization Hurts Generalization", ICLR 2025 (Figure 1 and Theorem 2.2).

Each example has a binary label ``y`` (balanced) and a binary spurious
attribute ``a``, equal to ``y`` for the majority and to ``1 - y`` for the
minority. The features are, in this order:

- ``core``: ``(core_noise * z - 1) * (2y - 1)`` with ``z ~ N(0, 1)``; about
  ``-1`` for ``y = 1`` and ``+1`` for ``y = 0``: fully predictive of ``y``
  but small.
- ``spurious``: ``spurious_scale * (core_noise * z' - 1) * (2a - 1)``; large,
  and has the same sign as the core feature on the majority only.
- ``noise_0``, ... : ``n_features - 2`` example-specific Gaussian dimensions
  with standard deviation ``noise``, which a linear model or a network can
  use to memorize the minority.

Three splits (train, valid, test) of ``n_samples`` rows each. The training
split has ``round((1 - majority_fraction) * n_samples)`` minority rows, the
validation and test splits ``round((1 - eval_majority_fraction) * n_samples)``.
Group ids are ``2 * y + a``:

==  ========  ========
id  name      minority
==  ========  ========
0   y=0, a=0  no
1   y=0, a=1  yes
2   y=1, a=0  yes
3   y=1, a=1  no
==  ========  ========

The paper uses ``n_samples=1000``, ``n_features=1800``, ``noise=0.5``,
``spurious_scale=5``, ``core_noise=0.12``, ``majority_fraction=0.9`` and
``eval_majority_fraction=0.5``: an ERM-trained linear model fits the training
data perfectly yet classifies most of the minority by the spurious feature.
"""


#: Constraint shared by ``majority_fraction`` and ``eval_majority_fraction``.
_FRACTION = Interval(Real, 0, 1, closed="right")


@validate_params(
    {
        "n_samples": [Interval(Integral, 4, None, closed="left")],
        "n_features": [Interval(Integral, 2, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "spurious_scale": [Interval(Real, 0, None, closed="neither")],
        "core_noise": [Interval(Real, 0, None, closed="left")],
        "majority_fraction": [_FRACTION],
        "eval_majority_fraction": [_FRACTION],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_spurious_memorization(
    n_samples=1000,
    *,
    n_features=1800,
    noise=0.5,
    spurious_scale=5.0,
    core_noise=0.12,
    majority_fraction=0.9,
    eval_majority_fraction=0.5,
    random_state=None,
):
    """Generate the interpretable spurious-correlation setup of the MAT paper.

    A binary problem in which a small *core* feature predicts the label on
    every example, a large *spurious* feature predicts it on the majority
    only, and many example-specific noise dimensions let a model memorize the
    minority. This reproduces Figure 1 of Bayat et al., ICLR 2025.

    Read more in the dataset description, ``make_spurious_memorization().DESCR``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows in each of the three splits (train, valid, test).
        Must be at least 4. The labels are balanced: ``n_samples // 2`` rows
        have ``y = 1`` and the rest ``y = 0``, in random order.

    n_features : int, default=1800
        Total number of features, at least 2: the core feature, the spurious
        feature and ``n_features - 2`` noise features.

    noise : float, default=0.5
        Standard deviation of the example-specific Gaussian noise features.
        Must be non-negative.

    spurious_scale : float, default=5.0
        Magnitude of the spurious feature relative to the core one. Must be
        positive.

    core_noise : float, default=0.12
        Standard deviation of the Gaussian jitter ``z`` in
        ``(core_noise * z - 1)``, used for both the core and the spurious
        feature. Must be non-negative.

    majority_fraction : float, default=0.9
        Share of training rows whose spurious attribute equals the label, in
        ``(0, 1]``. Exactly ``round((1 - majority_fraction) * n_samples)``
        training rows, chosen at random, form the minority.

    eval_majority_fraction : float, default=0.5
        The same share for the validation and test splits, in ``(0, 1]``.

    random_state : int, RandomState instance or None, default=None
        Determines the random numbers. Pass an int for reproducible output
        across multiple function calls. See :term:`Glossary <random_state>`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X_train, X_valid, X_test : ndarray of shape (n_samples, n_features)
            Float64 features; columns ``[core, spurious, noise_0, ...]``.
        y_train, y_valid, y_test : ndarray of shape (n_samples,)
            Int64 labels in ``{0, 1}``.
        group_labels_train, group_labels_valid, group_labels_test : \
ndarray of shape (n_samples,)
            Int64 group ids ``2 * y + a`` in ``{0, 1, 2, 3}``, where ``a`` is
            the spurious attribute.
        group_names : dict
            Maps each group id to its name, e.g. ``1 -> "y=0, a=1"``.
        minority_groups : list of int
            The groups where ``a != y``: ``[1, 2]``.
        feature_names : list of str
            ``["core", "spurious", "noise_0", ..., "noise_{n_features - 3}"]``.
        DESCR : str
            Description of the dataset.

    Notes
    -----
    Following the paper, both features are *negative* for ``y = 1`` (about
    ``-1`` and ``-spurious_scale``) and positive for ``y = 0``. The spurious
    feature has the same sign as the core feature exactly on the
    majority whenever ``core_noise * z' < 1``, which for the default
    ``core_noise=0.12`` fails only beyond eight standard deviations.

    References
    ----------
    .. [1] R. Bayat, M. Pezeshki, E. Dohmatob, D. Lopez-Paz and P. Vincent,
       "The Pitfalls of Memorization: When Memorization Hurts
       Generalization", ICLR 2025, arXiv:2412.07684.

    Examples
    --------
    >>> from skmat.datasets import make_spurious_memorization
    >>> data = make_spurious_memorization(n_samples=100, n_features=10,
    ...                                   random_state=0)
    >>> data.X_train.shape, data.y_train.shape
    ((100, 10), (100,))
    >>> data.feature_names[:3]
    ['core', 'spurious', 'noise_0']
    >>> int((data.group_labels_train == 1).sum() +
    ...     (data.group_labels_train == 2).sum())
    10
    """
    rng = check_random_state(random_state)

    result = Bunch()
    for split, frac in (
        ("train", majority_fraction),
        ("valid", eval_majority_fraction),
        ("test", eval_majority_fraction),
    ):
        X, y, group = _make_split(
            n_samples, n_features, noise, spurious_scale, core_noise, frac, rng
        )
        result[f"X_{split}"] = X
        result[f"y_{split}"] = y
        result[f"group_labels_{split}"] = group

    result.group_names = dict(_GROUP_NAMES)
    result.minority_groups = list(_MINORITY_GROUPS)
    result.feature_names = ["core", "spurious"] + [
        f"noise_{i}" for i in range(n_features - 2)
    ]
    result.DESCR = _DESCR
    return result
