"""
=======================================================
MAT in a scikit-learn Pipeline on the Adult census data
=======================================================

A tabular problem with mixed column types: predict whether a person earns
more than $50K from the UCI Adult census data, where women earning more than
$50K are only 3.6% of the training rows. The groups are ``(income, sex)``.

:class:`~skmat.MATClassifier` is an ordinary scikit-learn classifier, so it
goes at the end of a :class:`~sklearn.pipeline.Pipeline` after a
:class:`~sklearn.compose.ColumnTransformer` that standardises the numeric
columns and one-hot encodes the categorical ones.

The example reads the files ``adult.data`` and ``adult.test`` with
:func:`skmat.datasets.fetch_adult` from the directory in the environment
variable ``SKMAT_DATA_HOME``, else from ``../shared/data`` next to the
repository, else from scikit-learn's data home. It downloads nothing; when
the files are not there it prints a message and stops. To keep it short, it
trains on a stratified subsample of 8,000 of the 32,561 training rows.
"""

# %%
# Loading the data
# ----------------
# ``as_frame=True`` gives a DataFrame with the raw columns: five numeric ones
# and eight categorical ones (pandas ``category`` dtype, NaN where the files
# have ``?``). ``group_labels`` is ``2 * income + sex`` (sex: 1 for male).
import os
from pathlib import Path

import numpy as np

from skmat.datasets import fetch_adult


def adult_data_home():
    """$SKMAT_DATA_HOME, else ../shared/data next to the repository, else None."""
    if os.environ.get("SKMAT_DATA_HOME"):
        return Path(os.environ["SKMAT_DATA_HOME"])
    # The repository root: this file's parent folder when run as a script,
    # the working directory's parent when sphinx-gallery runs it in examples/.
    here = Path(globals().get("__file__", Path.cwd() / "plot_adult_pipeline.py"))
    shared = here.resolve().parent.parent.parent / "shared" / "data"
    return shared if shared.is_dir() else None


data_home = adult_data_home()
try:
    train = fetch_adult(
        data_home=data_home, subset="train", as_frame=True, download_if_missing=False
    )
    test = fetch_adult(
        data_home=data_home, subset="test", as_frame=True, download_if_missing=False
    )
except (FileNotFoundError, OSError) as exc:
    train = test = None
    print(f"The Adult data are not available, so this example stops here.\n{exc}")

if train is not None:
    print(f"{train.data.shape[1]} columns, of which categorical:")
    print(list(train.data.select_dtypes("category").columns))
    print("training rows per group:")
    for g, name in train.group_names.items():
        print(f"  {g} {name:>14}: {np.sum(train.group_labels == g):6d}")

# %%
# A stratified subsample of the training rows
# -------------------------------------------
# Stratified on the group, so that the 3.6% share of women earning more than
# $50K is kept.
from sklearn.model_selection import train_test_split

if train is not None:
    rows, _ = train_test_split(
        np.arange(len(train.target)),
        train_size=8000,
        stratify=train.group_labels,
        random_state=0,
    )
    X_train = train.data.iloc[rows]
    y_train = train.target.iloc[rows]
    group_labels_train = train.group_labels[rows]
    X_test, y_test, group_labels_test = test.data, test.target, test.group_labels

# %%
# The pipeline
# ------------
# The numeric columns are standardised and the categorical ones one-hot
# encoded (dense output: the networks take dense arrays; missing values
# become their own category). The network is the one of the project's Adult
# benchmark: an MLP with 256 hidden units trained by Adam.
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmat import MATClassifier
from skmat.baselines import ERMClassifier

numeric = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
categorical = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
]
network = dict(
    module="mlp",
    optimizer="adam",
    lr=1e-3,
    batch_size=512,
    max_epochs=50,
    n_iter_no_change=10,
    random_state=0,
)


def make_model(classifier):
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
        ]
    )
    return make_pipeline(preprocess, classifier)


erm = make_model(ERMClassifier(**network))
mat = make_model(MATClassifier(**network))
print(mat)

# %%
# Fitting with group labels for early stopping
# --------------------------------------------
# Both classifiers hold out 20% of the rows they are given for early
# stopping. With metadata routing on, ``fit(X, y, group_labels=g)`` hands the
# group labels through the pipeline to the classifier, which scores its
# held-out rows by worst-group accuracy; training itself never sees them.
# (With routing off, pass ``matclassifier__group_labels=g`` instead.)
import sklearn

if train is not None:
    with sklearn.config_context(enable_metadata_routing=True):
        erm.fit(X_train, y_train, group_labels=group_labels_train)
        mat.fit(X_train, y_train, group_labels=group_labels_train)
    print("MAT early stopping on:", mat[-1].validation_groups_source_)

# %%
# Accuracy per group on the test file
# -----------------------------------
# The 16,281 rows of ``adult.test``.
from skmat.metrics import group_accuracy_report

if train is not None:
    for name, model in (("ERM", erm), ("MAT", mat)):
        report = group_accuracy_report(
            y_test, model.predict(X_test), group_labels=group_labels_test
        )
        report.index = [train.group_names[g] for g in report.index]
        print(f"{name}: accuracy {model.score(X_test, y_test):.3f}")
        print(report[["count", "accuracy"]].round(3).to_string(), end="\n\n")

# %%
# The same as a chart, with :func:`skmat.inspection.plot_group_accuracy`:
import matplotlib.pyplot as plt

from skmat.inspection import plot_group_accuracy

if train is not None:
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_group_accuracy(
        {"ERM": erm, "MAT": mat},
        X_test,
        y_test,
        group_labels=group_labels_test,
        group_names=train.group_names,
        ax=ax,
    )
    ax.set_title("Adult test accuracy per (income, sex) group")
    fig.tight_layout()
    plt.show()

# %%
# :class:`~skmat.WorstGroupScorer` works on the pipeline too. With the true
# group labels it computes the worst-group accuracy; without them it falls
# back to the groups that the pipeline's last step infers with its XRM on the
# transformed data. Those inferred groups gather, in each class, the rows
# that XRM's twins get wrong, the hardest ones: here the estimate is much
# lower than the true worst-group accuracy. It is meant to rank models
# (temperatures, epochs) when no group labels exist, not to report the
# accuracy of any real group.
from skmat import WorstGroupScorer

if train is not None:
    scorer = WorstGroupScorer()
    with sklearn.config_context(enable_metadata_routing=True):
        true_wga = scorer(mat, X_test, y_test, group_labels=group_labels_test)
        inferred_wga = scorer(mat, X_test, y_test)
    print(f"MAT worst-group accuracy, true groups: {true_wga:.3f}")
    print(f"MAT worst-group accuracy, XRM-inferred groups: {inferred_wga:.3f}")
