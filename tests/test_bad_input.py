"""Every bad input the project was tried with, and the error it gets.

The same cases make the table of ``docs/bad_inputs.md``: a test renders the
table from the errors actually raised and compares it with the committed file.
Regenerate it with ``SKMAT_WRITE_DOCS=1 python -m pytest tests/test_bad_input.py``.
"""

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skmat import MATClassifier, WorstGroupScorer, XRMEstimator
from skmat.baselines import GroupDROClassifier
from skmat.bench import main as bench_main
from skmat.datasets import fetch_adult, load_embeddings, make_spurious_memorization
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
    ("MATClassifier.fit", "X_val without y_val",
     lambda: MATClassifier(**FAST).fit(X, Y, X_val=X), ValueError, "X_val and y_val"),
    ("MATClassifier.fit", "diverging loss (huge lr on huge features)",
     lambda: MATClassifier(lr=1e30, max_epochs=20, early_stopping=False,
                           random_state=0).fit(X * 1e10, Y),
     ValueError, "non-finite"),
    ("MATClassifier.predict", "not fitted",
     lambda: MATClassifier().predict(X), ValueError, "not fitted"),
    ("MATClassifier.predict", "wrong number of features",
     lambda: _fitted().predict(X[:, :3]), ValueError, "3 features"),
    ("MATClassifier.infer_group_labels", "labels unseen in fit",
     lambda: _fitted().infer_group_labels(X, np.full(60, 9)), ValueError,
     "unseen in fit"),
    ("XRMEstimator.fit", "NaN in X", lambda: XRMEstimator(**FAST).fit(_with(np.nan), Y),
     ValueError, "NaN"),
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
    ("fetch_adult", "missing files, download_if_missing=False",
     lambda: fetch_adult(data_home=Path("/nonexistent/skmat"),
                         download_if_missing=False),
     OSError, "adult"),
    ("load_embeddings", "a path that does not exist",
     lambda: load_embeddings(Path("/nonexistent/embeddings")), OSError, "nonexistent"),
    ("skmat-bench", "unknown dataset name",
     lambda: bench_main(["--datasets", "imagenet", "--quiet"]), SystemExit, "2"),
]


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
    message = _sorted_sets(" ".join(str(message).split()))
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
