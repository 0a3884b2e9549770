import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, recall_score

from skmat.metrics import (
    group_accuracy_report,
    worst_class_accuracy,
    worst_group_accuracy,
)

# Three groups with known accuracies: a 3/4, b 1/2, c 1/1.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 0])
Y_PRED = np.array([0, 0, 0, 1, 1, 0, 1, 0])
GROUPS = np.array(["a", "a", "a", "a", "b", "b", "c", "c"])


def test_worst_group_accuracy_hand_computed():
    assert worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=GROUPS) == 0.5
    # accuracies 1.0, 2/3 and 1/4
    y_true = [1, 1, 0, 0, 0, 1, 1, 1, 1]
    y_pred = [1, 1, 0, 1, 0, 1, 0, 0, 0]
    groups = [0, 0, 1, 1, 1, 2, 2, 2, 2]
    assert worst_group_accuracy(y_true, y_pred, group_labels=groups) == 0.25


def test_worst_group_accuracy_perfect_and_returns_float():
    score = worst_group_accuracy([1, 0], [1, 0], group_labels=[5, 7])
    assert score == 1.0
    assert type(score) is float


@pytest.mark.parametrize(
    "groups",
    [
        ["x", "x", "x", "x", "y", "y", "z", "z"],
        [("w", 0)] * 4 + [("w", 1)] * 2 + [("l", 0)] * 2,
        [1, 1, 1, 1, "y", "y", 2.5, 2.5],
        pd.Categorical(["x", "x", "x", "x", "y", "y", "z", "z"]),
        pd.Series(list("xxxxyyzz"), index=np.arange(8)[::-1]),
        np.array(list("xxxxyyzz"), dtype=object).reshape(-1, 1),
    ],
    ids=["str", "tuple", "mixed", "categorical", "series", "column"],
)
def test_worst_group_accuracy_any_hashable_labels(groups):
    assert worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=groups) == 0.5


def test_string_class_labels():
    y_true = ["cat", "cat", "dog", "dog"]
    y_pred = ["cat", "dog", "dog", "dog"]
    assert worst_group_accuracy(y_true, y_pred, group_labels=[0, 0, 1, 1]) == 0.5
    assert worst_class_accuracy(y_true, y_pred) == 0.5


def test_worst_class_accuracy_hand_computed():
    # recall of class 0 is 1/2, of class 1 is 1; class 2 is only predicted
    y_true = [0, 0, 1, 1]
    y_pred = [0, 2, 1, 1]
    assert worst_class_accuracy(y_true, y_pred) == 0.5
    expected = recall_score(y_true, y_pred, labels=[0, 1], average=None).min()
    assert worst_class_accuracy(y_true, y_pred) == expected


def test_worst_class_accuracy_is_wga_with_class_groups():
    rng = np.random.RandomState(0)
    y_true = rng.randint(3, size=50)
    y_pred = rng.randint(3, size=50)
    assert worst_class_accuracy(y_true, y_pred) == worst_group_accuracy(
        y_true, y_pred, group_labels=y_true
    )


def test_inputs_not_modified():
    y_true, y_pred = Y_TRUE.copy(), Y_PRED.copy()
    groups = pd.Series(GROUPS)
    proba = np.full((8, 2), 0.5)
    group_accuracy_report(y_true, y_pred, group_labels=groups, y_proba=proba)
    worst_group_accuracy(y_true, y_pred, group_labels=groups)
    np.testing.assert_array_equal(y_true, Y_TRUE)
    np.testing.assert_array_equal(y_pred, Y_PRED)
    pd.testing.assert_series_equal(groups, pd.Series(GROUPS))
    np.testing.assert_array_equal(proba, np.full((8, 2), 0.5))


def test_mismatched_lengths_name_the_arrays():
    msg = r"y_true, y_pred and group_labels .* y_true has 8, y_pred has 8, group"
    with pytest.raises(ValueError, match=msg):
        worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=GROUPS[:5])
    with pytest.raises(ValueError, match="y_true has 8, y_pred has 7"):
        worst_class_accuracy(Y_TRUE, Y_PRED[:7])
    with pytest.raises(ValueError, match="group_labels has 3"):
        group_accuracy_report(Y_TRUE, Y_PRED, group_labels=GROUPS[:3])


@pytest.mark.parametrize("missing", [np.nan, None, pd.NA])
def test_missing_group_labels(missing):
    groups = list(GROUPS)
    groups[2] = missing
    with pytest.raises(ValueError, match="missing group labels"):
        worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=groups)
    with pytest.raises(ValueError, match="missing group labels"):
        group_accuracy_report(Y_TRUE, Y_PRED, group_labels=groups)


def test_missing_group_labels_float_array():
    groups = np.array([0.0, 1.0, np.nan, 1.0, 0.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="missing group labels"):
        worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=groups)


def test_empty_input():
    with pytest.raises(ValueError, match="Empty input"):
        worst_group_accuracy([], [], group_labels=[])
    with pytest.raises(ValueError, match="Empty input"):
        worst_class_accuracy([], [])
    with pytest.raises(ValueError, match="Empty input"):
        group_accuracy_report([], [], group_labels=[])


def test_group_labels_required():
    with pytest.raises(ValueError, match="group_labels is required"):
        worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=None)


def test_not_1d():
    with pytest.raises(ValueError, match="y_true should be a 1d array"):
        worst_class_accuracy(np.zeros((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="y_pred should be a 1d array"):
        worst_class_accuracy(np.zeros(4), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="group_labels should be a 1d array"):
        worst_group_accuracy(Y_TRUE, Y_PRED, group_labels=np.zeros((8, 2)))


def test_mixed_label_types():
    with pytest.raises(ValueError, match="one type"):
        worst_class_accuracy([0, 1], ["a", "b"])


def test_unhashable_group_labels():
    with pytest.raises(ValueError, match="hashable"):
        worst_group_accuracy([0, 1], [0, 1], group_labels=[[0], [1]])


def test_report_columns_and_values():
    report = group_accuracy_report(Y_TRUE, Y_PRED, group_labels=GROUPS)
    assert list(report.columns) == [
        "count",
        "proportion",
        "accuracy",
        "n_errors",
        "majority_label",
        "is_worst",
    ]
    assert report.index.name == "group"
    assert list(report.index) == ["a", "b", "c"]
    assert report["count"].tolist() == [4, 2, 2]
    np.testing.assert_allclose(report["proportion"], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(report["accuracy"], [0.75, 0.5, 1.0])
    assert report["n_errors"].tolist() == [1, 1, 0]
    assert report["majority_label"].tolist() == [0, 1, 0]  # c: tie -> smaller
    assert report["is_worst"].tolist() == [False, True, False]
    assert report["is_worst"].dtype == bool
    assert report["count"].dtype == np.int64
    assert report["accuracy"].min() == worst_group_accuracy(
        Y_TRUE, Y_PRED, group_labels=GROUPS
    )


def test_report_sorted_index_and_ties():
    y_true = [0, 0, 1, 1, 1, 1]
    y_pred = [0, 1, 1, 0, 1, 1]
    report = group_accuracy_report(y_true, y_pred, group_labels=[3, 3, 1, 1, 2, 2])
    assert list(report.index) == [1, 2, 3]
    assert report["is_worst"].tolist() == [True, False, True]


def test_report_with_probabilities():
    y_proba = np.array(
        [
            [0.9, 0.1],
            [0.8, 0.2],
            [0.6, 0.4],
            [0.3, 0.7],
            [0.2, 0.8],
            [0.7, 0.3],
            [0.0, 1.0],
            [1.0, 0.0],
        ]
    )
    report = group_accuracy_report(Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=y_proba)
    assert list(report.columns) == [
        "count",
        "proportion",
        "accuracy",
        "n_errors",
        "majority_label",
        "mean_true_proba",
        "log_loss",
        "is_worst",
    ]
    np.testing.assert_allclose(
        report["mean_true_proba"],
        [(0.9 + 0.8 + 0.6 + 0.3) / 4, (0.8 + 0.3) / 2, 1.0],
    )
    for group in ["a", "b", "c"]:
        mask = GROUPS == group
        expected = log_loss(Y_TRUE[mask], y_proba[mask], labels=[0, 1])
        np.testing.assert_allclose(report.loc[group, "log_loss"], expected)


def test_report_classes_order():
    y_true = ["b", "a", "b"]
    y_pred = ["b", "a", "a"]
    # columns ordered as classes, with a class that neither array holds
    y_proba = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0], [0.2, 0.6, 0.2]])
    report = group_accuracy_report(
        y_true,
        y_pred,
        group_labels=[0, 0, 0],
        y_proba=y_proba,
        classes=["c", "a", "b"],
    )
    np.testing.assert_allclose(report["mean_true_proba"], [(0.7 + 0.5 + 0.2) / 3])
    assert report["majority_label"].tolist() == ["b"]


def test_report_probability_errors():
    proba = np.full((8, 2), 0.5)
    with pytest.raises(ValueError, match="y_proba has 3 columns"):
        group_accuracy_report(
            Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=np.full((8, 3), 1 / 3)
        )
    with pytest.raises(ValueError, match="y_proba has 5 rows"):
        group_accuracy_report(Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=proba[:5])
    with pytest.raises(ValueError, match="sum to one"):
        group_accuracy_report(
            Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=np.full((8, 2), 0.3)
        )
    with pytest.raises(ValueError, match="not among the classes"):
        group_accuracy_report(
            Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=proba, classes=[1, 2]
        )
    with pytest.raises(ValueError, match="must not repeat"):
        group_accuracy_report(
            Y_TRUE, Y_PRED, group_labels=GROUPS, y_proba=proba, classes=[1, 1]
        )
