"""Loader of precomputed embeddings of the subpopulation-shift benchmarks."""

# Authors: The skmat developers
# License: BSD 3 clause

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

__all__ = ["load_embeddings"]

_SPLITS = ("train", "valid", "test")
# File stems accepted for each split, in the order they are looked for.
_STEMS = {"train": ("train",), "valid": ("valid", "val"), "test": ("test",)}
_SUFFIXES = (".npz", ".pt")

_KNOWN = {
    "waterbirds": "Waterbirds: y = waterbird, attribute = water background.",
    "celeba": "CelebA: y = blond hair, attribute = male.",
    "multinli": "MultiNLI: y = contradiction / entailment / neutral, "
    "attribute = a negation word in the hypothesis.",
    "civilcomments": "CivilComments: y = toxic, attribute = an identity mention.",
}

_DESCR = """\
.. _embeddings_dataset:

Precomputed embeddings of a subpopulation-shift benchmark
---------------------------------------------------------

{title}

Features precomputed by a frozen encoder (e.g. a ResNet-50 for Waterbirds
and CelebA, BERT for MultiNLI and CivilComments), read from {path}.

=====  ==========  ==========  ==========
split  rows        features    groups
=====  ==========  ==========  ==========
{rows}
=====  ==========  ==========  ==========

Group ids: {groups}
"""


def _load_file(path):
    """Return the arrays stored in one ``.npz`` or ``.pt`` file as a dict."""
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                return {key: f[key] for key in f.files}
        except ValueError as exc:
            raise ValueError(
                f"Could not read {path} as a .npz archive of plain arrays: {exc}"
            ) from exc
    if path.suffix == ".pt":
        import torch

        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several exception types here
            raise ValueError(
                f"Could not read {path} as a torch file of tensors (loaded with "
                f"weights_only=True): {exc}"
            ) from exc
        if not isinstance(content, dict):
            raise ValueError(
                f"{path} must hold a dict of arrays (keys such as 'X', 'y', "
                f"'group'); it holds a {type(content).__name__}."
            )
        return {
            str(key): value.numpy() if hasattr(value, "numpy") else np.asarray(value)
            for key, value in content.items()
        }
    raise ValueError(
        f"Unsupported file type {path.suffix!r} for {path}: use .npz or .pt."
    )


def _find_split_file(directory, split):
    tried = []
    for stem in _STEMS[split]:
        for suffix in _SUFFIXES:
            candidate = directory / f"{stem}{suffix}"
            tried.append(candidate.name)
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"No {split!r} split in {directory}: looked for {', '.join(tried)}. "
        "A directory of embeddings needs one file per split (train, valid or "
        "val, test), each .npz or .pt with arrays 'X', 'y' and 'group' or "
        "'attribute'."
    )


def _split_arrays(content, split, source, *, prefix):
    """Pick X, y, group and attribute of one split out of ``content``."""
    names = _STEMS[split] if prefix else ("",)

    def get(key):
        for stem in names:
            full = f"{key}_{stem}" if prefix else key
            if full in content:
                return content[full]
        return None

    X, y = get("X"), get("y")
    group, attribute = get("group"), get("attribute")
    found = sorted(content)
    where = f"split {split!r} of {source}"
    shown = (lambda k: f"'{k}_{split}'") if prefix else (lambda k: f"'{k}'")
    if X is None:
        raise ValueError(
            f"No features for {where}: expected the key {shown('X')}; found "
            f"keys {found}."
        )
    if y is None:
        raise ValueError(
            f"No labels for {where}: expected the key {shown('y')}; found keys "
            f"{found}. Every split needs labels."
        )
    if group is None and attribute is None:
        raise ValueError(
            f"No groups for {where}: expected the key {shown('group')} or "
            f"{shown('attribute')}; found keys {found}."
        )
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"'X' of {where} must be 2-d; got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"'X' of {where} must be numeric; got dtype {X.dtype}.")
    out = {"X": X}
    for key, value in (("y", y), ("group", group), ("attribute", attribute)):
        if value is None:
            continue
        value = np.asarray(value)
        if value.ndim == 2 and value.shape[1] == 1:
            value = value.ravel()
        if value.ndim != 1 or len(value) != len(X):
            raise ValueError(
                f"'{key}' of {where} must be 1-d with one entry per row of X "
                f"({len(X)} rows); got shape {value.shape}."
            )
        if not np.issubdtype(value.dtype, np.integer):
            if np.issubdtype(value.dtype, np.floating) and np.all(
                value == np.round(value)
            ):
                value = value.astype(np.int64)
            else:
                raise ValueError(
                    f"'{key}' of {where} must hold integer ids; got dtype "
                    f"{value.dtype}."
                )
        if value.min(initial=0) < 0:
            raise ValueError(f"'{key}' of {where} has negative ids.")
        out[key] = value.astype(np.int64)
    return out


def _resolve(path, name):
    path = Path(path)
    if name is not None and path.is_dir():
        for candidate in [path / name] + [path / f"{name}{s}" for s in _SUFFIXES]:
            if candidate.exists():
                return candidate
    if not path.exists():
        raise FileNotFoundError(
            f"Embeddings not found: {path} does not exist. Pass a directory "
            "with train/valid/test files or a single .npz/.pt file."
        )
    return path


@validate_params(
    {"path": [str, os.PathLike], "name": [str, None]},
    prefer_skip_nested_validation=True,
)
def load_embeddings(path, *, name=None):
    """Load precomputed embeddings of a subpopulation-shift benchmark.

    Reads the features that a frozen encoder produced for the standard
    benchmarks (Waterbirds, CelebA, MultiNLI, CivilComments) together with
    their labels and groups, in the layout of
    :func:`make_spurious_memorization`, so that MAT, XRM and the baselines
    can be trained on them directly. Nothing is downloaded.

    Two layouts are read:

    * a **directory** with one file per split: ``train``, ``valid`` (or
      ``val``) and ``test``, each ``.npz`` (a NumPy archive) or ``.pt`` (a
      dict of tensors saved with ``torch.save``). Each file holds the arrays
      ``X`` (n_rows, n_features), ``y`` (n_rows,) and ``group`` and/or
      ``attribute`` (n_rows,);
    * a **single file**, ``.npz`` or ``.pt``, with the keys ``X_train``,
      ``y_train``, ``group_train`` (or ``attribute_train``) and the same for
      ``valid`` (or ``val``) and ``test``.

    ``.pt`` files are read with ``torch.load(..., weights_only=True)``, which
    loads tensors and plain containers only and never runs pickled code.
    When a split gives ``group``, it is used as is; when it gives only the
    spurious ``attribute``, the group is ``y * n_attributes + attribute``,
    with ``n_attributes`` the largest attribute id over all splits plus one.

    Parameters
    ----------
    path : str or path-like
        The directory or single file.
    name : str, default=None
        Name of the benchmark, e.g. ``"waterbirds"``. When ``path`` is a
        directory holding a sub-directory or file called ``name`` (or
        ``name.npz``, ``name.pt``), that one is loaded, so one directory can
        hold several benchmarks. Also shown in ``DESCR``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        X_train, X_valid, X_test : ndarray of shape (n_split, n_features)
            The embeddings, in their stored floating dtype (float32 stays
            float32).
        y_train, y_valid, y_test : ndarray of shape (n_split,)
            Int64 labels.
        group_labels_train, group_labels_valid, group_labels_test : \
ndarray of shape (n_split,)
            Int64 group ids.
        attribute_train, attribute_valid, attribute_test : \
ndarray of shape (n_split,) or None
            Int64 spurious attribute, when stored.
        n_attributes : int or None
            Number of attribute values, when the groups were derived from
            the attribute.
        name : str or None
            The benchmark name.
        DESCR : str
            Description of the data.

    Raises
    ------
    FileNotFoundError
        If ``path`` or a split file is missing; the message names the path.
    ValueError
        If a file cannot be read, a split lacks ``X``, ``y`` or both group
        keys, the arrays of a split differ in length, the splits differ in
        the number of features, or labels or groups are not integer ids.

    Examples
    --------
    >>> import numpy as np
    >>> import tempfile, os
    >>> from skmat.datasets import load_embeddings
    >>> rng = np.random.RandomState(0)
    >>> folder = tempfile.mkdtemp()
    >>> for split in ("train", "val", "test"):
    ...     np.savez(os.path.join(folder, f"{split}.npz"),
    ...              X=rng.randn(20, 8).astype(np.float32),
    ...              y=rng.randint(2, size=20), attribute=rng.randint(2, size=20))
    >>> data = load_embeddings(folder, name="waterbirds")
    >>> data.X_train.shape, data.X_valid.dtype
    ((20, 8), dtype('float32'))
    >>> bool((data.group_labels_test == 2 * data.y_test + data.attribute_test).all())
    True
    """
    path = _resolve(path, name)
    if path.is_dir():
        arrays = {}
        for split in _SPLITS:
            file = _find_split_file(path, split)
            arrays[split] = _split_arrays(_load_file(file), split, file, prefix=False)
    else:
        content = _load_file(path)
        arrays = {
            split: _split_arrays(content, split, path, prefix=True) for split in _SPLITS
        }

    n_features = {split: a["X"].shape[1] for split, a in arrays.items()}
    if len(set(n_features.values())) > 1:
        raise ValueError(
            f"The splits of {path} have different numbers of features: {n_features}."
        )

    n_attributes = None
    if any("group" not in a for a in arrays.values()):
        n_attributes = 1 + max(
            int(a["attribute"].max(initial=0))
            for a in arrays.values()
            if "attribute" in a
        )

    result = Bunch()
    for split in _SPLITS:
        a = arrays[split]
        group = a.get("group")
        if group is None:
            group = a["y"] * n_attributes + a["attribute"]
        result[f"X_{split}"] = a["X"]
        result[f"y_{split}"] = a["y"]
        result[f"group_labels_{split}"] = group
        result[f"attribute_{split}"] = a.get("attribute")
    result.n_attributes = n_attributes
    result.name = name

    title = _KNOWN.get(str(name).lower(), name or "Unnamed embeddings")
    rows = "\n".join(
        f"{split:<5}  {len(result[f'X_{split}']):<10}  "
        f"{result[f'X_{split}'].shape[1]:<10}  "
        f"{len(np.unique(result[f'group_labels_{split}'])):<10}"
        for split in _SPLITS
    )
    groups = (
        "as stored (key 'group')."
        if n_attributes is None
        else f"y * {n_attributes} + attribute."
    )
    result.DESCR = _DESCR.format(title=title, path=path, rows=rows, groups=groups)
    return result
