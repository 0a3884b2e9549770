"""Tests of skmat.inspection: memorization scores, group report and plots."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC

from skmat import XRMEstimator
from skmat.baselines import ERMClassifier
from skmat.datasets import make_spurious_memorization
from skmat.inspection import (
    group_report,
    memorization_scores,
    plot_decision_boundary,
    plot_group_accuracy,
    plot_memorization,
    plot_training_curves,
)


# --------------------------------------------------------------------------
# Data and helpers
# --------------------------------------------------------------------------
def _mislabelled(n_samples=60, n_noise=0, random_state=0):
    """Two well-separated blobs with 3 flipped labels; returns X, y, flipped."""
    rng = np.random.RandomState(random_state)
    y = np.arange(n_samples) % 2
    X = np.column_stack(
        [(2 * y - 1) * 5.0 + rng.normal(size=n_samples), rng.normal(size=n_samples)]
    )
    if n_noise:
        X = np.column_stack([X, rng.normal(size=(n_samples, n_noise))])
    flipped = np.array([0, 21, 44]) * n_samples // 60
    y = y.copy()
    y[flipped] = 1 - y[flipped]
    return X, y, flipped


class _RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Nearest-centroid-like classifier that records its random_state."""

    seen = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        type(self).seen.append(self.random_state)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        n = len(X)
        return np.full((n, len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


class _CoreSign(ClassifierMixin, BaseEstimator):
    """Predicts 1 where the first feature is negative; records its inputs."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.others_, self.n_predicted_ = 0.0, 0
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.others_ = max(self.others_, float(np.abs(X[:, 2:]).max()))
        self.n_predicted_ += len(X)
        return (X[:, 0] < 0).astype(int)


@pytest.fixture
def pyplot():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _save(ax, tmp_path, name):
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def _boundary_vertices(ax):
    """Vertices of the decision-boundary line (matplotlib < and >= 3.8)."""
    lines = [
        c
        for c in ax.collections
        if getattr(c, "filled", None) is False or type(c).__name__ == "LineCollection"
    ]
    assert len(lines) == 1
    return np.concatenate([path.vertices for path in lines[0].get_paths()])


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------
# memorization_scores
# --------------------------------------------------------------------------
def test_memorization_one_nn_flags_mislabelled_rows():
    X, y, flipped = _mislabelled()
    scores = memorization_scores(
        KNeighborsClassifier(n_neighbors=1), X, y, n_rounds=5, random_state=0
    )
    assert scores.shape == (len(y),)
    clean = np.setdiff1d(np.arange(len(y)), flipped)
    # In-sample a 1-NN gives its own label probability 1; out of sample the
    # mislabelled rows get 0 and the clean rows (nearly always) 1.
    np.testing.assert_allclose(scores[flipped], 1.0)
    assert np.median(scores[clean]) == 0.0
    assert scores[clean].max() < scores[flipped].min()
    assert np.all((scores >= -1) & (scores <= 1))


def test_memorization_logistic_regression_memorizes_through_noise():
    # 40 noise dimensions let an almost unregularised linear model fit the
    # flipped labels, which it cannot predict when they are held out.
    X, y, flipped = _mislabelled(n_noise=40)
    scores = memorization_scores(
        LogisticRegression(C=1e4, max_iter=1000), X, y, n_rounds=4, random_state=0
    )
    clean = np.setdiff1d(np.arange(len(y)), flipped)
    assert scores[flipped].min() > 0.5
    assert scores[flipped].mean() - scores[clean].mean() > 0.6


def test_memorization_reproducible_and_seeds_each_clone():
    X, y, _ = _mislabelled()
    forest = RandomForestClassifier(n_estimators=5, random_state=None)
    a = memorization_scores(forest, X, y, n_rounds=2, random_state=3)
    b = memorization_scores(forest, X, y, n_rounds=2, random_state=3)
    c = memorization_scores(forest, X, y, n_rounds=2, random_state=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.RandomState(3)
    d = memorization_scores(forest, X, y, n_rounds=2, random_state=rng)
    np.testing.assert_array_equal(a, d)

    _RecordingClassifier.seen = []
    memorization_scores(_RecordingClassifier(), X, y, n_rounds=3, random_state=0)
    seen = _RecordingClassifier.seen
    assert len(seen) == 6 and len(set(seen)) == 6
    assert all(isinstance(s, int) for s in seen)

    # Nested random_state parameters (here inside a pipeline) are seeded too.
    _RecordingClassifier.seen = []
    pipe = make_pipeline(SimpleImputer(), _RecordingClassifier())
    memorization_scores(pipe, X, y, n_rounds=1, random_state=0)
    assert len(_RecordingClassifier.seen) == 2
    assert all(isinstance(s, int) for s in _RecordingClassifier.seen)


def test_memorization_does_not_modify_inputs():
    X, y, _ = _mislabelled()
    X_copy, y_copy = X.copy(), y.copy()
    knn = KNeighborsClassifier(n_neighbors=1)
    memorization_scores(knn, X, y, n_rounds=1, random_state=0)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    assert not hasattr(knn, "classes_")  # the estimator itself is not fitted


def test_memorization_keeps_dataframes_and_string_labels():
    X, y, flipped = _mislabelled()
    frame = pd.DataFrame(X, columns=["a", "b"])
    labels = np.where(y == 1, "pos", "neg")
    # The column transformer selects by name: it fails unless X stays a frame.
    pipe = make_pipeline(
        make_column_transformer(("passthrough", ["a"])),
        KNeighborsClassifier(n_neighbors=1),
    )
    scores = memorization_scores(
        pipe, frame, pd.Series(labels), n_rounds=2, random_state=0
    )
    assert scores[flipped].min() > 0.9


def test_memorization_class_missing_from_a_half():
    X, y, _ = _mislabelled()
    y = y.copy()
    y[5] = 2  # a class with a single row: it is absent from one half
    scores = memorization_scores(
        KNeighborsClassifier(n_neighbors=1), X, y, n_rounds=3, random_state=0
    )
    assert scores[5] == pytest.approx(1.0)


def test_memorization_works_with_skmat_estimators():
    # 20 noise dimensions let the network fit the flipped labels in-sample,
    # which it cannot predict when they are held out.
    X, y, flipped = _mislabelled(n_samples=40, n_noise=20)
    erm = ERMClassifier(max_epochs=10, lr=0.5, early_stopping=False, batch_size=None)
    a = memorization_scores(erm, X, y, n_rounds=1, random_state=0)
    b = memorization_scores(erm, X, y, n_rounds=1, random_state=0)
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    clean = np.setdiff1d(np.arange(len(y)), flipped)
    assert a[flipped].mean() - a[clean].mean() > 0.5


def test_memorization_verbose_with_and_without_tqdm(monkeypatch, capsys):
    X, y, _ = _mislabelled(n_samples=20)
    knn = KNeighborsClassifier(n_neighbors=1)
    expected = memorization_scores(knn, X, y, n_rounds=1, random_state=0)
    verbose = memorization_scores(knn, X, y, n_rounds=1, random_state=0, verbose=1)
    np.testing.assert_array_equal(expected, verbose)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    silent = memorization_scores(knn, X, y, n_rounds=1, random_state=0, verbose=1)
    np.testing.assert_array_equal(expected, silent)


def test_memorization_errors():
    X, y, _ = _mislabelled(n_samples=20)
    knn = KNeighborsClassifier(n_neighbors=1)
    with pytest.raises(TypeError, match="predict_proba"):
        memorization_scores(SVC(), X, y)
    with pytest.raises(TypeError, match="predict_proba"):
        memorization_scores(LinearSVC(), X, y)
    with pytest.raises(TypeError, match="no `fit`"):
        memorization_scores("knn", X, y)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        memorization_scores(knn, X_nan, y)
    y_nan = y.astype(float)
    y_nan[2] = np.nan
    with pytest.raises(ValueError, match="missing labels"):
        memorization_scores(knn, X, y_nan)
    with pytest.raises(ValueError, match="same number of samples"):
        memorization_scores(knn, X, y[:-1])
    with pytest.raises(ValueError, match="1d"):
        memorization_scores(knn, X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="at least 2 classes"):
        memorization_scores(knn, X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="n_rounds"):
        memorization_scores(knn, X, y, n_rounds=0)
    with pytest.raises(ValueError, match="Unknown label type"):
        memorization_scores(knn, X, np.linspace(0, 1, len(y)))


def test_memorization_accepts_nan_when_the_estimator_does():
    X, y, _ = _mislabelled(n_samples=30)
    X = X.copy()
    X[4, 0] = np.nan
    hgb = HistGradientBoostingClassifier(max_iter=3, min_samples_leaf=2)
    assert memorization_scores(hgb, X, y, n_rounds=1, random_state=0).shape == (30,)
    pipe = make_pipeline(SimpleImputer(), KNeighborsClassifier(n_neighbors=1))
    assert np.isfinite(
        memorization_scores(pipe, X, y, n_rounds=1, random_state=0)
    ).all()


# --------------------------------------------------------------------------
# group_report
# --------------------------------------------------------------------------
def test_group_report_values():
    X, y, flipped = _mislabelled()
    groups = np.where(np.isin(np.arange(len(y)), flipped), "noisy", "clean")
    clf = LogisticRegression().fit(X, y)
    memorization = np.linspace(0, 1, len(y))
    report = group_report(clf, X, y, group_labels=groups, memorization=memorization)
    assert list(report.index) == ["clean", "noisy"]
    assert report.loc["noisy", "count"] == 3
    assert report.loc["clean", "count"] == len(y) - 3
    pred = clf.predict(X)
    proba = clf.predict_proba(X)[np.arange(len(y)), y]
    for name in ("clean", "noisy"):
        rows = groups == name
        assert report.loc[name, "accuracy"] == pytest.approx(
            np.mean(pred[rows] == y[rows])
        )
        assert report.loc[name, "mean_true_proba"] == pytest.approx(proba[rows].mean())
        assert report.loc[name, "mean_memorization"] == pytest.approx(
            memorization[rows].mean()
        )
    assert report.loc["noisy", "accuracy"] == 0.0  # the flipped rows
    assert bool(report.loc["noisy", "is_worst"])
    assert list(report.columns[-2:]) == ["mean_memorization", "is_worst"]

    without = group_report(clf, X, y, group_labels=groups)
    assert "mean_memorization" not in without.columns
    # An estimator without predict_proba: no probability columns.
    svc = LinearSVC().fit(X, y)
    report = group_report(svc, X, y, group_labels=groups)
    assert "mean_true_proba" not in report.columns
    assert "accuracy" in report.columns


def test_group_report_errors():
    X, y, _ = _mislabelled(n_samples=20)
    groups = y.copy()
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(NotFittedError):
        group_report(LogisticRegression(), X, y, group_labels=groups)
    with pytest.raises(ValueError, match="one score per sample"):
        group_report(clf, X, y, group_labels=groups, memorization=np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        group_report(
            clf, X, y, group_labels=groups, memorization=np.full(len(y), np.nan)
        )
    with pytest.raises(ValueError, match="same number of samples"):
        group_report(clf, X, y[:-1], group_labels=groups[:-1])
    with pytest.raises(ValueError, match="missing group labels"):
        group_report(clf, X, y, group_labels=[None] * len(y))


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------
def test_plot_group_accuracy(pyplot, tmp_path):
    data = make_spurious_memorization(n_samples=200, n_features=20, random_state=0)
    X, y, g = data.X_test, data.y_test, data.group_labels_test
    models = [
        LogisticRegression().fit(data.X_train, data.y_train),
        LogisticRegression(C=1e-3).fit(data.X_train, data.y_train),
        KNeighborsClassifier().fit(data.X_train, data.y_train),
    ]
    ax = plot_group_accuracy(models, X, y, group_labels=g, group_names=data.group_names)
    _save(ax, tmp_path, "group_accuracy")
    assert len(ax.patches) == 4 * 3
    heights = [p.get_height() for p in ax.patches[:4]]
    expected = [np.mean(models[0].predict(X)[g == k] == y[g == k]) for k in range(4)]
    np.testing.assert_allclose(heights, expected)
    assert ax.get_ylabel() == "Accuracy" and ax.get_xlabel() == "Group"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(
        data.group_names.values()
    )
    legend = _legend_texts(ax)
    assert legend[0].startswith("LogisticRegression (worst group")
    assert legend[1].startswith("LogisticRegression #2")
    assert legend[2].startswith("KNeighborsClassifier")

    _, ax2 = pyplot.subplots()
    out = plot_group_accuracy({"a": models[0]}, X, y, group_labels=g, ax=ax2)
    assert out is ax2 and len(ax2.patches) == 4
    assert _legend_texts(ax2)[0].startswith("a (worst group")
    with pytest.raises(ValueError, match="names has 1 entries"):
        plot_group_accuracy(models, X, y, group_labels=g, names=["x"])
    with pytest.raises(NotFittedError):
        plot_group_accuracy(LogisticRegression(), X, y, group_labels=g)


def test_plot_memorization(pyplot, tmp_path):
    rng = np.random.RandomState(0)
    groups = np.repeat([0, 1, 2], [50, 10, 5])
    scores = np.concatenate([rng.uniform(-0.1, 0.1, 50), rng.uniform(0.6, 1, 15)])
    ax = plot_memorization(
        scores, group_labels=groups, group_names={0: "majority", 1: "minority"}
    )
    _save(ax, tmp_path, "memorization_hist")
    assert len(ax.patches) == 3  # one filled histogram per group
    assert ax.get_xlabel() == "Memorization score"
    assert ax.get_ylabel() == "Density"
    legend = _legend_texts(ax)
    assert legend[0] == f"majority (n=50, mean {scores[:50].mean():.2f})"
    assert legend[1].startswith("minority (n=10")
    assert legend[2].startswith("2 (n=5")

    _, ax2 = pyplot.subplots()
    ax2 = plot_memorization(
        scores,
        group_labels=groups,
        kind="box",
        ax=ax2,
        group_names=["maj", "min1", "min2"],
    )
    _save(ax2, tmp_path, "memorization_box")
    assert [t.get_text() for t in ax2.get_xticklabels()] == ["maj", "min1", "min2"]
    assert ax2.get_ylabel() == "Memorization score"
    assert len(ax2.lines) >= 3 * 5  # whiskers, caps and medians of 3 boxes

    with pytest.raises(ValueError, match="same length"):
        plot_memorization(scores[:-1], group_labels=groups)
    with pytest.raises(ValueError, match="kind"):
        plot_memorization(scores, group_labels=groups, kind="violin")
    with pytest.raises(ValueError, match="NaN"):
        plot_memorization(np.full(65, np.nan), group_labels=groups)
    with pytest.raises(ValueError, match="group_names has 2 entries"):
        plot_memorization(scores, group_labels=groups, group_names=["a", "b"])


def test_plot_decision_boundary(pyplot, tmp_path):
    data = make_spurious_memorization(n_samples=200, n_features=10, random_state=0)
    X, y, g = data.X_train, data.y_train, data.group_labels_train
    clf = LogisticRegression().fit(X, y)
    ax = plot_decision_boundary(
        clf,
        X,
        y,
        group_labels=g,
        feature_names=data.feature_names,
        group_names=data.group_names,
        grid_resolution=30,
    )
    _save(ax, tmp_path, "decision_boundary")
    assert ax.get_xlabel() == "core" and ax.get_ylabel() == "spurious"
    assert _legend_texts(ax) == list(data.group_names.values())
    assert ax.get_legend().get_title().get_text() == "Group"
    # contourf + boundary line + one scatter per group
    scatters = [
        c
        for c in ax.collections
        if hasattr(c, "get_offsets")
        and len(c.get_offsets())
        and c.get_label() in data.group_names.values()
    ]
    assert len(scatters) == 4
    assert sum(len(c.get_offsets()) for c in scatters) == len(y)
    assert len(_boundary_vertices(ax)) > 0

    # The grid holds the other features at 0 and the boundary line sits
    # where predict changes: at core = 0 for a core-only classifier.
    spy = _CoreSign().fit(X, y)
    _, ax_spy = pyplot.subplots()
    plot_decision_boundary(spy, X, y, grid_resolution=41, ax=ax_spy)
    assert spy.others_ == 0.0 and spy.n_predicted_ == 41 * 41
    boundary = _boundary_vertices(ax_spy)
    step = np.ptp(X[:, 0]) * 1.1 / 40
    assert np.abs(boundary[:, 0]).max() <= step
    assert np.ptp(boundary[:, 1]) > 0.9 * np.ptp(X[:, 1])

    # DataFrame columns name the axes; no groups: coloured by class.
    frame = pd.DataFrame(X[:, :3], columns=["core", "spurious", "noise"])
    clf3 = LogisticRegression().fit(frame, y)
    _, ax2 = pyplot.subplots()
    ax2 = plot_decision_boundary(
        clf3,
        frame,
        y,
        features=("spurious", "core"),
        grid_resolution=20,
        ax=ax2,
        fill_value="mean",
    )
    _save(ax2, tmp_path, "decision_boundary_frame")
    assert ax2.get_xlabel() == "spurious" and ax2.get_ylabel() == "core"
    assert _legend_texts(ax2) == ["0", "1"]
    assert ax2.get_legend().get_title().get_text() == "Class"

    with pytest.raises(ValueError, match="exactly two"):
        plot_decision_boundary(clf, X, y, features=(0,))
    with pytest.raises(ValueError, match="out of range"):
        plot_decision_boundary(clf, X, y, features=(0, 99))
    with pytest.raises(ValueError, match="fill_value"):
        plot_decision_boundary(clf, X, y, fill_value="median")
    with pytest.raises(ValueError, match="entries for"):
        plot_decision_boundary(clf, X, y, group_labels=g[:-1])


@pytest.mark.filterwarnings("ignore::skmat.exceptions.DegenerateEnvironmentWarning")
def test_plot_training_curves(pyplot, tmp_path):
    X, y, _ = _mislabelled(n_samples=60)
    erm = ERMClassifier(max_epochs=8, n_iter_no_change=2, random_state=0).fit(X, y)
    ax = plot_training_curves(erm)
    _save(ax, tmp_path, "training_curves")
    labels = [line.get_label() for line in ax.get_lines()]
    # A dashed line marks the epoch early stopping kept.
    assert labels == ["train_loss", "valid_loss", "valid_score", "valid_acc",
                      f"best epoch ({erm.best_epoch_})"]
    np.testing.assert_array_equal(
        ax.get_lines()[0].get_xdata(), np.arange(1, erm.n_epochs_ + 1)
    )
    np.testing.assert_allclose(
        ax.get_lines()[2].get_ydata(), erm.net_.history[:, "valid_score"]
    )
    assert ax.get_lines()[4].get_linestyle() == "--"
    assert ax.get_xlabel() == "Epoch"
    assert _legend_texts(ax) == labels

    xrm = XRMEstimator(max_epochs=4, random_state=0).fit(X, y)
    _, ax2 = pyplot.subplots()
    ax2 = plot_training_curves(xrm, keys=["flip_rate"], ax=ax2)
    _save(ax2, tmp_path, "training_curves_xrm")
    assert [line.get_label() for line in ax2.get_lines()] == ["flip_rate"]
    np.testing.assert_allclose(
        ax2.get_lines()[0].get_ydata(), xrm.history_[:, "flip_rate"]
    )
    assert _legend_texts(plot_training_curves(xrm)) == [
        "train_loss", "flip_rate", "max_class_flip_rate"
    ]

    with pytest.raises(ValueError, match="Unknown history keys"):
        plot_training_curves(xrm, keys=["valid_score"])
    with pytest.raises(ValueError, match="no training history"):
        plot_training_curves(LogisticRegression())


def test_plots_need_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skmat\[plot\]"):
        plot_memorization([0.0, 1.0], group_labels=[0, 1])


def test_inspection_imports_without_matplotlib():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import skmat.inspection as m\n"
        "assert sorted(m.__all__) == m.__all__\n"
        "print(len(m.__all__))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "6"
