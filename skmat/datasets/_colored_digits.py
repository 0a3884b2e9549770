"""Coloured digits: sklearn's 8x8 digits with a spurious colour."""

# Authors: The skmat developers
# License: BSD 3 clause

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, check_random_state

from ._interpretable import (
    _GROUP_NAMES,
    _MINORITY_GROUPS,
    _assign_attribute,
    _check_real,
)

__all__ = ["make_colored_digits"]

_DESCR = """\
.. _colored_digits_dataset:

Coloured digits dataset
-----------------------

A small, download-free analogue of Coloured MNIST built from scikit-learn's
bundled 8x8 digits (``sklearn.datasets.load_digits``, 1,797 images).

- Label: ``y = 1`` if the digit is 0, 1, 2, 3 or 4 and ``y = 0`` if it is
  5, 6, 7, 8 or 9 (``y = int(digit < 5)``).
- Colour: a binary spurious attribute ``a``. Within each split, exactly
  ``round(fraction * n)`` randomly chosen images have ``a = y`` and the rest
  ``a = 1 - y``, with ``fraction = majority_fraction`` in training and
  ``eval_majority_fraction`` in validation and test.
- Features: pixel intensities divided by 16 (so in ``[0, 1]``): the
  grey image itself (64 ``gray_*`` columns) and a colour copy of it in one
  of two colour channels, ``[image * (a == 0), image * (a == 1)]``: 64
  ``red_*`` columns (used when ``a = 0``) then 64 ``green_*`` columns (used
  when ``a = 1``); the other channel is all zeros. With ``grayscale=False``
  the grey image is left out (128 features, as in Coloured MNIST, where the
  shape must be learnt separately in each channel: a much harder problem).
- Splits: a random train/validation/test split stratified on ``y``.

The colour is far easier to read than the digit's shape, so a model trained
by ERM relies on it and fails on the minority whose colour disagrees with the
label. Group ids are ``2 * y + a``:

==  ========  ========
id  name      minority
==  ========  ========
0   y=0, a=0  no
1   y=0, a=1  yes
2   y=1, a=0  yes
3   y=1, a=1  no
==  ========  ========
"""


def make_colored_digits(
    *,
    majority_fraction=0.95,
    eval_majority_fraction=0.5,
    valid_size=0.25,
    test_size=0.25,
    grayscale=True,
    random_state=None,
):
    """Make a Coloured-MNIST-style problem from sklearn's bundled digits.

    Binary label ``y = int(digit < 5)`` and a binary spurious colour ``a`` that
    agrees with ``y`` on a controlled share of each split. Each 8x8 image is
    scaled to ``[0, 1]``; the features are the grey image and a copy of it in
    one of two colour channels, 192 features. Nothing is downloaded.

    Read more in the dataset description, ``make_colored_digits().DESCR``.

    Parameters
    ----------
    majority_fraction : float, default=0.95
        Share of training images whose colour equals the label, in ``(0, 1]``.
        Exactly ``round(majority_fraction * n_train)`` training images,
        chosen at random, agree; the others have ``a = 1 - y``.

    eval_majority_fraction : float, default=0.5
        The same share for the validation and test splits, in ``(0, 1]``.

    valid_size : float, default=0.25
        Share of the 1,797 images in the validation split, in ``(0, 1)``.

    test_size : float, default=0.25
        Share of the images in the test split, in ``(0, 1)``.
        ``valid_size + test_size`` must be below 1; the rest is training.

    grayscale : bool, default=True
        Keep the grey image beside the coloured copy. ``False`` gives only
        the two colour channels (128 features), where the digit's shape must
        be learnt separately in each channel.

    random_state : int, RandomState instance or None, default=None
        Determines the split and the colours. Pass an int for reproducible
        output across multiple function calls.
        See :term:`Glossary <random_state>`.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X_train, X_valid, X_test : ndarray of shape (n_split, 192)
            Float64 values in ``[0, 1]``: 64 ``gray_*`` columns (the image),
            then 64 ``red_*`` columns (non-zero only when ``a = 0``) then 64
            ``green_*`` columns (non-zero only when ``a = 1``). 128 columns
            without the grey ones when ``grayscale=False``.
        y_train, y_valid, y_test : ndarray of shape (n_split,)
            Int64 labels: 1 for digits 0-4, 0 for digits 5-9.
        group_labels_train, group_labels_valid, group_labels_test : \
ndarray of shape (n_split,)
            Int64 group ids ``2 * y + a`` in ``{0, 1, 2, 3}``.
        digits_train, digits_valid, digits_test : ndarray of shape (n_split,)
            The original digit (0-9) of each image.
        group_names : dict
            Maps each group id to its name, e.g. ``1 -> "y=0, a=1"``.
        minority_groups : list of int
            The groups where the colour disagrees with the label: ``[1, 2]``.
        feature_names : list of str
            ``["gray_0", ..., "gray_63", "red_0", ..., "green_63"]``.
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
    """
    majority_fraction = _check_real(
        majority_fraction, "majority_fraction", low=0.0, high=1.0, closed="right"
    )
    eval_majority_fraction = _check_real(
        eval_majority_fraction,
        "eval_majority_fraction",
        low=0.0,
        high=1.0,
        closed="right",
    )
    valid_size = _check_real(
        valid_size, "valid_size", low=0.0, high=1.0, closed="neither"
    )
    test_size = _check_real(test_size, "test_size", low=0.0, high=1.0, closed="neither")
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
    y = (digit < 5).astype(np.int64)
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
        a = _assign_attribute(y_split, n_split - int(round(frac * n_split)), rng)
        img = images[split_idx]
        channels = [img * (a == 0)[:, None], img * (a == 1)[:, None]]
        result[f"X_{split}"] = np.hstack(([img] if grayscale else []) + channels)
        result[f"y_{split}"] = y_split
        result[f"group_labels_{split}"] = 2 * y_split + a
        result[f"digits_{split}"] = digit[split_idx]

    result.group_names = dict(_GROUP_NAMES)
    result.minority_groups = list(_MINORITY_GROUPS)
    result.feature_names = (
        ([f"gray_{i}" for i in range(64)] if grayscale else [])
        + [f"red_{i}" for i in range(64)]
        + [f"green_{i}" for i in range(64)]
    )
    result.DESCR = _DESCR
    return result
