"""Loader for the UCI Adult census income dataset, with sex as the group."""

# Authors: The skmat developers
# License: BSD 3 clause

import gzip
import hashlib
import importlib.resources
import io
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import get_data_home
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["fetch_adult"]

_BASE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/"
_FILES = {"train": "adult.data", "test": "adult.test"}

#: SHA-256 of the *uncompressed* content of each raw file, as distributed by UCI.
#: The shipped copies (``data/adult.data.gz``, ``data/adult.test.gz``), files in
#: a user's ``data_home`` and downloads are all checked against these values.
_SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}

#: Folder of the data files shipped with the package.
_PACKAGE_DATA = importlib.resources.files(__package__) / "data"

#: Parsed raw files, keyed by file name (filled on first use; never returned
#: directly, only copies).
_FRAME_CACHE = {}

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
- The Bunch lists the numeric columns in ``numeric_features`` and the
  categorical ones in ``categorical_features``.
- The raw files ship with skmat, gzip-compressed and checked against the
  SHA-256 of the UCI originals on every load. Source: B. Becker and
  R. Kohavi, "Adult", UCI Machine Learning Repository, 1996,
  https://doi.org/10.24432/C5XW20, licensed under CC BY 4.0.
"""


def _default_data_home():
    return Path(get_data_home()) / "skmat_adult"


def _checksum_error(name, origin, digest):
    return ValueError(
        f"SHA-256 checksum mismatch for the Adult file {name!r} read from "
        f"{origin}: expected {_SHA256[name]}, got {digest}. The file is corrupted "
        "or is not the one distributed by the UCI Machine Learning Repository. "
        "Delete or replace it (the checksum is of the uncompressed content)."
    )


def _read_verified(path, name):
    """Return the verified, uncompressed bytes of ``path`` (gzip if ``.gz``)."""
    origin = str(path)
    with path.open("rb") as f:
        content = f.read()
    if origin.endswith(".gz"):
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise ValueError(
                f"The Adult file {name!r} read from {origin} is not a valid gzip "
                f"file ({exc}), so its SHA-256 checksum cannot be verified."
            ) from exc
    digest = hashlib.sha256(content).hexdigest()
    if digest != _SHA256[name]:
        raise _checksum_error(name, origin, digest)
    return content


def _download(url, path, name):
    """Download ``url`` to ``path`` atomically, verifying its checksum first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
    try:
        sha = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as r:
            while chunk := r.read(1 << 20):
                sha.update(chunk)
                out.write(chunk)
        if sha.hexdigest() != _SHA256[name]:
            raise _checksum_error(name, url, sha.hexdigest())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _load_content(name, data_home, download_if_missing):
    """Return the verified bytes of the raw file ``name`` and where they came from.

    Looks in ``data_home`` (when given), then in the copy shipped with the
    package, then in the download cache, and downloads as a last resort.
    """
    if data_home is not None:
        for path in (data_home / name, data_home / f"{name}.gz"):
            if path.is_file():
                return _read_verified(path, name), path
    packaged = _PACKAGE_DATA / f"{name}.gz"
    if packaged.is_file():
        return _read_verified(packaged, name), packaged
    home = _default_data_home() if data_home is None else data_home
    path = home / name
    if path.is_file():
        return _read_verified(path, name), path
    hint = (
        f"The copy shipped with skmat ({packaged}) is missing too. Pass "
        f"data_home= a directory that contains {_FILES['train']!r} and "
        f"{_FILES['test']!r} (from {_BASE_URL})"
    )
    if not download_if_missing:
        raise FileNotFoundError(
            f"Adult data file not found: {path}. {hint}, or set "
            "download_if_missing=True to download it."
        )
    url = _BASE_URL + name
    try:
        _download(url, path, name)
    except OSError as exc:
        raise OSError(
            f"Adult data file not found: {path}, and downloading it from {url} "
            f"failed ({exc}). {hint}."
        ) from exc
    return _read_verified(path, name), path


def _load_frame(name, data_home, download_if_missing):
    """Return a fresh copy of the parsed raw file ``name``.

    The content is verified against its checksum on every call, so the parsed
    frame depends on ``name`` only and is cached under it.
    """
    content, origin = _load_content(name, data_home, download_if_missing)
    if name not in _FRAME_CACHE:
        _FRAME_CACHE[name] = _read_raw(content.decode("utf-8"), origin)
    return _FRAME_CACHE[name].copy(deep=True)


def _read_raw(text, path):
    """Parse the text of one raw Adult file into a DataFrame with the raw columns.

    ``path`` is used in error messages only.
    """
    lines = [
        line
        for line in text.splitlines(keepends=True)
        if line.strip() and not line.lstrip().startswith("|")
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


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "subset": [StrOptions({"train", "test", "all"})],
        "download_if_missing": ["boolean"],
        "as_frame": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
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
    rows). The raw files ``adult.data`` and ``adult.test`` ship with skmat
    (gzip-compressed, CC BY 4.0), so nothing is downloaded in normal use.

    The files are looked for, in this order: in ``data_home`` when it is
    given and holds them (``adult.data`` or ``adult.data.gz``, likewise for
    the test file); in the copy shipped with the package; in the download
    cache ``sklearn.datasets.get_data_home() / "skmat_adult"`` (or
    ``data_home``); and, as a last resort, they are downloaded from the UCI
    repository. Whatever the source, the SHA-256 of the uncompressed content
    is checked against the UCI original, and a mismatch raises a ValueError.
    The parsed files are cached in memory, so later calls are fast; each
    call returns fresh arrays and frames.

    Read more in the dataset description, ``fetch_adult().DESCR``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``adult.data`` and ``adult.test`` (plain or with a
        ``.gz`` suffix), used before the packaged copy when it holds them.
        Also where a download goes, should one be needed; by default
        ``sklearn.datasets.get_data_home() / "skmat_adult"``. Nothing is
        written when the files needed are found.

    subset : {"train", "test", "all"}, default="train"
        Which rows to load: ``adult.data`` (32,561 rows), ``adult.test``
        (16,281 rows) or both, training rows first.

    download_if_missing : bool, default=True
        If a needed file is found neither in ``data_home`` nor in the package
        nor in the download cache, download it from
        https://archive.ics.uci.edu/ml/machine-learning-databases/adult/
        (and verify its checksum). If False, raise a FileNotFoundError
        instead. Only matters when the packaged copy has been removed.

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
        numeric_features : list of str
            The 5 numeric columns, ``["age", "education-num",
            "capital-gain", "capital-loss", "hours-per-week"]``. They have
            the same names in the array and in the frame, e.g. to scale
            them: ``[feature_names.index(c) for c in numeric_features]``.
        categorical_features : list of str
            The 8 categorical columns of the frame (in the array, each is
            one-hot encoded into the columns ``"{column}_{category}"``).
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
        If ``subset`` is not one of ``"train"``, ``"test"``, ``"all"``, or if
        a file's SHA-256 checksum does not match the UCI original (the
        message says which file, where it was read from and both checksums).
    FileNotFoundError
        If a needed file is found nowhere and ``download_if_missing=False``.
    OSError
        If a needed file is found nowhere and downloading it fails.

    Notes
    -----
    ``fnlwgt`` is the census sampling weight (how many people a row stands
    for), not a property of the person, and is left out of ``data``.

    The data are by Becker and Kohavi (1996), from the UCI Machine Learning
    Repository, licensed under CC BY 4.0; see ``skmat/datasets/data/README.md``.

    References
    ----------
    .. [1] B. Becker and R. Kohavi, "Adult", UCI Machine Learning Repository,
       1996, https://doi.org/10.24432/C5XW20.

    Examples
    --------
    >>> from skmat.datasets import fetch_adult
    >>> adult = fetch_adult()
    >>> adult.data.shape
    (32561, 104)
    >>> adult.group_names[2]
    '>50K, Female'
    >>> int((adult.group_labels == 2).sum())
    1179
    >>> adult.numeric_features[:2]
    ['age', 'education-num']
    >>> X, y = fetch_adult(subset="test", as_frame=True, return_X_y=True)
    >>> X.shape, y.name
    ((16281, 13), 'income')
    """
    data_home = None if data_home is None else Path(data_home)
    parts = ["train", "test"] if subset == "all" else [subset]
    frames = [_load_frame(_FILES[p], data_home, download_if_missing) for p in parts]
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    target = np.array(raw["income"], dtype=np.int64)  # writable, not a view
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
        numeric_features=list(_NUMERIC),
        categorical_features=[c for c in _FEATURES if c in _CATEGORIES],
        target_names=_TARGET_NAMES.copy(),
        sensitive=sensitive,
        group_labels=group_labels,
        group_names=dict(_GROUP_NAMES),
        DESCR=_DESCR,
    )
