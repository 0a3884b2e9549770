"""GroupDRO and JTT baselines."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skmat.baselines import ERMClassifier, GroupDROClassifier, JTTClassifier
from skmat.datasets import make_spurious_memorization
from skmat.metrics import worst_group_accuracy

FAST = dict(max_epochs=30, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_spurious_memorization(n_samples=400, n_features=50, random_state=0)


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


def test_groupdro_beats_erm_on_worst_group(data):
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


def test_jtt_weight_changes_the_model(data):
    jtt = JTTClassifier(**FAST).fit(data.X_train, data.y_train, **_val(data))
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
