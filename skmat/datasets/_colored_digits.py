"""Coloured digits: sklearn's 8x8 digits with a spurious colour."""

# Authors: The skmat developers
# License: BSD 3 clause

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ._interpretable import _FRACTION, _assign_attribute

__all__ = ["make_colored_digits"]

#: Names of the colour channels; the first ``n_classes`` are used.
_COLOURS = [
    "red",
    "green",
    "blue",
    "yellow",
    "cyan",
    "magenta",
    "orange",
    "purple",
    "brown",
    "pink",
]


def _digit_to_class(digit, n_classes):
    """Map digits 0-9 to class labels.

    Two classes: ``y = int(digit < 5)`` (1 for 0-4, 0 for 5-9). More classes:
    the digits are cut into ``n_classes`` contiguous blocks of nearly equal
    size, larger blocks first (``np.array_split(np.arange(10), n_classes)``),
    and ``y`` is the index of the digit's block.
    """
    if n_classes == 2:
        return (digit < 5).astype(np.int64)
    lookup = np.empty(10, dtype=np.int64)
    for label, block in enumerate(np.array_split(np.arange(10), n_classes)):
        lookup[block] = label
    return lookup[digit]


def _assign_colour(y, n_classes, n_minority, rng):
    """Return colours equal to ``y`` except on exactly ``n_minority`` random rows.

    On those rows the colour is another class's, uniformly at random among
    the ``n_classes - 1`` others (for two classes, ``1 - y``, drawn exactly as
    in the binary generator, so its results do not change).
    """
    if n_classes == 2:
        return _assign_attribute(y, n_minority, rng)
    a = y.copy()
    minority = rng.choice(y.shape[0], size=n_minority, replace=False)
    a[minority] = (y[minority] + rng.randint(1, n_classes, size=n_minority)) % (
        n_classes
    )
    return a


_DESCR = """\
.. _colored_digits_dataset:

Coloured digits dataset
-----------------------

A small, download-free analogue of Coloured MNIST built from scikit-learn's
bundled 8x8 digits (``sklearn.datasets.load_digits``, 1,797 images).

- Label ``y``, with ``K = n_classes`` classes. For ``K = 2`` (the default):
  ``y = 1`` if the digit is 0, 1, 2, 3 or 4 and ``y = 0`` if it is 5, 6, 7,
  8 or 9 (``y = int(digit < 5)``). For ``K >= 3``: the digits are cut into
  ``K`` contiguous blocks of nearly equal size, larger blocks first, and
  ``y`` is the block's index; e.g. for ``K = 3``, ``{0, 1, 2, 3} -> 0``,
  ``{4, 5, 6} -> 1``, ``{7, 8, 9} -> 2``; for ``K = 10``, ``y`` is the digit.
- Colour: a spurious attribute ``a`` in ``{0, ..., K - 1}``, one colour per
  class. Within each split, exactly ``round(fraction * n)`` randomly chosen
  images have the colour of their class, ``a = y``; each of the others gets
  the colour of another class, uniformly at random among the ``K - 1``
  others (for ``K = 2``, ``a = 1 - y``). ``fraction`` is
  ``majority_fraction`` in training and ``eval_majority_fraction`` in
  validation and test.
- Features: pixel intensities divided by 16 (so in ``[0, 1]``): the grey
  image itself (64 ``gray_*`` columns) and a copy of it in the colour
  channel ``a``, among ``K`` channels of 64 columns each (``red_*``,
  ``green_*``, then ``blue_*``, ``yellow_*``, ``cyan_*``, ``magenta_*``,
  ``orange_*``, ``purple_*``, ``brown_*``, ``pink_*``); the other channels
  are all zeros. With ``grayscale=False`` the grey image is left out (``64 *
  K`` features, as in Coloured MNIST, where the shape must be learnt
  separately in each channel: a much harder problem).
- Splits: a random train/validation/test split stratified on ``y``.

The colour is far easier to read than the digit's shape, so a model trained
by ERM relies on it and fails on the minority whose colour disagrees with the
label. Group ids are ``K * y + a`` (``K * K`` groups); the minority groups
are those with ``a != y``. For ``K = 2``:

==  ========  ========
id  name      minority
==  ========  ========
0   y=0, a=0  no
1   y=0, a=1  yes
2   y=1, a=0  yes
3   y=1, a=1  no
==  ========  ========
"""


@validate_params(
    {
        "n_classes": [Interval(Integral, 2, 10, closed="both")],
        "majority_fraction": [_FRACTION],
        "eval_majority_fraction": [_FRACTION],
        "valid_size": [Interval(Real, 0, 1, closed="neither")],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "grayscale": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_colored_digits(
    *,
    n_classes=2,
    majority_fraction=0.95,
    eval_majority_fraction=0.5,
    valid_size=0.25,
    test_size=0.25,
    grayscale=True,
    random_state=None,
):
    """Make a Coloured-MNIST-style problem from sklearn's bundled digits.

    By default, a binary label ``y = int(digit < 5)`` and a binary spurious
    colour ``a`` that agrees with ``y`` on a controlled share of each split;
    with ``n_classes=K >= 3``, ``K`` classes of digits and ``K`` colours, one
    per class. Each 8x8 image is scaled to ``[0, 1]``; the features are the
    grey image and a copy of it in one of ``K`` colour channels (192 features
    for ``K = 2``). Nothing is downloaded.

    Read more in the dataset description, ``make_colored_digits().DESCR``.

    Parameters
    ----------
    n_classes : int, default=2
        Number of classes ``K`` (and of colours), from 2 to 10. ``K = 2``
        gives ``y = int(digit < 5)``. ``K >= 3`` cuts the digits 0-9 into
        ``K`` contiguous blocks of nearly equal size, larger blocks first
        (for ``K = 3``: ``{0, 1, 2, 3}``, ``{4, 5, 6}``, ``{7, 8, 9}``), and
        ``y`` is the block's index; ``K = 10`` gives ``y = digit``.

    majority_fraction : float, default=0.95
        Share of training images whose colour is their class's, in
        ``(0, 1]``. Exactly ``round(majority_fraction * n_train)`` training
        images, chosen at random, agree; each of the others has the colour of
        another class, drawn uniformly among the ``K - 1`` others (for
        ``K = 2``, ``a = 1 - y``).

    eval_majority_fraction : float, default=0.5
        The same share for the validation and test splits, in ``(0, 1]``.

    valid_size : float, default=0.25
        Share of the 1,797 images in the validation split, in ``(0, 1)``.

    test_size : float, default=0.25
        Share of the images in the test split, in ``(0, 1)``.
        ``valid_size + test_size`` must be below 1; the rest is training.

    grayscale : bool, default=True
        Keep the grey image beside the coloured copy. ``False`` gives only
        the ``K`` colour channels (``64 * K`` features), where the digit's
        shape must be learnt separately in each channel.

    random_state : int, RandomState instance or None, default=None
        Determines the split and the colours. Pass an int for reproducible
        output across multiple function calls.
        See :term:`Glossary <random_state>`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X_train, X_valid, X_test : ndarray of shape (n_split, 64 * (K + 1))
            Float64 values in ``[0, 1]``: 64 ``gray_*`` columns (the image),
            then 64 columns per colour channel, in the order of the colours:
            ``red_*`` (non-zero only when ``a = 0``), ``green_*`` (only when
            ``a = 1``), ``blue_*`` (``a = 2``), ... 192 columns for
            ``K = 2``. ``64 * K`` columns, without the grey ones, when
            ``grayscale=False``.
        y_train, y_valid, y_test : ndarray of shape (n_split,)
            Int64 labels in ``{0, ..., K - 1}``; for ``K = 2``, 1 for digits
            0-4 and 0 for digits 5-9.
        group_labels_train, group_labels_valid, group_labels_test : \
ndarray of shape (n_split,)
            Int64 group ids ``K * y + a`` in ``{0, ..., K * K - 1}``; for
            ``K = 2``, ``2 * y + a`` in ``{0, 1, 2, 3}``.
        digits_train, digits_valid, digits_test : ndarray of shape (n_split,)
            The original digit (0-9) of each image.
        group_names : dict
            Maps each group id to its name, e.g. ``1 -> "y=0, a=1"``.
        minority_groups : list of int
            The groups where the colour disagrees with the label
            (``a != y``): ``[1, 2]`` for ``K = 2``.
        colour_names : list of str
            The ``K`` colours, ``colour_names[a]`` being colour ``a``:
            ``["red", "green"]`` for ``K = 2``.
        feature_names : list of str
            ``["gray_0", ..., "gray_63", "red_0", ..., "green_63"]`` for
            ``K = 2``.
        DESCR : str
            Description of the dataset.

    See Also
    --------
    sklearn.datasets.load_digits : The underlying images.
    make_spurious_memorization : The interpretable synthetic setup.

    Examples
    --------
    >>> from skmat.datasets import make_colored_digits
    >>> data = make_colored_digits(random_state=0)
    >>> data.X_train.shape[1]
    192
    >>> data.X_train.shape[0] + data.X_valid.shape[0] + data.X_test.shape[0]
    1797
    >>> sorted(data.minority_groups)
    [1, 2]

    Three classes, ``{0, 1, 2, 3}``, ``{4, 5, 6}`` and ``{7, 8, 9}``, with
    three colours and nine groups:

    >>> data = make_colored_digits(n_classes=3, random_state=0)
    >>> data.X_train.shape[1], data.colour_names
    (256, ['red', 'green', 'blue'])
    >>> sorted(set(zip(data.digits_train.tolist(), data.y_train.tolist())))
    [(0, 0), (1, 0), (2, 0), (3, 0), (4, 1), (5, 1), (6, 1), (7, 2), (8, 2), (9, 2)]
    >>> data.group_names[5], data.minority_groups
    ('y=1, a=2', [1, 2, 3, 5, 6, 7])
    """
    if valid_size + test_size >= 1.0:
        raise ValueError(
            "The 'valid_size' and 'test_size' parameters must sum to less than 1 "
            f"so that training data remain, got valid_size={valid_size!r} and "
            f"test_size={test_size!r}."
        )
    rng = check_random_state(random_state)

    digits = load_digits()
    images = digits.data.astype(np.float64) / 16.0
    digit = digits.target.astype(np.int64)
    y = _digit_to_class(digit, n_classes)
    n = y.shape[0]
    n_valid = int(round(valid_size * n))
    n_test = int(round(test_size * n))
    if min(n_valid, n_test, n - n_valid - n_test) < 2:
        raise ValueError(
            "The 'valid_size' and 'test_size' parameters leave fewer than 2 "
            f"images in some split (valid={n_valid}, test={n_test}, "
            f"train={n - n_valid - n_test} of {n})."
        )

    idx = np.arange(n)
    idx_train, idx_rest = train_test_split(
        idx, test_size=n_valid + n_test, stratify=y, random_state=rng
    )
    idx_valid, idx_test = train_test_split(
        idx_rest, test_size=n_test, stratify=y[idx_rest], random_state=rng
    )

    result = Bunch()
    for split, split_idx, frac in (
        ("train", idx_train, majority_fraction),
        ("valid", idx_valid, eval_majority_fraction),
        ("test", idx_test, eval_majority_fraction),
    ):
        y_split = y[split_idx]
        n_split = y_split.shape[0]
        n_minority = n_split - int(round(frac * n_split))
        a = _assign_colour(y_split, n_classes, n_minority, rng)
        img = images[split_idx]
        channels = [img * (a == k)[:, None] for k in range(n_classes)]
        result[f"X_{split}"] = np.hstack(([img] if grayscale else []) + channels)
        result[f"y_{split}"] = y_split
        result[f"group_labels_{split}"] = n_classes * y_split + a
        result[f"digits_{split}"] = digit[split_idx]

    pairs = [(c, k) for c in range(n_classes) for k in range(n_classes)]
    result.group_names = {n_classes * c + k: f"y={c}, a={k}" for c, k in pairs}
    result.minority_groups = [n_classes * c + k for c, k in pairs if c != k]
    result.colour_names = _COLOURS[:n_classes]
    result.feature_names = ([f"gray_{i}" for i in range(64)] if grayscale else []) + [
        f"{colour}_{i}" for colour in result.colour_names for i in range(64)
    ]
    result.DESCR = _DESCR
    return result
