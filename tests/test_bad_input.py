"""Every bad input the project was tried with, and the error it gets.

The same cases make the table of ``docs/bad_inputs.md``: a test renders the
table from the errors actually raised and compares it with the committed file.
Regenerate it with ``SKMAT_WRITE_DOCS=1 python -m pytest tests/test_bad_input.py``.
"""

import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_wine, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from torch import nn

from skmat import MATClassifier, WorstGroupScorer, XRMEstimator
from skmat.baselines import ERMClassifier, GroupDROClassifier, JTTClassifier
from skmat.bench import main as bench_main
from skmat.datasets import fetch_adult, load_embeddings, make_spurious_memorization
from skmat.exceptions import DegenerateEnvironmentWarning, DivergedError
from skmat.metrics import group_accuracy_report, worst_group_accuracy
from skmat.model_selection import StratifiedGroupLabelKFold

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"

X, Y = make_classification(n_samples=60, n_features=5, random_state=0)
FAST = dict(max_epochs=2, random_state=0)


def _with(value, row=3, col=1):
    out = X.copy()
    out[row, col] = value
    return out


def _fitted():
    return MATClassifier(**FAST).fit(X, Y)


def _without_cuda(call):
    """Run ``call`` as on a machine without CUDA (CI has none; a GPU box has)."""
    from unittest import mock

    import torch

    with mock.patch.object(torch.cuda, "is_available", return_value=False):
        return call()


def _lr():
    return LogisticRegression().fit(X, Y)


class WideModule(nn.Module):
    """A custom module whose output width ignores ``n_classes``."""

    def __init__(self, n_features, width=7):
        super().__init__()
        self.linear = nn.Linear(n_features, width)

    def forward(self, X):
        return self.linear(X)


def _wide(width=7):
    return dict(module=WideModule, module_params={"width": width})


# A data_home whose adult.data is not the UCI file. Its path is fixed (not a
# fresh temporary directory) so that the documented message does not change.
CORRUPT_ADULT_HOME = Path(tempfile.gettempdir()) / "skmat-corrupt-adult"


def _fetch_corrupt_adult():
    CORRUPT_ADULT_HOME.mkdir(parents=True, exist_ok=True)
    (CORRUPT_ADULT_HOME / "adult.data").write_text("39, State-gov, 77516\n")
    return fetch_adult(data_home=CORRUPT_ADULT_HOME, download_if_missing=False)


def _search_with_routing_off():
    """GridSearchCV with group_labels for a WorstGroupScorer, routing off."""
    search = GridSearchCV(MATClassifier(**FAST), {"temperature": [0.1, 1.0]},
                          scoring=WorstGroupScorer(), cv=3)
    return search.fit(X, Y, group_labels=np.arange(60) % 2)


def _a_module_function(n_features, n_classes):
    return nn.Linear(n_features, n_classes)


BEYOND_FLOAT32 = np.full((2, 5), 1e40)
# Six rows, and class 2 has one of them.
X6, Y6 = X[:6], np.array([0, 0, 0, 1, 1, 2])


# (entry point, bad input, call, expected exception, message pattern)
CASES = [
    ("MATClassifier.fit", "NaN in X",
     lambda: MATClassifier(**FAST).fit(_with(np.nan), Y), ValueError, "NaN"),
    ("MATClassifier.fit", "infinity in X",
     lambda: MATClassifier(**FAST).fit(_with(np.inf), Y), ValueError, "infinity"),
    ("MATClassifier.fit", "one class in y",
     lambda: MATClassifier(**FAST).fit(X, np.zeros(60)), ValueError, "1 class"),
    ("MATClassifier.fit", "continuous y",
     lambda: MATClassifier(**FAST).fit(X, np.linspace(0, 1, 60)), ValueError,
     "Unknown label type"),
    ("MATClassifier.fit", "X and y lengths differ",
     lambda: MATClassifier(**FAST).fit(X, Y[:-1]), ValueError,
     "inconsistent numbers of samples"),
    ("MATClassifier.fit", "group_labels length differs",
     lambda: MATClassifier(**FAST).fit(X, Y, group_labels=Y[:-2]), ValueError,
     "group_labels"),
    ("MATClassifier.fit", "missing group labels (NaN)",
     lambda: MATClassifier(**FAST).fit(X, Y, group_labels=np.r_[np.nan, Y[1:]]),
     ValueError, "missing values"),
    ("MATClassifier.fit", "heldout_logits of the wrong shape",
     lambda: MATClassifier(**FAST).fit(X, Y, heldout_logits=np.zeros((60, 3))),
     ValueError, "heldout_logits"),
    ("MATClassifier.fit", "empty X", lambda: MATClassifier(**FAST).fit(X[:0], Y[:0]),
     ValueError, "0 sample"),
    ("MATClassifier.fit", "object (string) column",
     lambda: MATClassifier(**FAST).fit(
         pd.DataFrame({"a": ["x"] * 60, "b": X[:, 0]}), Y),
     ValueError, "could not convert string to float"),
    ("MATClassifier.fit", "sparse X",
     lambda: MATClassifier(**FAST).fit(sp.csr_matrix(X), Y), TypeError,
     "dense data is required"),
    ("MATClassifier.fit", "temperature = 0",
     lambda: MATClassifier(temperature=0).fit(X, Y), ValueError, "temperature"),
    ("MATClassifier.fit", "unknown module name",
     lambda: MATClassifier(module="resnet").fit(X, Y), ValueError, "module"),
    ("MATClassifier.fit", "device='cuda' on a machine without CUDA",
     lambda: _without_cuda(lambda: MATClassifier(device="cuda").fit(X, Y)),
     ValueError, "CUDA is not available"),
    ("MATClassifier.fit", "device that torch does not know",
     lambda: MATClassifier(device="gpu0").fit(X, Y), ValueError, "not a torch device"),
    ("MATClassifier.fit", "device=None",
     lambda: MATClassifier(device=None).fit(X, Y), ValueError,
     r"'cpu', 'cuda' or 'cuda:N'.*got None"),
    ("MATClassifier.fit", "device='mps' on a machine without Metal",
     lambda: MATClassifier(device="mps").fit(X, Y), ValueError,
     "'mps' is not available on this machine"),
    ("MATClassifier.fit", "module is a function, not an nn.Module subclass",
     lambda: MATClassifier(module=_a_module_function).fit(X, Y), ValueError,
     "torch.nn.Module subclass"),
    ("MATClassifier.fit", "module returns 7 outputs for 2 classes",
     lambda: MATClassifier(**FAST, **_wide(7)).fit(X, Y), ValueError,
     r"WideModule returns 7 outputs.*n_classes=2"),
    ("MATClassifier.fit", "module returns 1 output for 2 classes",
     lambda: MATClassifier(**FAST, **_wide(1)).fit(X, Y), ValueError,
     r"WideModule returns 1 output .*n_classes=2"),
    ("MATClassifier.fit", "module returns 7 outputs, heldout_logits given",
     lambda: MATClassifier(**FAST, **_wide(7)).fit(
         X, Y, heldout_logits=np.zeros((60, 2))),
     ValueError, r"WideModule returns 7 outputs.*n_classes=2"),
    ("MATClassifier.fit", "values beyond float32's range in X (1e40)",
     lambda: MATClassifier(**FAST).fit(_with(1e40), Y), ValueError,
     "X has values beyond float32's range"),
    ("MATClassifier.fit", "X_val without y_val",
     lambda: MATClassifier(**FAST).fit(X, Y, X_val=X), ValueError, "X_val and y_val"),
    ("MATClassifier.fit", "X_val with the wrong number of features",
     lambda: MATClassifier(**FAST).fit(X, Y, X_val=X[:, :3], y_val=Y), ValueError,
     "`X_val` has 3 features"),
    ("MATClassifier.fit", "values beyond float32's range in X_val",
     lambda: MATClassifier(**FAST).fit(X, Y, X_val=_with(-1e40), y_val=Y),
     ValueError, "X_val has values beyond float32's range"),
    ("MATClassifier.fit", "a class with one sample, early stopping on",
     lambda: MATClassifier(**FAST).fit(X6, Y6), ValueError,
     r"Class 2 has only 1 sample; the validation split"),
    ("MATClassifier.fit", "xrm=LogisticRegression() (gives no held-out logits)",
     lambda: MATClassifier(xrm=LogisticRegression()).fit(X, Y), ValueError,
     "'fit' and 'infer_group_labels'"),
    ("MATClassifier.fit", "diverging loss (huge lr on huge features)",
     lambda: MATClassifier(lr=1e30, max_epochs=20, early_stopping=False,
                           random_state=0).fit(X * 1e10, Y),
     ValueError, "non-finite"),
    ("MATClassifier.fit", "lr=1e10: the loss grows by orders of magnitude",
     lambda: MATClassifier(lr=1e10, max_epochs=5, early_stopping=False,
                           random_state=0).fit(X, Y),
     DivergedError, r"Training diverged: .* lower `lr`"),
    ("GridSearchCV(MATClassifier).fit",
     "group_labels for a WorstGroupScorer with metadata routing off",
     _search_with_routing_off, ValueError,
     r"enable_metadata_routing=True"),
    ("MATClassifier.predict", "not fitted",
     lambda: MATClassifier().predict(X), ValueError, "not fitted"),
    ("MATClassifier.predict", "wrong number of features",
     lambda: _fitted().predict(X[:, :3]), ValueError, "3 features"),
    ("MATClassifier.predict", "values beyond float32's range (1e40)",
     lambda: _fitted().predict(BEYOND_FLOAT32), ValueError,
     "X has values beyond float32's range"),
    ("MATClassifier.infer_group_labels", "labels unseen in fit",
     lambda: _fitted().infer_group_labels(X, np.full(60, 9)), ValueError,
     "unseen in fit"),
    ("XRMEstimator.fit", "NaN in X", lambda: XRMEstimator(**FAST).fit(_with(np.nan), Y),
     ValueError, "NaN"),
    ("XRMEstimator.fit", "module returns 7 outputs for 2 classes",
     lambda: XRMEstimator(**FAST, **_wide(7)).fit(X, Y), ValueError,
     r"WideModule returns 7 outputs.*n_classes=2"),
    ("XRMEstimator.infer_group_labels", "y of the wrong length",
     lambda: XRMEstimator(**FAST).fit(X, Y).infer_group_labels(X, Y[:5]),
     ValueError, "1-d with"),
    ("GroupDROClassifier.fit", "no group_labels",
     lambda: GroupDROClassifier(**FAST).fit(X, Y), ValueError, "needs group_labels"),
    ("worst_group_accuracy", "lengths differ",
     lambda: worst_group_accuracy(Y, Y, group_labels=Y[:-1]), ValueError,
     "same number of samples"),
    ("worst_group_accuracy", "missing group labels",
     lambda: worst_group_accuracy(Y[:3], Y[:3], group_labels=[0, None, 1]),
     ValueError, "missing"),
    ("worst_group_accuracy", "empty input",
     lambda: worst_group_accuracy([], [], group_labels=[]), ValueError, "Empty input"),
    ("worst_group_accuracy", "a single group (accepted: WGA is the accuracy)",
     lambda: worst_group_accuracy(Y, Y, group_labels=np.zeros(60)), None, None),
    ("group_accuracy_report", "y_proba with a wrong number of columns",
     lambda: group_accuracy_report(Y, Y, group_labels=Y, y_proba=np.ones((60, 3)) / 3),
     ValueError, "y_proba"),
    ("WorstGroupScorer", "fallback='raise' and no group labels",
     lambda: WorstGroupScorer(fallback="raise")(_lr(), X, Y), ValueError,
     "no group_labels"),
    ("StratifiedGroupLabelKFold.split", "group_labels length differs",
     lambda: list(StratifiedGroupLabelKFold(3).split(X, Y, group_labels=Y[:10])),
     ValueError, "inconsistent numbers of samples"),
    ("make_spurious_memorization", "n_features = 1",
     lambda: make_spurious_memorization(n_features=1), ValueError, "n_features"),
    ("fetch_adult", "a corrupt adult.data in data_home",
     _fetch_corrupt_adult, ValueError, "SHA-256 checksum mismatch"),
    ("load_embeddings", "a path that does not exist",
     lambda: load_embeddings(Path("/nonexistent/embeddings")), OSError, "nonexistent"),
    ("skmat-bench", "unknown dataset name",
     lambda: bench_main(["--datasets", "imagenet", "--quiet"]), SystemExit, "2"),
]


@pytest.mark.parametrize("width", [1, 7])
@pytest.mark.parametrize("make, fit_params", [
    (ERMClassifier, {}),
    (JTTClassifier, {}),
    (GroupDROClassifier, {"group_labels": Y}),
    (MATClassifier, {}),
    (MATClassifier, {"heldout_logits": np.zeros((60, 2))}),
    (XRMEstimator, {}),
], ids=["ERM", "JTT", "GroupDRO", "MAT", "MAT-heldout_logits", "XRM"])
def test_module_of_the_wrong_width_is_named_at_fit(make, fit_params, width):
    with pytest.raises(ValueError, match=rf"WideModule returns {width} output.*"
                       r"n_classes=2.*shape \(n_samples, 2\)"):
        make(**FAST, **_wide(width)).fit(X, Y, **fit_params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_module_of_the_right_width_fits():
    clf = MATClassifier(**FAST, **_wide(2)).fit(X, Y)
    assert clf.predict_proba(X).shape == (60, 2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_device_accepts_a_torch_device():
    MATClassifier(**FAST, device=torch.device("cpu")).fit(X, Y)


def _separable(seed=0):
    rng = np.random.default_rng(seed)
    X_sep = rng.standard_normal((40, 2))
    y_sep = (X_sep[:, 0] > 0).astype(int)
    X_sep[:, 0] += 5 * (2 * y_sep - 1)  # the twins make no mistake
    return X_sep, y_sep


def _degenerate_warnings(fit):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit()
    return [w for w in record
            if issubclass(w.category, DegenerateEnvironmentWarning)]


def test_nested_xrm_warning_points_at_the_callers_line():
    X_sep, y_sep = _separable()
    degenerate = _degenerate_warnings(lambda: MATClassifier(
        xrm=XRMEstimator(max_epochs=2), max_epochs=2, random_state=0
    ).fit(X_sep, y_sep))
    assert degenerate, "the separable data should make XRM degenerate"
    assert all(w.filename == __file__ for w in degenerate), [
        (w.filename, w.lineno) for w in degenerate
    ]


@pytest.mark.parametrize("estimator", [
    MATClassifier(max_epochs=2, random_state=0),
    GroupDROClassifier(group_source="xrm", max_epochs=2, random_state=0),
], ids=["MAT", "GroupDRO"])
def test_own_xrm_keeps_a_class_without_mistakes_as_one_group_silently(estimator):
    # Easy data with no shortcut: XRM makes no mistake on a class, which the
    # estimator that built its own XRM handles; no advice to train longer.
    X_sep, y_sep = _separable()
    assert not _degenerate_warnings(lambda: estimator.fit(X_sep, y_sep))
    assert estimator.xrm_.degenerate_
    # The same XRM fitted on its own says so.
    direct = _degenerate_warnings(
        lambda: XRMEstimator(max_epochs=2, random_state=0).fit(X_sep, y_sep))
    assert [str(w.message).startswith("XRM's twins made no mistake on class(es)")
            for w in direct] == [True]


def test_default_mat_is_silent_on_wine():
    # Real, easy data with no shortcut: at defaults XRM makes no mistake on
    # some class of the standardised wine data, and MAT says nothing of it.
    X_wine, y_wine = load_wine(return_X_y=True)
    X_wine = StandardScaler().fit_transform(X_wine)
    model = MATClassifier(random_state=0)
    assert not _degenerate_warnings(lambda: model.fit(X_wine, y_wine))
    assert model.xrm_.degenerate_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_beyond_float32_is_accepted_in_float32_range():
    # The largest float32 value is finite in float32: accepted.
    edge = _with(float(np.finfo(np.float32).max) / 2)
    assert np.isfinite(_fitted().predict_proba(edge)).all()


def _run(call):
    try:
        call()
    except BaseException as error:  # the table records whatever is raised
        return error
    return None


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("entry, bad_input, call, expected, pattern", CASES,
                         ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_bad_input_raises_a_clear_error(entry, bad_input, call, expected, pattern):
    if expected is None:  # an input that is accepted on purpose
        call()
        return
    with pytest.raises(expected, match=pattern):
        call()


def _sorted_sets(message):
    """Sort the items of ``{...}`` sets: their order changes between runs."""

    def sort(match):
        items = sorted(item.strip() for item in match.group(1).split(","))
        return "{" + ", ".join(items) + "}"

    return re.sub(r"\{([^{}]*)\}", sort, message)


def _first_sentence(message, limit=110):
    message = str(message).replace(str(CORRUPT_ADULT_HOME), "DATA_HOME")
    # A search that fails in every fit: its own cause is in its last line.
    if message.startswith("\nAll the "):
        message = message.strip().splitlines()[-1].removeprefix("ValueError: ")
    message = _sorted_sets(" ".join(message.split()))
    message = re.split(r"(?<=[.!?])\s", message, maxsplit=1)[0]
    message = message.replace("|", "\\|")
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _table():
    lines = [
        "# Bad input and the errors it gets",
        "",
        "Generated by `tests/test_bad_input.py` from the errors actually raised",
        "(`SKMAT_WRITE_DOCS=1 python -m pytest tests/test_bad_input.py` rewrites",
        "it; the test fails when this file and the code disagree). The user's",
        "arrays are never modified: `tests/test_properties.py` checks that for",
        "random inputs.",
        "",
        "| entry point | bad input | exception | message (first sentence) |",
        "|---|---|---|---|",
    ]
    for entry, bad_input, call, _, _ in CASES:
        error = _run(call)
        name = "no error" if error is None else type(error).__name__
        text = "" if error is None else _first_sentence(error)
        lines.append(f"| `{entry}` | {bad_input} | `{name}` | {text} |")
    return "\n".join(lines) + "\n"


@pytest.mark.filterwarnings("ignore")
def test_the_documented_table_matches_the_errors():
    table = _table()
    if os.environ.get("SKMAT_WRITE_DOCS"):
        DOC.write_text(table)
    assert DOC.read_text() == table, (
        "docs/bad_inputs.md is out of date; regenerate it with "
        "SKMAT_WRITE_DOCS=1 python -m pytest tests/test_bad_input.py"
    )
