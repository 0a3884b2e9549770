"""The baselines: balanced ERM, GroupDRO, JTT, DFR and AFR."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skmat import XRMEstimator
from skmat.baselines import (
    AFRClassifier,
    DFRClassifier,
    ERMClassifier,
    GroupDROClassifier,
    JTTClassifier,
)
from skmat.datasets import make_colored_digits, make_spurious_memorization
from skmat.metrics import worst_class_accuracy, worst_group_accuracy

FAST = dict(max_epochs=30, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_spurious_memorization(n_samples=400, n_features=50, random_state=0)


@pytest.fixture(scope="module")
def wide():
    # Enough noise dimensions for ERM (and a logistic regression) to memorize
    # the minority with, whatever the training defaults.
    return make_spurious_memorization(n_samples=400, n_features=600, random_state=0)


def _val(data, groups=True):
    kwargs = {"X_val": data.X_valid, "y_val": data.y_valid}
    if groups:
        kwargs["group_labels_val"] = data.group_labels_valid
    return kwargs


def _wga(clf, data):
    pred = clf.predict(data.X_test)
    return worst_group_accuracy(data.y_test, pred, group_labels=data.group_labels_test)


# --------------------------------------------------------------------------
# GroupDRO
# --------------------------------------------------------------------------
def test_groupdro_needs_group_labels(data):
    clf = GroupDROClassifier(**FAST)
    with pytest.raises(
        ValueError, match="GroupDROClassifier needs group_labels at fit"
    ):
        clf.fit(data.X_train, data.y_train)


def test_groupdro_rejects_unknown_group_source(data):
    clf = GroupDROClassifier(group_source="oracle", **FAST)
    with pytest.raises(InvalidParameterError, match="group_source"):
        clf.fit(data.X_train, data.y_train, group_labels=data.group_labels_train)


def test_groupdro_beats_erm_on_worst_group(wide):
    data = wide
    erm = ERMClassifier(**FAST).fit(data.X_train, data.y_train, **_val(data))
    dro = GroupDROClassifier(**FAST).fit(
        data.X_train,
        data.y_train,
        group_labels=data.group_labels_train,
        **_val(data),
    )
    assert _wga(dro, data) >= _wga(erm, data) + 0.1
    assert dro.validation_groups_source_ == "group_labels"
    np.testing.assert_array_equal(dro.groups_, [0, 1, 2, 3])
    assert dro.group_weights_.shape == (4,)
    assert dro.group_weights_.sum() == pytest.approx(1.0, abs=1e-5)


def test_groupdro_is_reproducible(data):
    kwargs = dict(group_labels=data.group_labels_train, **_val(data))
    a = GroupDROClassifier(**FAST).fit(data.X_train, data.y_train, **kwargs)
    b = clone(a).fit(data.X_train, data.y_train, **kwargs)
    np.testing.assert_allclose(
        a.predict_proba(data.X_test), b.predict_proba(data.X_test)
    )


def test_groupdro_string_groups_and_internal_split(data):
    names = np.array(["a", "b", "c", "d"])[data.group_labels_train]
    clf = GroupDROClassifier(**FAST).fit(data.X_train, data.y_train, group_labels=names)
    np.testing.assert_array_equal(clf.groups_, ["a", "b", "c", "d"])
    # 20% of the rows are held out, stratified on class and group.
    assert len(clf.train_group_labels_) == 320
    assert clf.validation_groups_source_ == "group_labels"


def test_groupdro_net_upweights_the_high_loss_group():
    """One step of the online update: q_g is proportional to exp(eta L_g)."""
    from skmat._torch import GroupDRONet

    net = GroupDRONet(
        torch.nn.Linear,
        module__in_features=2,
        module__out_features=2,
        criterion=torch.nn.CrossEntropyLoss,
        n_groups=3,
        eta=0.5,
    ).initialize()
    y_pred = torch.tensor([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])
    y_true = torch.tensor([0, 0, 0, 1])  # row 2 (group 1) is badly wrong
    group = torch.tensor([0, 0, 1, 2])
    X = {"X": torch.zeros(4, 2), "group": group}
    loss = net.get_loss(y_pred, y_true, X=X, training=True)

    ce = torch.nn.functional.cross_entropy(y_pred, y_true, reduction="none")
    losses = torch.stack([ce[:2].mean(), ce[2], ce[3]])
    expected_q = torch.softmax(0.5 * losses, dim=0)
    torch.testing.assert_close(net.q_, expected_q)
    assert int(net.q_.argmax()) == 1
    torch.testing.assert_close(loss, (expected_q * losses).sum())
    # Not in training, the loss is the plain mean and q does not move.
    q = net.q_.clone()
    net.get_loss(y_pred, y_true, X=X, training=False)
    torch.testing.assert_close(net.q_, q)


def test_groupdro_xrm_groups(data):
    clf = GroupDROClassifier(group_source="xrm", **FAST)
    clf.fit(data.X_train, data.y_train, **_val(data, groups=False))
    assert clf.xrm_ is not None
    np.testing.assert_array_equal(clf.train_group_labels_, clf.xrm_.group_labels_)
    np.testing.assert_array_equal(clf.groups_, [0, 1, 2, 3])
    assert clf.validation_groups_source_ == "inferred"
    # With true validation groups, those score the validation rows.
    clf.fit(data.X_train, data.y_train, **_val(data))
    assert clf.validation_groups_source_ == "group_labels"


def test_groupdro_given_ignores_xrm(data):
    clf = GroupDROClassifier(**FAST).fit(
        data.X_train,
        data.y_train,
        group_labels=data.group_labels_train,
        **_val(data, groups=False),
    )
    assert clf.xrm_ is None
    assert clf.validation_groups_source_ == "class"


# --------------------------------------------------------------------------
# JTT
# --------------------------------------------------------------------------
def test_jtt_upweights_exactly_the_erm_errors(data):
    clf = JTTClassifier(id_epochs=2, upweight=7.0, **FAST)
    clf.fit(data.X_train, data.y_train, **_val(data))
    errors = clf.id_estimator_.predict(data.X_train) != data.y_train
    assert errors.any() and not errors.all()
    np.testing.assert_array_equal(clf.error_mask_, errors)
    np.testing.assert_array_equal(clf.sample_weight_, np.where(errors, 7.0, 1.0))
    assert clf.id_estimator_.n_epochs_ == 2
    assert clf.id_estimator_.early_stopping is False


def test_jtt_identification_sees_training_rows_only(data):
    clf = JTTClassifier(id_epochs=2, **FAST).fit(data.X_train, data.y_train)
    assert clf.error_mask_.shape == (320,)
    assert clf.id_estimator_.n_features_in_ == data.X_train.shape[1]


def test_jtt_with_unit_weight_is_erm(data):
    """upweight=1 gives ERM: the same seeds, the same data, all weights 1."""
    jtt = JTTClassifier(upweight=1.0, **FAST).fit(
        data.X_train, data.y_train, **_val(data)
    )
    erm = ERMClassifier(**FAST).fit(data.X_train, data.y_train, **_val(data))
    np.testing.assert_allclose(
        jtt.predict_proba(data.X_test), erm.predict_proba(data.X_test), atol=1e-5
    )


def test_jtt_weight_changes_the_model(wide):
    data = wide
    jtt = JTTClassifier(id_epochs=1, **FAST)
    jtt.fit(data.X_train, data.y_train, **_val(data))
    erm = ERMClassifier(**FAST).fit(data.X_train, data.y_train, **_val(data))
    assert _wga(jtt, data) > _wga(erm, data)


def test_jtt_string_labels(data):
    y = np.array(["neg", "pos"])[data.y_train]
    clf = JTTClassifier(id_epochs=2, max_epochs=5, early_stopping=False, random_state=0)
    clf.fit(data.X_train, y)
    errors = clf.id_estimator_.predict(data.X_train) != y
    np.testing.assert_array_equal(clf.error_mask_, errors)
    assert set(clf.predict(data.X_test)) <= {"neg", "pos"}


@pytest.mark.parametrize("params", [{"upweight": 0}, {"id_epochs": 0}])
def test_jtt_validates_params(data, params):
    with pytest.raises(InvalidParameterError):
        JTTClassifier(**params).fit(data.X_train, data.y_train)


def test_baselines_request_group_labels():
    for cls in (GroupDROClassifier, JTTClassifier, ERMClassifier):
        request = cls().get_metadata_routing().fit.requests
        assert request["group_labels"] is True


# --------------------------------------------------------------------------
# ERM with class or group balancing (Idrissi et al., 2022)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def imbalanced():
    centers = [[0.0, 0.0], [1.5, 1.5]]
    X, y = make_blobs(n_samples=[900, 100], centers=centers, random_state=0)
    X_test, y_test = make_blobs(n_samples=[500, 500], centers=centers, random_state=1)
    return X, y, X_test, y_test


@pytest.mark.parametrize("balance", ["reweight_class", "subsample_class"])
def test_erm_class_balance_raises_worst_class_accuracy(imbalanced, balance):
    X, y, X_test, y_test = imbalanced
    params = dict(
        max_epochs=20, batch_size=32, early_stopping=False, random_state=0
    )
    plain = ERMClassifier(**params).fit(X, y)
    balanced = ERMClassifier(balance=balance, **params).fit(X, y)
    plain_wca = worst_class_accuracy(y_test, plain.predict(X_test))
    balanced_wca = worst_class_accuracy(y_test, balanced.predict(X_test))
    # Plain ERM sacrifices the 10% class: about 0.55 against 0.85.
    assert balanced_wca >= plain_wca + 0.15


def test_erm_reweight_class_weights(imbalanced):
    X, y, _, _ = imbalanced
    clf = ERMClassifier(
        balance="reweight_class", max_epochs=1, early_stopping=False, random_state=0
    ).fit(X, y)
    expected = np.where(y == 0, 1000 / (2 * 900), 1000 / (2 * 100))
    np.testing.assert_allclose(clf.sample_weight_, expected)
    plain = ERMClassifier(max_epochs=1, early_stopping=False).fit(X, y)
    np.testing.assert_array_equal(plain.sample_weight_, np.ones(len(y)))


def test_erm_reweight_group_weights(data):
    g = data.group_labels_train
    clf = ERMClassifier(balance="reweight_group", max_epochs=1, random_state=0)
    clf.fit(data.X_train, data.y_train, group_labels=g, **_val(data))
    counts = np.bincount(g)
    np.testing.assert_allclose(clf.sample_weight_, len(g) / (4 * counts[g]))
    # Every group weighs the same in total.
    totals = np.bincount(g, weights=clf.sample_weight_)
    np.testing.assert_allclose(totals, totals[0])


def test_erm_subsample_group_keeps_the_smallest_group_size(data):
    g = data.group_labels_train
    clf = ERMClassifier(balance="subsample_group", max_epochs=1, random_state=0)
    clf.fit(data.X_train, data.y_train, group_labels=g, **_val(data))
    assert len(clf.sample_weight_) == 4 * np.bincount(g).min()
    # With the internal validation split, the training part is subsampled
    # to equal groups too, and the same seed drops the same rows.
    a = ERMClassifier(balance="subsample_group", max_epochs=2, random_state=0)
    a.fit(data.X_train, data.y_train, group_labels=g)
    assert len(a.sample_weight_) % 4 == 0
    assert len(a.sample_weight_) < 4 * np.bincount(g).min()
    b = clone(a).fit(data.X_train, data.y_train, group_labels=g)
    np.testing.assert_allclose(
        a.predict_proba(data.X_test), b.predict_proba(data.X_test), atol=1e-6
    )


@pytest.mark.parametrize("balance", ["reweight_group", "subsample_group"])
def test_erm_group_balance_needs_group_labels(data, balance):
    with pytest.raises(ValueError, match="needs group_labels"):
        ERMClassifier(balance=balance).fit(data.X_train, data.y_train)


def test_erm_rejects_unknown_balance(data):
    with pytest.raises(InvalidParameterError, match="balance"):
        ERMClassifier(balance="oversample").fit(data.X_train, data.y_train)


def test_erm_on_imbalanced_classes_does_not_keep_a_barely_trained_epoch():
    # Five classes, the rarest 5% of the rows: the plain network never
    # predicts it once trained, the worst class is 0 at every such epoch,
    # and the first epoch, which predicts it a few times by chance, was
    # kept (best_epoch_ 1, test accuracy 0.447 against 0.727 for logistic
    # regression). An epoch much less balanced than a later one is out.
    X, y = make_classification(3000, n_features=20, n_informative=8, n_classes=5,
                               weights=[0.5, 0.2, 0.15, 0.1, 0.05], random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=1, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    erm = ERMClassifier(random_state=1).fit(X_train, y_train)
    logistic = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    assert erm.best_epoch_ > 1
    assert erm.score(X_test, y_test) >= logistic.score(X_test, y_test) - 0.02


# --------------------------------------------------------------------------
# DFR
# --------------------------------------------------------------------------
def test_dfr_with_true_groups_beats_logistic_regression(wide):
    d = wide
    lr = LogisticRegression().fit(d.X_train, d.y_train)
    dfr = DFRClassifier(random_state=0).fit(
        d.X_train, d.y_train, group_labels=d.group_labels_train
    )
    assert dfr.group_source_ == "given"
    assert _wga(dfr, d) >= _wga(lr, d) + 0.3


def test_dfr_held_out_rows_and_groups(wide):
    d = wide
    clf = DFRClassifier(random_state=0).fit(
        d.X_train, d.y_train, group_labels=d.group_labels_train
    )
    # Half of X is held out, stratified on class and group.
    assert len(clf.holdout_group_labels_) == len(d.y_train) // 2
    np.testing.assert_allclose(
        np.bincount(clf.holdout_group_labels_),
        np.bincount(d.group_labels_train) / 2,
        atol=1,
    )
    assert set(clf.tuning_scores_) == set(clf.Cs)
    assert clf.C_ == max(clf.tuning_scores_, key=clf.tuning_scores_.get)
    assert clf.coef_.shape == (1, d.X_train.shape[1])


def test_balanced_subsample_equalises_groups():
    from skmat.baselines._last_layer import balanced_subsample

    groups = np.repeat([0, 1, 2], [50, 7, 20])
    rows = balanced_subsample(groups, np.random.RandomState(0))
    np.testing.assert_array_equal(np.bincount(groups[rows]), [7, 7, 7])
    assert len(np.unique(rows)) == len(rows)


def test_dfr_group_sources(data):
    kwargs = dict(X_val=data.X_valid, y_val=data.y_valid)
    with pytest.raises(ValueError, match="group_source='given' needs"):
        DFRClassifier(group_source="given").fit(data.X_train, data.y_train, **kwargs)
    clf = DFRClassifier(group_source="class", Cs=[1.0], random_state=0)
    clf.fit(data.X_train, data.y_train, **kwargs)
    assert clf.group_source_ == "class" and clf.xrm_ is None
    assert clf.tuning_scores_ == {} and clf.C_ == 1.0
    np.testing.assert_array_equal(clf.holdout_group_labels_, data.y_valid)
    xrm = XRMEstimator(max_epochs=5)
    clf = DFRClassifier(xrm=xrm, random_state=0).fit(
        data.X_train, data.y_train, **kwargs
    )
    assert clf.group_source_ == "xrm"
    assert clf.xrm_.n_features_in_ == data.X_train.shape[1]
    assert set(np.unique(clf.holdout_group_labels_)) <= {0, 1, 2, 3}


def test_dfr_averages_subsamples(data):
    kwargs = dict(
        X_val=data.X_valid, y_val=data.y_valid, group_labels_val=data.group_labels_valid
    )
    one = DFRClassifier(Cs=[0.3], n_subsamples=1, random_state=0)
    many = DFRClassifier(Cs=[0.3], n_subsamples=5, random_state=0)
    one.fit(data.X_train, data.y_train, **kwargs)
    many.fit(data.X_train, data.y_train, **kwargs)
    assert not np.allclose(one.coef_, many.coef_)
    np.testing.assert_allclose(many.estimator_.coef_, many.coef_)


def test_last_layer_multiclass_string_labels():
    X, y = make_blobs(n_samples=300, centers=3, random_state=0)
    labels = np.array(["a", "b", "c"])[y]
    for clf in (
        DFRClassifier(group_source="class", random_state=0),
        AFRClassifier(random_state=0),
    ):
        clf.fit(X, labels)
        assert set(clf.predict(X)) <= {"a", "b", "c"}
        assert clf.predict_proba(X).shape == (300, 3)
        assert clf.score(X, labels) > 0.9


# --------------------------------------------------------------------------
# AFR
# --------------------------------------------------------------------------
def test_afr_weights_favour_low_confidence_rows():
    from skmat.baselines._afr import _afr_weights

    p = np.array([0.9, 0.5, 0.1, 0.95, 0.2])
    y = np.array([0, 0, 0, 1, 1])
    w = _afr_weights(p, y, gamma=4.0, n_classes=2)
    np.testing.assert_allclose([w[y == 0].sum(), w[y == 1].sum()], [0.5, 0.5])
    assert w[0] < w[1] < w[2] and w[3] < w[4]
    np.testing.assert_allclose(_afr_weights(p, y, 0.0, 2), [1 / 6] * 3 + [1 / 4] * 2)


def test_afr_strong_pull_stays_at_erm(data):
    clf = AFRClassifier(gammas=[4.0], lambdas=[1e6], random_state=0)
    clf.fit(data.X_train, data.y_train)
    Z = clf.scaler_.transform(data.X_test)
    np.testing.assert_allclose(
        clf.estimator_.decision_function(Z), clf.erm_.decision_function(Z), atol=1e-3
    )
    assert clf.validation_scores_ == {}  # one candidate: nothing held out


def test_afr_beats_its_erm_stage_on_colored_digits():
    d = make_colored_digits(random_state=0)
    clf = AFRClassifier(random_state=0).fit(
        d.X_train,
        d.y_train,
        X_val=d.X_valid,
        y_val=d.y_valid,
        group_labels_val=d.group_labels_valid,
    )
    assert clf.validation_groups_source_ == "group_labels"
    erm_pred = clf.classes_[clf.erm_.predict(clf.scaler_.transform(d.X_test))]
    erm_wga = worst_group_accuracy(
        d.y_test, erm_pred, group_labels=d.group_labels_test
    )
    assert _wga(clf, d) >= erm_wga + 0.1


def test_afr_validation_source(data):
    clf = AFRClassifier(gammas=[0.0, 4.0], lambdas=[1.0], random_state=0)
    clf.fit(data.X_train, data.y_train, group_labels=data.group_labels_train)
    assert clf.validation_groups_source_ == "group_labels"
    assert set(clf.validation_scores_) == {(0.0, 1.0), (4.0, 1.0)}
    clf.fit(data.X_train, data.y_train)
    assert clf.validation_groups_source_ == "class"


def test_last_layer_validate_params(data):
    with pytest.raises(ValueError, match="Cs must hold"):
        DFRClassifier(Cs=[0.0]).fit(data.X_train, data.y_train)
    with pytest.raises(ValueError, match="gammas must hold"):
        AFRClassifier(gammas=[-1.0]).fit(data.X_train, data.y_train)
    with pytest.raises(InvalidParameterError, match="group_source"):
        DFRClassifier(group_source="oracle").fit(data.X_train, data.y_train)


def test_last_layer_request_group_labels():
    for cls in (DFRClassifier, AFRClassifier):
        request = cls().get_metadata_routing().fit.requests
        assert request["group_labels"] is True


def test_erm_subsample_keeps_dataframe_columns(imbalanced):
    pd = pytest.importorskip("pandas")
    X, y, _, _ = imbalanced
    frame = pd.DataFrame(X, columns=["a", "b"])
    clf = ERMClassifier(balance="subsample_class", max_epochs=1, random_state=0)
    clf.fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, ["a", "b"])
    with pytest.raises(ValueError, match="Unknown label type"):
        clf.fit(frame, y + 0.5)
