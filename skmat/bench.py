"""Benchmark of MAT against the baselines: worst-group test accuracy.

Run ``skmat-bench`` or ``python -m skmat.bench``. Each method trains on the
training split of a dataset, chooses its hyperparameter and its early-stopping
epoch on the validation split only, and is scored on the test split (worst-group
and average accuracy). After the full table, a summary per dataset gives ERM,
MAT, the best other method with and without group labels, and MAT's gain.

The default run (the four built-in datasets, every method, the selections
``groups`` and ``inferred``, one seed, two worker processes) needs about 210
CPU-seconds: about three minutes on two CPU cores (200 s measured while other
jobs shared them). ``--seeds 3 --selection groups inferred none`` is the full
race.

Datasets
--------
interpretable
    :func:`~skmat.datasets.make_spurious_memorization`, the MAT paper's
    Figure 1 data (``--n-samples`` rows per split, default 1000).
colored_digits, colored_digits3
    :func:`~skmat.datasets.make_colored_digits` with 2 and 3 classes.
adult
    :func:`~skmat.datasets.fetch_adult` (income x sex; the copy shipped with
    skmat): ``--n-samples`` training rows (default 5000 of 32,561, a
    stratified sample) with 20% of them held out for validation, and the full
    test file.

Methods
-------
erm
    :class:`~skmat.baselines.ERMClassifier`.
erm-balanced
    ``ERMClassifier(balance="reweight_class")``: class-balanced ERM (Idrissi
    et al., 2022), no group labels.
mat
    :class:`~skmat.MATClassifier` (XRM held-out logits, no group labels).
jtt
    :class:`~skmat.baselines.JTTClassifier` (no group labels in training).
groupdro-xrm
    :class:`~skmat.baselines.GroupDROClassifier` on XRM-inferred training
    groups (the XRM paper's recipe; no group labels in training).
groupdro-oracle
    :class:`~skmat.baselines.GroupDROClassifier` on the true training groups.
dfr
    :class:`~skmat.baselines.DFRClassifier`: an L1 logistic regression
    retrained on the validation split, balanced by its true groups
    (``groups``), its XRM-inferred groups (``inferred``) or its classes
    (``none``), as in the DFR paper.
afr
    :class:`~skmat.baselines.AFRClassifier` (no group labels in training).
lr, lr-balanced
    ``StandardScaler`` + :class:`~sklearn.linear_model.LogisticRegression`,
    plain and with ``class_weight="balanced"``: what a user tries first.
hgb, hgb-balanced
    :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, plain and with
    ``class_weight="balanced"``.

The neural methods use the network settings of :data:`NETWORK_SETTINGS`.

Selection (which validation groups choose the hyperparameter and the epoch)
---------------------------------------------------------------------------
groups
    The true validation group labels (``group_labels_val``).
inferred
    No group labels: MAT, GroupDRO-XRM and DFR use the groups their XRM
    infers on the validation rows; the others the worst-class accuracy.
none
    Worst-class accuracy for every method (DFR balances classes).

Hyperparameter budget
---------------------
Every method gets the same budget: its own key knob over a grid of three
values (:data:`HYPERPARAMETER_GRIDS`), chosen on the validation split by the
selection's criterion; the neural methods also early-stop on it. ERM and
class-balanced ERM have no knob of their own (one fit each). DFR and AFR
search their grid inside ``fit`` (DFR on half of the validation split, as in
its paper); the others are refitted for each value and the value with the
best validation score is kept (the first one on ties). A method whose fits
do not depend on the selection (no XRM, no true groups) is fitted once for
``inferred`` and ``none``, and the scikit-learn models once per value.

Output
------
``results.csv`` (one row per dataset, method, selection and seed, with the
chosen value), ``summary.csv``, ``results.md`` (the table and the summary)
and, with matplotlib, ``results.png``. The fit time of a row is the time the
method spent on that dataset and seed (its whole grid, every selection, its
XRM) divided by its rows, after an untimed warm-up fit in each process.
"""

import argparse
import collections
import itertools
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The datasets that ``skmat-bench --datasets`` accepts.
DATASETS = ("interpretable", "colored_digits", "colored_digits3", "adult")
#: The datasets run when ``--datasets`` is not given: all of them (Adult
#: ships with skmat).
DEFAULT_DATASETS = DATASETS
#: The methods that ``--methods`` accepts; all run by default.
METHODS = (
    "erm",
    "erm-balanced",
    "mat",
    "jtt",
    "groupdro-xrm",
    "groupdro-oracle",
    "dfr",
    "afr",
    "lr",
    "lr-balanced",
    "hgb",
    "hgb-balanced",
)
#: The selections (validation groups for tuning and early stopping) that
#: ``--selection`` accepts.
SELECTIONS = ("groups", "inferred", "none")
#: The selections run when ``--selection`` is not given (``none`` differs
#: from ``inferred`` only for the methods with XRM).
DEFAULT_SELECTIONS = ("groups", "inferred")
#: Seeds run when ``--seeds`` is not given (one keeps the default run short;
#: ``--seeds 3`` shows the spread).
DEFAULT_SEEDS = 1

#: Rows per split (interpretable) or training rows (adult) by default.
DEFAULT_N_SAMPLES = {"interpretable": 1000, "adult": 5000}

#: Network settings of every neural method, per dataset (the estimators' own
#: defaults otherwise).
NETWORK_SETTINGS = {
    # A linear head: the paper's model class on its own data (named, since
    # MATClassifier's default module="auto" would also try an MLP).
    "interpretable": {"module": "linear"},
    # An MLP(256); small batches give SGD enough steps on ~900 images.
    "colored_digits": {"module": "mlp", "lr": 0.05, "batch_size": 64},
    "colored_digits3": {"module": "mlp", "lr": 0.05, "batch_size": 64},
    # An MLP(256) with Adam on the standardised, one-hot-encoded census data.
    "adult": {
        "module": "mlp",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 512,
        "max_epochs": 50,
        "n_iter_no_change": 10,
    },
}


@dataclass(frozen=True)
class _Method:
    """How the benchmark builds, fits and tunes one method."""

    family: str  # "network", "last_layer" (grid inside fit) or "sklearn"
    param: str | None = None  # the knob searched
    grid: tuple = ()
    fixed: dict = field(default_factory=dict)
    uses_xrm: bool = False  # "inferred" differs from "none"
    trains_on_groups: bool = False  # true group labels in training


_METHODS = {
    "erm": _Method("network"),
    "erm-balanced": _Method("network", fixed={"balance": "reweight_class"}),
    "mat": _Method("network", "temperature", (2.0, 0.5, 0.25), uses_xrm=True),
    "jtt": _Method("network", "upweight", (3.0, 10.0, 30.0)),
    "groupdro-xrm": _Method(
        "network", "eta", (0.01, 0.1, 1.0), {"group_source": "xrm"}, uses_xrm=True
    ),
    "groupdro-oracle": _Method(
        "network",
        "eta",
        (0.01, 0.1, 1.0),
        {"group_source": "given"},
        trains_on_groups=True,
    ),
    "dfr": _Method("last_layer", "C", (1.0, 0.1, 0.01), uses_xrm=True),
    "afr": _Method("last_layer", "gamma", (1.0, 4.0, 16.0)),
    "lr": _Method("sklearn", "C", (0.01, 0.1, 1.0)),
    "lr-balanced": _Method(
        "sklearn", "C", (0.01, 0.1, 1.0), {"class_weight": "balanced"}
    ),
    "hgb": _Method("sklearn", "max_iter", (25, 50, 100)),
    "hgb-balanced": _Method(
        "sklearn", "max_iter", (25, 50, 100), {"class_weight": "balanced"}
    ),
}

#: The hyperparameter budget: each method's knob and its grid of values
#: (``None``: no knob, one fit).
HYPERPARAMETER_GRIDS = {
    name: (spec.param, spec.grid) if spec.param else None
    for name, spec in _METHODS.items()
}

#: The columns of ``results.csv``: one row per dataset, method, selection and
#: seed, with the chosen value of the method's knob.
RESULT_COLUMNS = [
    "dataset",
    "method",
    "selection",
    "seed",
    "worst_group_acc",
    "avg_acc",
    "fit_seconds",
    "val_groups",
    "best_epoch",
    "n_epochs",
    "param",
    "value",
    "val_score",
]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
class DatasetUnavailable(Exception):
    """A dataset whose files are missing; the benchmark skips it."""


def default_data_home():
    """Where to look for the Adult files first when ``--data-home`` is not given.

    ``$SKMAT_DATA_HOME``, else ``../shared/data`` relative to the working
    directory if it exists, else ``None`` (:func:`~skmat.datasets.fetch_adult`
    then reads the copy shipped with skmat).
    """
    env = os.environ.get("SKMAT_DATA_HOME")
    if env:
        return Path(env)
    shared = Path.cwd().parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return None


def _load_interpretable(seed, n_samples, data_home):
    from .datasets import make_spurious_memorization

    if n_samples is None:
        n_samples = DEFAULT_N_SAMPLES["interpretable"]
    return make_spurious_memorization(n_samples=n_samples, random_state=seed)


def _load_colored_digits(seed, n_samples, data_home):
    from .datasets import make_colored_digits

    return make_colored_digits(random_state=seed)


def _load_colored_digits3(seed, n_samples, data_home):
    from .datasets import make_colored_digits

    return make_colored_digits(n_classes=3, random_state=seed)


def _load_adult(seed, n_samples, data_home):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import Bunch

    from .datasets import fetch_adult

    try:
        train = fetch_adult(
            data_home=data_home, subset="train", download_if_missing=False
        )
        test = fetch_adult(
            data_home=data_home, subset="test", download_if_missing=False
        )
    except FileNotFoundError as exc:
        raise DatasetUnavailable(
            f"{exc} Pass --data-home or set SKMAT_DATA_HOME to the folder with "
            "adult.data and adult.test."
        ) from exc
    if n_samples is None:
        n_samples = DEFAULT_N_SAMPLES["adult"]
    rows = np.arange(len(train.target))
    if n_samples < len(rows):
        rows, _ = train_test_split(
            rows, train_size=n_samples, stratify=train.group_labels, random_state=seed
        )
    fit_rows, valid_rows = train_test_split(
        rows, test_size=0.2, stratify=train.group_labels[rows], random_state=seed
    )
    numeric = [train.feature_names.index(name) for name in train.numeric_features]
    scaler = StandardScaler().fit(train.data[fit_rows][:, numeric])

    def prepare(X):
        X = X.copy()
        X[:, numeric] = scaler.transform(X[:, numeric])
        return X

    return Bunch(
        X_train=prepare(train.data[fit_rows]),
        y_train=train.target[fit_rows],
        group_labels_train=train.group_labels[fit_rows],
        X_valid=prepare(train.data[valid_rows]),
        y_valid=train.target[valid_rows],
        group_labels_valid=train.group_labels[valid_rows],
        X_test=prepare(test.data),
        y_test=test.target,
        group_labels_test=test.group_labels,
    )


_LOADERS = {
    "interpretable": _load_interpretable,
    "colored_digits": _load_colored_digits,
    "colored_digits3": _load_colored_digits3,
    "adult": _load_adult,
}


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------
def make_estimator(method, settings, seed, value=None, memory=None):
    """Build a fresh estimator of ``method``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    settings : dict
        Network settings (:data:`NETWORK_SETTINGS`) of the neural methods
        and of the XRM that DFR fits.
    seed : int
        The estimator's ``random_state``.
    value : object, default=None
        The value of the method's knob (:data:`HYPERPARAMETER_GRIDS`); for
        DFR and AFR, which search it inside ``fit``, ``None`` means the grid.
    memory : str, joblib.Memory or None, default=None
        The XRM cache of the methods that fit an XRM.

    Returns
    -------
    estimator : object
        An unfitted estimator.
    """
    if method not in _METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")
    spec = _METHODS[method]
    knob = {} if value is None or spec.param is None else {spec.param: value}
    if spec.family == "network":
        from . import MATClassifier
        from .baselines import ERMClassifier, GroupDROClassifier, JTTClassifier

        cls = {
            "erm": ERMClassifier,
            "erm-balanced": ERMClassifier,
            "mat": MATClassifier,
            "jtt": JTTClassifier,
            "groupdro-xrm": GroupDROClassifier,
            "groupdro-oracle": GroupDROClassifier,
        }[method]
        params = dict(settings, random_state=seed, **spec.fixed, **knob)
        if spec.uses_xrm:
            params["memory"] = memory
        return cls(**params)
    if method == "dfr":
        from . import XRMEstimator
        from .baselines import DFRClassifier

        xrm_params = set(XRMEstimator().get_params())
        xrm = XRMEstimator(**{k: v for k, v in settings.items() if k in xrm_params})
        Cs = spec.grid if value is None else (value,)
        return DFRClassifier(Cs=Cs, xrm=xrm, memory=memory, random_state=seed)
    if method == "afr":
        from .baselines import AFRClassifier

        gammas = spec.grid if value is None else (value,)
        return AFRClassifier(gammas=gammas, lambdas=(1.0,), random_state=seed)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method.startswith("lr"):
        from sklearn.linear_model import LogisticRegression

        return make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=1000, **spec.fixed, **knob),
        )
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.preprocessing import KBinsDiscretizer

    # One fit of the largest number of trees; the grid reads its staged
    # predictions (early stopping by the selection's criterion).
    hgb = HistGradientBoostingClassifier(
        max_iter=max(spec.grid) if value is None else value,
        early_stopping=False,
        random_state=seed,
        **spec.fixed,
    )
    if "class_weight" not in spec.fixed:
        return hgb
    # Weighted rows make scikit-learn >= 1.8 bin each feature with weighted
    # percentiles, minutes on 1800 features; features binned beforehand by
    # their (unweighted) quantiles, as older versions did, skip that.
    binning = KBinsDiscretizer(n_bins=255, encode="ordinal", strategy="quantile")
    if "quantile_method" in binning.get_params():  # scikit-learn >= 1.7
        binning.set_params(quantile_method="linear")
    return make_pipeline(binning, hgb)


class _Staged:
    """A fitted gradient-boosting model cut at its first ``n_iter`` trees."""

    def __init__(self, model, n_iter):
        self.model = model
        self.n_iter = n_iter

    def predict(self, X):
        """Predict with the first ``n_iter`` trees."""
        Xt, booster = X, self.model
        if hasattr(self.model, "steps"):  # a Pipeline: binning, then trees
            Xt = self.model[:-1].transform(X)
            booster = self.model[-1]
        stages = itertools.islice(booster.staged_predict(Xt), self.n_iter)
        return collections.deque(stages, maxlen=1)[0]


def fit_kwargs(method, selection, data):
    """Fit arguments: the validation split, and its groups for ``selection``.

    The scikit-learn models take none: they are tuned from outside.
    """
    spec = _METHODS[method]
    kwargs = {}
    if spec.family == "sklearn":
        return kwargs
    kwargs = {"X_val": data.X_valid, "y_val": data.y_valid}
    if selection == "groups":
        kwargs["group_labels_val"] = data.group_labels_valid
    elif selection == "none":
        # Groups equal to the classes: worst-class accuracy, and no inferred
        # groups for the methods that would otherwise use them.
        kwargs["group_labels_val"] = data.y_valid
    if spec.trains_on_groups:
        kwargs["group_labels"] = data.group_labels_train
    return kwargs


def _effective_selection(spec, selection):
    """Return the selection whose fit equals this one's.

    ``inferred`` is ``none`` for the methods without XRM.
    """
    if selection == "inferred" and not spec.uses_xrm:
        return "none"
    return selection


def _worst_group(y_true, y_pred, groups):
    from .metrics import worst_group_accuracy

    return float(worst_group_accuracy(y_true, y_pred, group_labels=groups))


def _validation_score(clf, spec, selection, data):
    """Return the score that chooses among a method's fits."""
    if spec.family == "network":
        return clf.best_validation_score_
    groups = data.group_labels_valid if selection == "groups" else data.y_valid
    return _worst_group(data.y_valid, clf.predict(data.X_valid), groups)


def _describe(clf, spec, selection):
    """``val_groups``, ``best_epoch``, ``n_epochs`` and the chosen value."""
    if spec.family == "network":
        source = clf.validation_groups_source_
        source = {"group_labels": "true"}.get(source, source)
        value = getattr(clf, spec.param) if spec.param else None
        if _effective_selection(spec, selection) == "none":
            source = "class"  # the validation groups were the classes
        return source, clf.best_epoch_, clf.n_epochs_, value
    if spec.family == "last_layer":
        if spec.param == "C":
            source = {"given": "true", "xrm": "inferred"}.get(
                clf.group_source_, clf.group_source_
            )
            if selection == "none":
                source = "class"  # the groups given were the classes
            return source, None, None, clf.C_
        source = "true" if selection == "groups" else "class"
        return source, None, None, clf.gamma_
    source = "true" if selection == "groups" else "class"
    if isinstance(clf, _Staged):
        return source, None, None, clf.n_iter
    return source, None, None, clf.get_params()[f"logisticregression__{spec.param}"]


_WARMED_UP = False


def _warm_up():
    """One tiny untimed fit per process: imports and torch's first call."""
    global _WARMED_UP
    if _WARMED_UP:
        return
    from . import XRMEstimator
    from .baselines import ERMClassifier

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 3)), np.repeat([0, 1], 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ERMClassifier(max_epochs=2, random_state=0).fit(X, y)
        XRMEstimator(max_epochs=2, random_state=0).fit(X, y)
    _WARMED_UP = True


def run_method(dataset, method, selections, seed, data, settings):
    """Fit ``method`` under every selection and score it on the test split.

    Parameters
    ----------
    dataset : str
        Name of the dataset (recorded in the rows).
    method : str
        One of :data:`METHODS`.
    selections : list of str
        Selection protocols, from :data:`SELECTIONS`.
    seed : int
        Seed of the estimators.
    data : Bunch
        The splits, as the loaders return them.
    settings : dict
        Network settings of the dataset.

    Returns
    -------
    rows : list of dict
        One result row (:data:`RESULT_COLUMNS`) per selection. A fit that
        raises (e.g. a diverged network) drops its value from the grid, with
        a message on stderr; a row whose every fit failed has no scores and
        ``val_groups="failed"``.
    """
    from joblib import Memory

    spec = _METHODS[method]
    fits, rows, failures = {}, [], []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="skmat-bench-") as cache:
        memory = Memory(cache, verbose=0)
        for selection in selections:
            effective = _effective_selection(spec, selection)
            if spec.family == "network" and spec.grid:
                values = spec.grid
            elif spec.family == "sklearn" and spec.param == "C":
                values = spec.grid
            else:
                # No knob, a grid searched inside fit (DFR, AFR), or one
                # boosting run whose stages are the grid (HGB).
                values = (None,)
            candidates = []
            for value in values:
                key = (value, None if spec.family == "sklearn" else effective)
                if key not in fits:
                    clf = make_estimator(method, settings, seed, value, memory)
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            clf.fit(
                                data.X_train,
                                data.y_train,
                                **fit_kwargs(method, effective, data),
                            )
                    except Exception as exc:  # a diverged fit loses its value
                        failures.append(
                            f"{dataset} seed {seed} {method} "
                            f"{spec.param}={value}: {type(exc).__name__}: "
                            f"{str(exc)[:160]}"
                        )
                        clf = None
                    fits[key] = clf
                clf = fits[key]
                if clf is None:
                    continue
                models = [clf]
                if spec.param == "max_iter":
                    models = [_Staged(clf, n_iter) for n_iter in spec.grid]
                for model in models:
                    score = _validation_score(model, spec, selection, data)
                    candidates.append((-np.inf if score is None else score, model))
            if not candidates:
                rows.append(_failed_row(dataset, method, selection, seed, spec))
                continue
            val_score, clf = candidates[int(np.argmax([c[0] for c in candidates]))]
            pred = clf.predict(data.X_test)
            source, best_epoch, n_epochs, value = _describe(clf, spec, selection)
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "selection": selection,
                    "seed": seed,
                    "worst_group_acc": _worst_group(
                        data.y_test, pred, data.group_labels_test
                    ),
                    "avg_acc": float(np.mean(pred == data.y_test)),
                    "fit_seconds": None,
                    "val_groups": source,
                    "best_epoch": best_epoch,
                    "n_epochs": n_epochs,
                    "param": spec.param,
                    "value": None if value is None else float(value),
                    "val_score": val_score,
                }
            )
    seconds = (time.perf_counter() - start) / max(len(rows), 1)
    for row in rows:
        row["fit_seconds"] = seconds
    for failure in failures:
        print(f"skmat-bench: a fit failed: {failure}", file=sys.stderr)
    return rows


def _failed_row(dataset, method, selection, seed, spec):
    """Return the row of a method whose every fit failed: no scores."""
    return {
        "dataset": dataset,
        "method": method,
        "selection": selection,
        "seed": seed,
        "worst_group_acc": np.nan,
        "avg_acc": np.nan,
        "fit_seconds": None,
        "val_groups": "failed",
        "best_epoch": None,
        "n_epochs": None,
        "param": spec.param,
        "value": None,
        "val_score": None,
    }


def _run_task(dataset, method, selections, seed, data, settings, threads):
    """One worker's job: the rows of one method on one dataset and seed."""
    from threadpoolctl import threadpool_limits

    from . import _torch

    previous = _torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            _warm_up()
            return run_method(dataset, method, selections, seed, data, settings)
    finally:
        _torch.set_num_threads(previous)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------
def summarize(frame):
    """Mean and standard deviation over seeds per dataset, method, selection."""
    keys = ["dataset", "method", "selection"]
    grouped = frame.groupby(keys, sort=False)
    summary = grouped.agg(
        worst_group_mean=("worst_group_acc", "mean"),
        worst_group_std=("worst_group_acc", "std"),
        avg_mean=("avg_acc", "mean"),
        avg_std=("avg_acc", "std"),
        fit_seconds=("fit_seconds", "mean"),
        n_seeds=("seed", "count"),
        val_groups=("val_groups", lambda s: "/".join(sorted(set(map(str, s))))),
    ).reset_index()
    return summary.fillna({"worst_group_std": 0.0, "avg_std": 0.0})


def _cell(mean, std, n_seeds):
    return f"{mean:.3f} ± {std:.3f}" if n_seeds >= 2 else f"{mean:.3f}"


def format_table(summary):
    """Format the summary as a markdown table.

    Cells read ``mean ± std`` over the seeds, or the single value with one
    seed.
    """
    header = (
        "| dataset | method | selection | val groups | worst-group acc | "
        "average acc | fit time (s) |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in summary.itertuples(index=False):
        lines.append(
            f"| {row.dataset} | {row.method} | {row.selection} | {row.val_groups} "
            f"| {_cell(row.worst_group_mean, row.worst_group_std, row.n_seeds)} "
            f"| {_cell(row.avg_mean, row.avg_std, row.n_seeds)} "
            f"| {row.fit_seconds:.1f} |"
        )
    return "\n".join(lines)


def _uses_group_labels(method, selection):
    return selection == "groups" or _METHODS[method].trains_on_groups


def format_summary(summary):
    """One line per dataset: ERM, MAT, the best others and MAT's gain.

    Worst-group test accuracy (mean over seeds). ERM and MAT are taken
    without group labels (selection ``inferred``, else ``none``); "best
    other" is the best of the remaining rows that use no group labels at all,
    or that use them (true validation groups, or true training groups).
    """
    order = {"inferred": 0, "none": 1, "groups": 2}
    lines = []
    for dataset in dict.fromkeys(summary["dataset"]):
        part = summary[summary["dataset"] == dataset]
        labelled = np.array(
            [
                _uses_group_labels(m, s)
                for m, s in zip(part["method"], part["selection"], strict=True)
            ],
            dtype=bool,
        )

        def reference(method, part=part):
            rows = part[part["method"] == method]
            if rows.empty:
                return None
            return rows.iloc[int(np.argmin(rows["selection"].map(order)))]

        def best(rows):
            rows = rows[~rows["method"].isin(["erm", "mat"])]
            if rows.empty:
                return None
            return rows.loc[rows["worst_group_mean"].idxmax()]

        def show(row, name=None):
            if row is None:
                return "n/a"
            if name is None:
                name = f"{row['method']} ({row['selection']})"
            return f"{name} {row['worst_group_mean']:.3f}"

        erm, mat = reference("erm"), reference("mat")
        other, with_labels = best(part[~labelled]), best(part[labelled])
        parts = [
            show(erm, "ERM") if erm is not None else "ERM n/a",
            show(mat, "MAT") if mat is not None else "MAT n/a",
            f"best other without group labels: {show(other)}",
            f"best other with group labels: {show(with_labels)}",
        ]
        gains = []
        if mat is not None and erm is not None:
            gain = mat["worst_group_mean"] - erm["worst_group_mean"]
            gains.append(f"{gain:+.3f} over ERM")
        if mat is not None and other is not None:
            gain = mat["worst_group_mean"] - other["worst_group_mean"]
            gains.append(f"{gain:+.3f} over the best other without group labels")
        if gains:
            parts.append("MAT gain: " + ", ".join(gains))
        lines.append(f"- {dataset}: " + "; ".join(parts))
    return "\n".join(lines)


def plot(summary, path):
    """Bar chart of worst-group accuracy; returns False without matplotlib."""
    try:
        # A bare Figure draws without pyplot: no backend switch, no window.
        from matplotlib.figure import Figure
    except ImportError:
        return False
    datasets = list(dict.fromkeys(summary["dataset"]))
    n_methods = summary["method"].nunique()
    ncols = min(2, len(datasets))
    nrows = -(-len(datasets) // ncols)
    fig = Figure(figsize=((1.0 + 0.45 * n_methods) * ncols, 4.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(datasets):]:
        ax.set_visible(False)
    for ax, dataset in zip(axes, datasets, strict=False):
        part = summary[summary["dataset"] == dataset]
        methods = list(dict.fromkeys(part["method"]))
        selections = list(dict.fromkeys(part["selection"]))
        width = 0.8 / len(selections)
        for i, selection in enumerate(selections):
            sub = part[part["selection"] == selection].set_index("method")
            sub = sub.reindex(methods)
            x = np.arange(len(methods)) + (i - (len(selections) - 1) / 2) * width
            errors = sub["worst_group_std"].where(sub["n_seeds"] >= 2)
            ax.bar(
                x,
                sub["worst_group_mean"],
                width,
                yerr=None if errors.isna().all() else errors.fillna(0),
                label=f"selection: {selection}",
                capsize=2,
            )
        ax.set_xticks(np.arange(len(methods)))
        ax.set_xticklabels(methods, rotation=45, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(dataset)
        ax.set_ylabel("worst-group test accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels),
               fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.07 / nrows))
    fig.savefig(path, dpi=120)
    return True


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def build_parser():
    """Build the argument parser of ``skmat-bench``."""
    parser = argparse.ArgumentParser(
        prog="skmat-bench",
        description=(
            "Worst-group accuracy of MAT against ERM, balanced ERM, JTT, "
            "GroupDRO, DFR, AFR, logistic regression and gradient boosting."
        ),
        epilog=(
            "Selections: 'groups' tunes and early-stops on true validation "
            "groups; 'inferred' on XRM-inferred groups (MAT, GroupDRO-XRM, DFR) "
            "or worst-class accuracy (the others); 'none' on worst-class "
            "accuracy. Each method searches its own knob over 3 values."
        ),
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DEFAULT_DATASETS),
        help="datasets (default: all)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="methods (default: all)",
    )
    parser.add_argument(
        "--selection",
        nargs="+",
        choices=SELECTIONS,
        default=list(DEFAULT_SELECTIONS),
        help="validation groups for tuning and early stopping "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help="number of seeds (default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("bench_results"),
        help="where results.csv, summary.csv, results.md and results.png go "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="folder with adult.data and adult.test (default: $SKMAT_DATA_HOME, "
        "else ../shared/data if it exists, else the copy shipped with skmat)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="rows per split of interpretable (default 1000), training rows "
        "of adult (default 5000; 32561 for all); colored_digits is fixed",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="override every dataset's max_epochs (for quick runs)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="worker processes, each fitting one method on one dataset and "
        "seed at a time (default: %(default)s; 1 runs in this process)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and BLAS threads per worker (default: 1; these models "
        "are small)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar, table or summary"
    )
    return parser


def _check_output_dir(parser, out):
    """Create ``out`` and write a probe file, or exit with status 2."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".skmat-bench-probe-"):
            pass
    except OSError as exc:
        parser.error(
            f"--output-dir {str(out)!r} is not a writable directory "
            f"({exc.strerror or exc}); nothing was run."
        )


def main(argv=None):
    """Run the benchmark; the entry point of ``skmat-bench``.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 if no requested dataset could be loaded. Bad
        arguments, an output directory that cannot be written included, exit
        with status 2 before any fit.
    """
    import pandas as pd
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    for name in ("n_samples", "max_epochs", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.n_jobs == 0:
        parser.error("--n-jobs must not be 0")
    out = args.output_dir
    _check_output_dir(parser, out)
    data_home = args.data_home if args.data_home is not None else default_data_home()

    datasets = list(dict.fromkeys(args.datasets))
    methods = list(dict.fromkeys(args.methods))
    selections = list(dict.fromkeys(args.selection))

    start = time.perf_counter()
    tasks, skipped = [], []
    for dataset in datasets:
        settings = dict(NETWORK_SETTINGS[dataset])
        if args.max_epochs is not None:
            settings["max_epochs"] = args.max_epochs
        for seed in range(args.seeds):
            try:
                data = _LOADERS[dataset](seed, args.n_samples, data_home)
            except DatasetUnavailable as exc:
                print(f"skmat-bench: skipping {dataset}: {exc}", file=sys.stderr)
                skipped.append(dataset)
                break
            tasks.extend(
                (dataset, method, selections, seed, data, settings, args.threads)
                for method in methods
            )
    if not tasks:
        print(
            f"skmat-bench: no results: could not load {', '.join(skipped)}.",
            file=sys.stderr,
        )
        return 1

    rows = []
    jobs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(_run_task)(*task) for task in tasks
    )
    with tqdm(
        total=len(tasks), file=sys.stderr, disable=args.quiet, unit="method"
    ) as bar:
        for result in jobs:
            rows.extend(result)
            bar.set_description(f"{result[0]['dataset']} {result[0]['method']}")
            bar.update()
    elapsed = time.perf_counter() - start

    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    order = {name: i for i, name in enumerate(DATASETS + METHODS + SELECTIONS)}
    frame = frame.sort_values(
        ["dataset", "method", "selection", "seed"],
        key=lambda col: col.map(order) if col.name != "seed" else col,
        kind="stable",
    ).reset_index(drop=True)
    summary = summarize(frame)
    table = format_table(summary)
    lines = format_summary(summary)
    frame.to_csv(out / "results.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    note = (
        f"Test accuracy over {args.seeds} seed(s); each method's knob and "
        f"early-stopping epoch chosen on the validation split. Total wall time "
        f"{elapsed:.0f} s ({args.n_jobs} worker(s), {args.threads} thread(s) "
        "each).\n\n"
    )
    text = note + table + "\n\nSummary (worst-group test accuracy):\n\n" + lines
    (out / "results.md").write_text(text + "\n", encoding="utf-8")
    has_plot = plot(summary, out / "results.png")
    if not args.quiet:
        print(table)
        print("\nSummary (worst-group test accuracy):")
        print(lines)
        print(f"\n{len(rows)} rows in {elapsed:.0f} s; results in {out}/")
    if not has_plot:
        print(
            "skmat-bench: no results.png: matplotlib is not installed "
            "(pip install 'skmat[plot]'); the tables were written.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
