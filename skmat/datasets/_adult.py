"""Loader for the UCI Adult census income dataset, with sex as the group."""

# Authors: The skmat developers
# License: BSD 3 clause

import io
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch

__all__ = ["fetch_adult"]

_BASE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
_FILES = {"train": "adult.data", "test": "adult.test"}

# Column order of the raw files, as in ``adult.names``.
_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
]

_NUMERIC = [
    "age",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
]

# Fixed category lists, in the order ``adult.names`` gives them, so that every
# subset gets the same categories and the same one-hot columns.
_CATEGORIES = {
    "workclass": [
        "Private",
        "Self-emp-not-inc",
        "Self-emp-inc",
        "Federal-gov",
        "Local-gov",
        "State-gov",
        "Without-pay",
        "Never-worked",
    ],
    "education": [
        "Bachelors",
        "Some-college",
        "11th",
        "HS-grad",
        "Prof-school",
        "Assoc-acdm",
        "Assoc-voc",
        "9th",
        "7th-8th",
        "12th",
        "Masters",
        "1st-4th",
        "10th",
        "Doctorate",
        "5th-6th",
        "Preschool",
    ],
    "marital-status": [
        "Married-civ-spouse",
        "Divorced",
        "Never-married",
        "Separated",
        "Widowed",
        "Married-spouse-absent",
        "Married-AF-spouse",
    ],
    "occupation": [
        "Tech-support",
        "Craft-repair",
        "Other-service",
        "Sales",
        "Exec-managerial",
        "Prof-specialty",
        "Handlers-cleaners",
        "Machine-op-inspct",
        "Adm-clerical",
        "Farming-fishing",
        "Transport-moving",
        "Priv-house-serv",
        "Protective-serv",
        "Armed-Forces",
    ],
    "relationship": [
        "Wife",
        "Own-child",
        "Husband",
        "Not-in-family",
        "Other-relative",
        "Unmarried",
    ],
    "race": ["White", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Black"],
    "sex": ["Female", "Male"],
    "native-country": [
        "United-States",
        "Cambodia",
        "England",
        "Puerto-Rico",
        "Canada",
        "Germany",
        "Outlying-US(Guam-USVI-etc)",
        "India",
        "Japan",
        "Greece",
        "South",
        "China",
        "Cuba",
        "Iran",
        "Honduras",
        "Philippines",
        "Italy",
        "Poland",
        "Jamaica",
        "Vietnam",
        "Mexico",
        "Portugal",
        "Ireland",
        "France",
        "Dominican-Republic",
        "Laos",
        "Ecuador",
        "Taiwan",
        "Haiti",
        "Columbia",
        "Hungary",
        "Guatemala",
        "Nicaragua",
        "Scotland",
        "Thailand",
        "Yugoslavia",
        "El-Salvador",
        "Trinadad&Tobago",
        "Peru",
        "Hong",
        "Holand-Netherlands",
    ],
}

# Feature columns (raw order, without ``fnlwgt`` and the target).
_FEATURES = [c for c in _COLUMNS if c not in ("fnlwgt", "income")]

_TARGET_NAMES = np.array(["<=50K", ">50K"], dtype=object)

_GROUP_NAMES = {
    0: "<=50K, Female",
    1: "<=50K, Male",
    2: ">50K, Female",
    3: ">50K, Male",
}

_DESCR = """\
.. _adult_dataset:

UCI Adult census income dataset
-------------------------------

Extraction from the 1994 US Census (Becker and Kohavi, 1996; UCI Machine
Learning Repository, CC BY 4.0): predict whether a person earns more than
$50K a year. 32,561 training rows (``adult.data``) and 16,281 test rows
(``adult.test``).

- Target ``income``: 1 for ``>50K``, 0 for ``<=50K`` (the test file's
  trailing period, ``>50K.``, is removed).
- Sensitive attribute ``sex``: 1 for Male, 0 for Female. It is also kept
  among the features.
- Group ids ``2 * income + sex``: 0 ``<=50K, Female``, 1 ``<=50K, Male``,
  2 ``>50K, Female``, 3 ``>50K, Male``. Women earning more than $50K are
  1,179 of the 32,561 training rows (3.6%), a group that ERM serves badly.
- Features: the 5 numeric attributes ``age``, ``education-num``,
  ``capital-gain``, ``capital-loss``, ``hours-per-week`` and the 8
  categorical ones ``workclass``, ``education``, ``marital-status``,
  ``occupation``, ``relationship``, ``race``, ``sex``, ``native-country``.
  ``fnlwgt`` (the census sampling weight, not a property of the person) is
  dropped.
- Missing values (``?`` in the files, in ``workclass``, ``occupation`` and
  ``native-country``) become NaN in the data frame and all-zero one-hot
  blocks in the array.
- The category lists are fixed (those of ``adult.names``), so train and test
  share the same categories and the same one-hot columns.
"""


def _default_data_home():
    return Path(get_data_home()) / "skmat_adult"


def _download(url, path):
    """Download ``url`` to ``path`` atomically (via a temporary file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as r:
            shutil.copyfileobj(r, out)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _ensure_file(data_home, name, download_if_missing):
    path = data_home / name
    if path.is_file():
        return path
    hint = (
        f"Pass data_home= a directory that contains {_FILES['train']!r} and "
        f"{_FILES['test']!r} (from {_BASE_URL})"
    )
    if not download_if_missing:
        raise FileNotFoundError(
            f"Adult data file not found: {path}. {hint}, or set "
            "download_if_missing=True to download it."
        )
    url = _BASE_URL + name
    try:
        _download(url, path)
    except OSError as exc:
        raise OSError(
            f"Adult data file not found: {path}, and downloading it from {url} "
            f"failed ({exc}). {hint}."
        ) from exc
    return path


def _read_raw(path):
    """Parse one raw Adult file into a DataFrame with the raw columns."""
    with open(path, encoding="utf-8") as f:
        lines = [
            line for line in f if line.strip() and not line.lstrip().startswith("|")
        ]
    frame = pd.read_csv(
        io.StringIO("".join(lines)),
        header=None,
        names=_COLUMNS,
        skipinitialspace=True,
        na_values=["?"],
        keep_default_na=False,
        dtype={c: str for c in _COLUMNS if c not in _NUMERIC and c != "fnlwgt"},
    )
    for col in _CATEGORIES:
        values = frame[col].str.strip()
        cat = pd.Categorical(values, categories=_CATEGORIES[col])
        unknown = values.notna() & (np.asarray(cat.codes) < 0)
        if unknown.any():
            raise ValueError(
                f"Unexpected values in column {col!r} of {path}: "
                f"{sorted(set(values[unknown]))[:5]}."
            )
        frame[col] = cat
    income = frame["income"].str.strip().str.rstrip(".")
    target = income.map({"<=50K": 0, ">50K": 1})
    if target.isna().any():
        bad = sorted(set(income[target.isna()].astype(str)))[:5]
        raise ValueError(f"Unexpected income labels in {path}: {bad}.")
    frame["income"] = target.astype(np.int64)
    return frame


def _one_hot(frame):
    """Encode the feature columns as float64, one-hot over the fixed categories."""
    blocks, names = [], []
    n = len(frame)
    for col in _FEATURES:
        if col in _CATEGORIES:
            cats = _CATEGORIES[col]
            codes = np.asarray(frame[col].cat.codes, dtype=np.int64)
            block = np.zeros((n, len(cats)), dtype=np.float64)
            present = codes >= 0
            block[np.flatnonzero(present), codes[present]] = 1.0
            blocks.append(block)
            names.extend(f"{col}_{c}" for c in cats)
        else:
            blocks.append(frame[col].to_numpy(dtype=np.float64)[:, None])
            names.append(col)
    return np.hstack(blocks), names


def fetch_adult(
    *,
    data_home=None,
    subset="train",
    download_if_missing=True,
    as_frame=False,
    return_X_y=False,
):
    """Load the UCI Adult census income dataset with sex as the group attribute.

    Binary classification of income above $50K. The sensitive attribute is
    sex, and the group id combines it with the label, so that worst-group
    accuracy covers e.g. women earning more than $50K (3.6% of the training
    rows). The files ``adult.data`` and ``adult.test`` are read from
    ``data_home`` and downloaded from the UCI repository only when missing.

    Read more in the dataset description, ``fetch_adult().DESCR``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``adult.data`` and ``adult.test``. By default,
        ``sklearn.datasets.get_data_home() / "skmat_adult"``. Nothing is
        written there when the files needed already exist.

    subset : {"train", "test", "all"}, default="train"
        Which rows to load: ``adult.data`` (32,561 rows), ``adult.test``
        (16,281 rows) or both, training rows first.

    download_if_missing : bool, default=True
        If a needed file is missing, download it from
        https://archive.ics.uci.edu/ml/machine-learning-databases/adult/
        into ``data_home``. If False, raise a FileNotFoundError instead.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with the raw columns
        (categorical ones with pandas ``category`` dtype over fixed
        categories), ``target`` a Series named ``"income"`` and ``frame``
        both together. If False, ``data`` is a float64 array with the
        categorical columns one-hot encoded.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_samples, 104) or DataFrame of shape \
(n_samples, 13)
            The features, without ``fnlwgt``. The array keeps the raw column
            order and replaces each categorical column by one indicator
            column per category (all zeros where the value is missing).
        target : ndarray or Series of shape (n_samples,)
            Int64 income label: 1 for ``>50K``, 0 for ``<=50K``.
        frame : DataFrame of shape (n_samples, 14) or None
            ``data`` with the ``"income"`` column, when ``as_frame=True``.
        feature_names : list of str
            Column names of ``data``; one-hot columns are named
            ``"{column}_{category}"``, e.g. ``"sex_Male"``.
        target_names : ndarray of shape (2,)
            ``["<=50K", ">50K"]``.
        sensitive : ndarray of shape (n_samples,)
            Int64 sex: 1 for Male, 0 for Female.
        group_labels : ndarray of shape (n_samples,)
            Int64 group ids ``2 * target + sensitive``.
        group_names : dict
            ``{0: "<=50K, Female", 1: "<=50K, Male", 2: ">50K, Female",
            3: ">50K, Male"}``.
        DESCR : str
            Description of the dataset.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ValueError
        If ``subset`` is not one of ``"train"``, ``"test"``, ``"all"``.
    FileNotFoundError
        If a needed file is missing and ``download_if_missing=False``.
    OSError
        If a needed file is missing and downloading it fails.

    Notes
    -----
    ``fnlwgt`` is the census sampling weight (how many people a row stands
    for), not a property of the person, and is left out of ``data``.

    References
    ----------
    .. [1] B. Becker and R. Kohavi, "Adult", UCI Machine Learning Repository,
       1996, https://doi.org/10.24432/C5XW20.

    Examples
    --------
    >>> from skmat.datasets import fetch_adult
    >>> adult = fetch_adult(data_home="path/to/adult")  # doctest: +SKIP
    >>> adult.data.shape  # doctest: +SKIP
    (32561, 104)
    >>> adult.group_names[2]  # doctest: +SKIP
    '>50K, Female'
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(
            "The 'subset' parameter must be one of 'train', 'test' or 'all', "
            f"got {subset!r}."
        )
    data_home = _default_data_home() if data_home is None else Path(data_home)
    parts = ["train", "test"] if subset == "all" else [subset]
    paths = [_ensure_file(data_home, _FILES[p], download_if_missing) for p in parts]
    frames = [_read_raw(p) for p in paths]
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    target = raw["income"].to_numpy(dtype=np.int64)
    sensitive = (raw["sex"] == "Male").to_numpy(dtype=np.int64)
    group_labels = 2 * target + sensitive

    if as_frame:
        data = raw[_FEATURES].copy()
        target_out = raw["income"].copy()
        frame = raw[_FEATURES + ["income"]].copy()
        feature_names = list(_FEATURES)
    else:
        data, feature_names = _one_hot(raw)
        target_out = target
        frame = None

    if return_X_y:
        return data, target_out

    return Bunch(
        data=data,
        target=target_out,
        frame=frame,
        feature_names=feature_names,
        target_names=_TARGET_NAMES.copy(),
        sensitive=sensitive,
        group_labels=group_labels,
        group_names=dict(_GROUP_NAMES),
        DESCR=_DESCR,
    )
