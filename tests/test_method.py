"""The method itself, pinned to its formulas on hand-built cases.

XRM's label flipping and class-balanced loss (Pezeshki et al. 2024), MAT's
shift and its limits (Bayat et al. 2025), and early stopping that restores
the weights of the best epoch.
"""

import functools
import warnings

import numpy as np
import pytest
import torch
from scipy.special import log_softmax
from sklearn.datasets import make_classification
from torch import nn
from torch.nn import functional as F

from skmat import MATClassifier, XRMEstimator
from skmat._torch import XRMNet, build_net, class_balanced_cross_entropy, mat_shift
from skmat.baselines import ERMClassifier
from skmat.metrics import worst_group_accuracy


# --------------------------------------------------------------------------
# XRM: label flipping and the class-balanced loss
# --------------------------------------------------------------------------
class _FixedTwins(nn.Module):
    """Twins whose logits are read from the row: X = [twin 0 | twin 1].

    The twins' outputs are then fixed by the data, whatever the training
    does (``offset`` only gives the optimizer a parameter to step on).
    """

    def __init__(self, n_classes):
        super().__init__()
        self.n_classes = n_classes
        self.offset = nn.Parameter(torch.zeros(()))

    def forward(self, X):
        k = self.n_classes
        return torch.stack([X[:, :k], X[:, k:]]) + self.offset


def _fixed_twin_net(y, n_classes):
    net = build_net(
        XRMNet,
        functools.partial(_FixedTwins, n_classes),
        optimizer="sgd",
        lr=0.0,
        momentum=0.0,
        weight_decay=0.0,
        batch_size=None,
        max_epochs=1,
        device="cpu",
        n_classes=n_classes,
    )
    net.initialize()
    net.start_labels(torch.as_tensor(y))
    return net


def _ce_by_hand(logits, labels):
    return -log_softmax(logits, axis=1)[np.arange(len(labels)), labels]


def _class_balanced_by_hand(logits, labels, mask, n_classes):
    ce = _ce_by_hand(logits, labels)
    return sum(
        ce[mask & (labels == c)].mean()
        for c in range(n_classes)
        if np.any(mask & (labels == c))
    )


def test_class_balanced_cross_entropy_is_the_sum_of_per_class_means():
    logits = np.array(
        [[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 3.0, 0.0],
         [0.0, 0.0, 0.0], [1.0, -2.0, 4.0], [0.3, 0.2, 0.1]]
    )
    labels = np.array([0, 0, 1, 1, 1, 2])
    mask = np.array([True, True, True, False, True, False])
    got = class_balanced_cross_entropy(
        torch.as_tensor(logits), torch.as_tensor(labels), torch.as_tensor(mask), 3
    )
    ce = _ce_by_hand(logits, labels)
    # class 0: rows 0 and 1; class 1: rows 2 and 4 (row 3 is masked out);
    # class 2 has no unmasked row and adds nothing.
    expected = (ce[0] + ce[1]) / 2 + (ce[2] + ce[4]) / 2
    assert float(got) == pytest.approx(expected, rel=1e-12)
    # Not the plain mean over the unmasked rows, which weighs classes by size.
    assert expected != pytest.approx(ce[mask].mean())


def test_xrm_flips_labels_to_the_heldout_twins_guess_at_the_stated_rate():
    """P(flip) = (p_max - 1/K) K / (K - 1) from the *held-out* twin only."""
    k, n_per_kind, n_steps = 3, 100, 40
    rng = np.random.RandomState(0)
    kinds = np.repeat([0, 1, 2], n_per_kind)  # held-out p_max: 1/3, 0.6, ~1
    n = len(kinds)
    y = rng.randint(k, size=n)
    twin = rng.randint(2, size=n)
    guess = np.where(kinds == 2, (y + 2) % k, (y + 1) % k)
    heldout = np.zeros((n, k))
    # softmax([log 3, 0, 0]) has p_max = 3 / 5 = 0.6; a margin of 50 is ~1.
    heldout[np.arange(n), guess] = np.select([kinds == 1, kinds == 2], [np.log(3), 50])
    # The held-in twin is sure of yet another class: were its softmax used,
    # every row would flip, and to the wrong class.
    heldin = np.zeros((n, k))
    heldin[np.arange(n), (guess + 1) % k] = 50.0
    logits = np.zeros((2, n, k))
    rows = np.arange(n)
    logits[1 - twin, rows] = heldout
    logits[twin, rows] = heldin
    X = np.concatenate([logits[0], logits[1]], axis=1)

    net = _fixed_twin_net(y, k)
    order = rng.permutation(n)  # a batch in shuffled order: rows by `index`
    batch = (
        {
            "X": torch.as_tensor(X[order], dtype=torch.float32),
            "index": torch.as_tensor(order),
            "twin": torch.as_tensor(twin[order]),
        },
        torch.as_tensor(y[order]),
    )
    expected_p = np.array([0.0, (0.6 - 1 / k) * k / (k - 1), 1.0])
    flips = np.zeros(n)
    torch.manual_seed(0)
    for _ in range(n_steps):
        net.labels_ = torch.as_tensor(y).clone()  # each step from the true labels
        step = net.train_step_single(batch)
        labels = net.labels_.numpy()
        flipped = labels != y
        # A flipped label is the held-out twin's argmax, never another class.
        np.testing.assert_array_equal(labels[flipped], guess[flipped])
        flips += flipped
        # The loss of the step: the class-balanced loss of each twin on its
        # own rows, with the labels before the flips.
        loss = sum(
            _class_balanced_by_hand(
                logits[t][order], y[order], twin[order] == t, k
            )
            for t in (0, 1)
        )
        assert float(step["loss"].detach()) == pytest.approx(loss, rel=1e-5)
    np.testing.assert_array_equal(net.true_labels_.numpy(), y)
    rates = np.array([flips[kinds == i].mean() / n_steps for i in range(3)])
    trials = n_per_kind * n_steps
    # Binomial tolerance: 4 standard deviations (0 and 1 are exact).
    tolerance = 4 * np.sqrt(expected_p * (1 - expected_p) / trials) + 1e-12
    assert np.all(np.abs(rates - expected_p) <= tolerance), (rates, expected_p)
    assert rates[0] == 0.0 and rates[2] == 1.0


def test_xrm_keeps_flipped_labels_from_step_to_step():
    """The dynamic labels persist: a later step starts from the flipped ones."""
    k, n = 2, 50
    y = np.arange(n) % 2
    twin = np.arange(n) // 2 % 2
    # Both twins are sure of the other class on every row: p_flip = 1.
    logits = np.zeros((2, n, k))
    logits[:, np.arange(n), 1 - y] = 50.0
    X = np.concatenate([logits[0], logits[1]], axis=1)
    net = _fixed_twin_net(y, k)
    batch = (
        {
            "X": torch.as_tensor(X, dtype=torch.float32),
            "index": torch.arange(n),
            "twin": torch.as_tensor(twin),
        },
        torch.as_tensor(y),
    )
    net.train_step_single(batch)
    np.testing.assert_array_equal(net.labels_.numpy(), 1 - y)
    assert net.flip_rate() == 1.0
    # The second step trains on the flipped labels: they now agree with the
    # twins, so its loss is the (near-zero) loss of confident right answers.
    step = net.train_step_single(batch)
    assert float(step["loss"].detach()) < 1e-10
    np.testing.assert_array_equal(net.true_labels_.numpy(), y)


# --------------------------------------------------------------------------
# MAT: the shift and its limits
# --------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.1, 10.0])
@pytest.mark.parametrize("tau", [0.25, 2.0])
def test_shift_depends_on_the_logits_over_the_temperature_only(scale, tau):
    rng = np.random.RandomState(0)
    heldout = rng.randn(60, 3) * 4
    y = rng.randint(3, size=60)
    np.testing.assert_allclose(
        mat_shift(scale * heldout, y, scale * tau, 3),
        mat_shift(heldout, y, tau, 3),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("tau", [np.inf, 1e9])
def test_infinite_temperature_gives_the_log_prior_on_every_row(tau):
    rng = np.random.RandomState(0)
    heldout = rng.randn(60, 3) * 10  # confident, varied held-out logits
    y = np.r_[np.zeros(30, int), np.ones(20, int), np.full(10, 2)]
    log_prior = np.log(np.bincount(y) / len(y))
    np.testing.assert_allclose(
        mat_shift(heldout, y, tau, 3), np.tile(log_prior, (60, 1)), atol=1e-6
    )


def _fitted_mat():
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    heldout = np.random.RandomState(0).randn(len(X), 2) * 3
    clf = MATClassifier(
        max_epochs=2, temperature=0.5, early_stopping=False, random_state=0
    ).fit(X, y, heldout_logits=heldout)
    return clf, X, y


def test_training_loss_with_a_zero_shift_is_plain_cross_entropy():
    clf, X, y = _fitted_mat()
    xb = torch.as_tensor(X[:10], dtype=torch.float32)
    yb = torch.as_tensor(y[:10])
    with torch.no_grad():
        logits = clf.net_.module_(xb)
    loss = clf.net_.get_loss(
        logits, yb, X={"X": xb, "shift": torch.zeros_like(logits)}, training=True
    )
    assert float(loss) == pytest.approx(float(F.cross_entropy(logits, yb)), rel=1e-6)


def test_the_fit_adds_each_rows_own_shift_in_the_training_loss(monkeypatch):
    """During fit the loss sees f(x_i) + shift_i of the same row, every step."""
    from skmat._torch import _nets

    seen = []
    original = _nets.MATNet.get_loss

    def spy(self, y_pred, y_true, X=None, training=False):
        loss = original(self, y_pred, y_true, X, training)
        if training:
            seen.append((X["X"].clone(), X["shift"].clone(), y_pred.detach().clone(),
                         y_true.clone(), loss.detach()))
        return loss

    monkeypatch.setattr(_nets.MATNet, "get_loss", spy)
    clf, X, y = _fitted_mat()
    X32 = X.astype(np.float32)
    # 80 rows: batch_size="auto" makes batches of 16, and an epoch draws
    # 256 rows (16 steps), as an epoch of larger data.
    assert len(X) == 80
    assert len(seen) == clf.n_epochs_ * 16
    for xb, shift, y_pred, yb, loss in seen:
        rows = [int(np.flatnonzero((X32 == row).all(axis=1))[0]) for row in xb.numpy()]
        np.testing.assert_array_equal(shift.numpy(), clf.shift_[rows])
        expected = F.cross_entropy(y_pred + shift, yb)
        assert float(loss) == pytest.approx(float(expected), rel=1e-6)


# --------------------------------------------------------------------------
# Early stopping restores the best epoch
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=4, flip_y=0.2, random_state=0
    )
    g = (X[:, 0] > 0).astype(int)
    heldout = np.random.RandomState(0).randn(len(X), 2)
    return X, y, g, heldout


def test_early_stopping_restores_the_weights_of_the_best_epoch(noisy):
    X, y, g, heldout = noisy
    kw = dict(module="linear", lr=0.05, max_epochs=10, temperature=1.0,
              random_state=0)
    tr, va = slice(0, 150), slice(150, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MATClassifier(**kw, n_iter_no_change=10).fit(
            X[tr], y[tr], heldout_logits=heldout[tr],
            X_val=X[va], y_val=y[va], group_labels_val=g[va],
        )
    assert clf.n_epochs_ == 10
    # These settings peak before the last epoch, at a different score.
    assert clf.best_epoch_ < clf.n_epochs_
    scores = clf.validation_score_
    assert scores[clf.best_epoch_ - 1] != scores[-1]
    # The kept network scores what its epoch recorded, not the last epoch.
    kept = worst_group_accuracy(y[va], clf.predict(X[va]), group_labels=g[va])
    assert kept == pytest.approx(clf.best_validation_score_, abs=1e-12)
    assert clf.best_validation_score_ == scores[clf.best_epoch_ - 1]
    # And it is the very network of that epoch: training stopped there (no
    # validation split is made with X_val, so the runs share every seed).
    stopped = MATClassifier(**{**kw, "max_epochs": clf.best_epoch_},
                            early_stopping=False)
    stopped.fit(X[tr], y[tr], heldout_logits=heldout[tr])
    np.testing.assert_array_equal(stopped.predict_proba(X), clf.predict_proba(X))


# --------------------------------------------------------------------------
# The validation score on inferred groups, and the refit on every row
# --------------------------------------------------------------------------
def test_inferred_score_pools_the_minorities_of_every_class():
    """Three classes, each with a 2-row inferred minority that is all wrong.

    Shrunk alone, each 2-row group stays near the overall accuracy; pooled,
    the 6 minority rows pull the score down.
    """
    from skmat.utils._selection import validation_score

    y = np.repeat([0, 1, 2], 12)
    minority = np.tile(np.r_[np.ones(2), np.zeros(10)], 3).astype(int)
    groups = 2 * y + minority
    y_pred = np.where(minority == 1, (y + 1) % 3, y)
    score, rank = validation_score(y, y_pred, groups, "inferred")

    correct = (y_pred == y).astype(float)
    overall = correct.mean()  # 30 / 36

    def shrunk(rows):
        return (correct[rows].sum() + 5 * overall) / (rows.sum() + 5)

    worst_class = 10 / 12
    per_group = min(shrunk(groups == k) for k in range(6))
    pooled = min(shrunk(minority == 1), shrunk(minority == 0))
    assert pooled < per_group  # pooling is what decides here
    assert score == pytest.approx(0.3 * worst_class + 0.7 * pooled, abs=1e-12)
    assert rank == pytest.approx(score + 1e-3 * worst_class, abs=1e-12)
    # The pooled groups are found from the counts, whatever the group ids.
    relabelled = validation_score(y, y_pred, 7 - groups, "inferred")
    assert relabelled[0] == pytest.approx(score, abs=1e-12)


@pytest.mark.parametrize("source", ["inferred", "group_labels", "class"])
def test_one_scorer_scores_many_predictions_as_fresh_scores(source):
    """The validation callbacks find the rows' groups once and score every
    epoch of every head with them: each score must be the one computed
    from scratch, whatever was scored before."""
    from skmat.utils._selection import ValidationScorer, validation_score

    rng = np.random.RandomState(0)
    y = rng.randint(3, size=60)
    groups = None if source == "class" else 2 * y + (rng.rand(60) < 0.2)
    scorer = ValidationScorer(y, groups, source)
    seen = set()
    for _ in range(5):
        y_pred = np.where(rng.rand(60) < 0.3, rng.randint(3, size=60), y)
        score, rank, balanced = scorer.score(y_pred)
        assert (score, rank) == validation_score(y, y_pred, groups, source)
        by_class = [np.mean(y_pred[y == k] == k) for k in range(3)]
        assert balanced == pytest.approx(np.mean(by_class), abs=1e-12)
        seen.add(score)
    assert len(seen) > 1  # the predictions differed, and so did the scores


def test_batches_are_the_rows_of_a_permutation():
    """The training iterator gathers rows with index_select: each epoch's
    batches hold every row once, with its own extras and label."""
    from skorch.dataset import Dataset

    from skmat._torch._data import BatchIterator, training_data

    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    data = training_data(X, index=np.arange(20), shift=-X)
    labels = torch.as_tensor(np.arange(20) % 3)
    iterator = BatchIterator(Dataset(data, labels), batch_size=6, shuffle=True)
    batches = list(iterator)
    assert [len(yb) for _, yb in batches] == [6, 6, 6, 2]
    assert len(iterator) == 4
    index = np.concatenate([xb["index"].numpy() for xb, _ in batches])
    assert sorted(index) == list(range(20)) and list(index) != list(range(20))
    for xb, yb in batches:
        rows = xb["index"].numpy()
        np.testing.assert_array_equal(xb["X"].numpy(), X[rows])
        np.testing.assert_array_equal(xb["shift"].numpy(), -X[rows])
        np.testing.assert_array_equal(yb.numpy(), rows % 3)


def test_an_epoch_of_small_data_draws_its_rows_again():
    """epoch_rows: successive permutations cut at that many rows, each row
    drawn as often as every other, give or take one."""
    from skorch.dataset import Dataset

    from skmat._torch._data import BatchIterator, training_data

    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    data = training_data(X, index=np.arange(20))
    labels = torch.as_tensor(np.arange(20) % 3)
    iterator = BatchIterator(
        Dataset(data, labels), batch_size=6, shuffle=True, epoch_rows=50
    )
    batches = list(iterator)
    assert len(iterator) == len(batches) == 9
    assert [len(yb) for _, yb in batches] == [6] * 8 + [2]
    index = np.concatenate([xb["index"].numpy() for xb, _ in batches])
    assert sorted(index[:40]) == sorted(list(range(20)) * 2)
    assert set(np.bincount(index, minlength=20)) <= {2, 3}
    for xb, yb in batches:
        np.testing.assert_array_equal(yb.numpy(), xb["index"].numpy() % 3)
    # Fewer epoch rows than the data's, or no shuffling (prediction): one pass.
    for kwargs in (dict(shuffle=True, epoch_rows=10), dict(epoch_rows=50)):
        iterator = BatchIterator(Dataset(data, labels), batch_size=6, **kwargs)
        assert len(iterator) == 4
        assert sum(len(yb) for _, yb in iterator) == 20


@pytest.mark.parametrize(
    "batch_size, n, rows", [("auto", 84, 256), ("auto", 255, 256), ("auto", 256, None),
                            ("auto", 1006, None), ("auto", 5000, None),
                            (16, 84, None), (None, 84, None)]
)
def test_auto_batches_make_16_steps_an_epoch_on_small_data(batch_size, n, rows):
    from skmat._base import _epoch_rows

    assert _epoch_rows(batch_size, n) == rows


def test_an_estimator_on_iris_sized_data_steps_16_times_an_epoch():
    X, y = make_classification(n_samples=105, n_features=4, random_state=0)
    clf = ERMClassifier(max_epochs=3, random_state=0).fit(X, y)
    # 84 training rows after the validation split: 16 batches of 16 rows.
    assert [h["train_batch_count"] for h in clf.net_.history] == [16] * 3
    assert [h["batches"][0]["train_batch_size"] for h in clf.net_.history] == [256] * 3
    fixed = ERMClassifier(max_epochs=3, batch_size=16, random_state=0).fit(X, y)
    assert [h["train_batch_count"] for h in fixed.net_.history] == [6] * 3


def test_probabilities_of_a_row_do_not_depend_on_the_rows_beside_it():
    """Prediction runs in float64: a row alone, or among others, gets the
    same probabilities to far below scikit-learn's 1e-7."""
    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    X = 30 * X  # large logits, where float32 kernels differ the most
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        erm = ERMClassifier(module="mlp", max_epochs=5, random_state=0).fit(X, y)
        xrm = XRMEstimator(max_epochs=5, random_state=0).fit(X, y)
    for model in (erm, xrm):
        full = model.predict_proba(X)
        alone = np.vstack([model.predict_proba(X[i:i + 1]) for i in range(0, 300, 7)])
        np.testing.assert_allclose(alone, full[::7], rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def refit_data():
    X, y = make_classification(n_samples=160, n_features=5, random_state=1)
    heldout = np.random.RandomState(1).randn(len(X), 2) * 2
    return X, y, heldout


@pytest.mark.parametrize("batch_size, steps", [(16, (8, 10)), ("auto", (16, 16))])
def test_refit_trains_as_many_steps_on_every_row(refit_data, batch_size, steps):
    X, y, heldout = refit_data
    kw = dict(max_epochs=15, temperature=0.5, random_state=0, batch_size=batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refitted = MATClassifier(**kw).fit(X, y, heldout_logits=heldout)
        kept = MATClassifier(**kw, refit=False).fit(X, y, heldout_logits=heldout)
    assert refitted.refitted_ and not kept.refitted_
    # The choice made on the split is the same; the refit then trains as
    # many steps on every row, with every row's shift: 128 rows in batches
    # of 16 made 8 steps an epoch, 160 rows make 10. With "auto" an epoch
    # of either draws 256 rows: 16 steps.
    assert refitted.best_epoch_ == kept.best_epoch_
    np.testing.assert_array_equal(refitted.validation_score_, kept.validation_score_)
    split, full = steps
    assert [h["train_batch_count"] for h in refitted.net_.history] == (
        [full] * len(refitted.net_.history)
    )
    assert len(refitted.net_.history) == max(
        1, round(refitted.best_epoch_ * split / full)
    )
    assert len(kept.net_.history) == kept.n_epochs_
    calibrated = heldout / refitted.heldout_temperature_
    np.testing.assert_allclose(refitted.shift_, mat_shift(calibrated, y, 0.5, 2),
                               atol=1e-6)
    assert kept.shift_.shape[0] < len(X)
    assert not np.allclose(refitted.predict_proba(X), kept.predict_proba(X))
    # Same random_state, same refitted model.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = MATClassifier(**kw).fit(X, y, heldout_logits=heldout)
    np.testing.assert_array_equal(again.predict_proba(X), refitted.predict_proba(X))


@pytest.mark.parametrize("max_group, refits", [(17, True), (16, False)])
def test_auto_refit_only_when_the_smallest_validation_group_is_small(
    refit_data, monkeypatch, max_group, refits
):
    # refit="auto" trains again on every row only when the smallest group
    # scored on the validation rows (here the classes: 32 rows, 16 of each)
    # has fewer than _REFIT_MAX_GROUP rows (100; lowered here).
    import skmat._base

    monkeypatch.setattr(skmat._base, "_REFIT_MAX_GROUP", max_group)
    X, y, heldout = refit_data
    kw = dict(max_epochs=15, temperature=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = MATClassifier(**kw).fit(X, y, heldout_logits=heldout)
        same = MATClassifier(**kw, refit=refits).fit(X, y, heldout_logits=heldout)
    assert auto.get_params()["refit"] == "auto"
    assert auto.refitted_ is refits
    assert auto.shift_.shape[0] == (len(X) if refits else 128)
    np.testing.assert_array_equal(auto.predict_proba(X), same.predict_proba(X))


@pytest.mark.parametrize("setting", ["X_val", "no early stopping"])
def test_no_refit_when_every_row_is_trained_on(refit_data, setting):
    X, y, heldout = refit_data
    clf = MATClassifier(max_epochs=5, temperature=0.5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if setting == "X_val":
            clf.fit(X[:120], y[:120], heldout_logits=heldout[:120],
                    X_val=X[120:], y_val=y[120:])
        else:
            clf.set_params(early_stopping=False).fit(X, y, heldout_logits=heldout)
    assert not clf.refitted_
    assert len(clf.net_.history) == clf.n_epochs_


def test_refit_shifts_the_validation_rows_by_the_xrm_twins(refit_data, recorded_splits):
    """Neither twin trained on a validation row: their mean is its held-out guess."""
    X, y, _ = refit_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MATClassifier(max_epochs=5, temperature=2.0, random_state=0).fit(X, y)
    (train, valid), = recorded_splits
    heldout = np.empty((len(X), 2))
    heldout[train] = clf.xrm_.heldout_logits_
    heldout[valid] = np.log(clf.xrm_.predict_proba(X[valid]))
    expected = mat_shift(heldout / clf.heldout_temperature_, y, 2.0, 2)
    np.testing.assert_allclose(clf.shift_, expected, atol=1e-5)


def test_start_at_zero_sets_a_linear_module_to_zero_and_nothing_else():
    from skmat._torch import LinearModule, MLPModule, start_at_zero

    linear, mlp = LinearModule(4, 3), MLPModule(4, 3, hidden_layer_sizes=(5,))
    before = [p.detach().clone() for p in mlp.parameters()]
    assert start_at_zero(linear) and not start_at_zero(mlp)
    assert not any(p.detach().any() for p in linear.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, mlp.parameters(), strict=True))


def test_a_net_fitted_from_zero_forgets_its_random_start():
    # fit_net(zero_start=True) zeroes a linear module once initialised: with
    # full-batch steps (no shuffled order) the fit then depends on no seed.
    from skmat._torch import fit_net, label_tensor, training_data

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    clf = MATClassifier(module="linear", batch_size=None, max_epochs=3)
    data = training_data(X.astype(np.float32), shift=np.zeros((60, 2), np.float32))
    weights = {}
    for zero_start in (True, False):
        for seed in (0, 1):
            net = clf._build_net(4, 2, X=X)
            fit_net(net, data, label_tensor(y), seed=seed, zero_start=zero_start)
            weights[zero_start, seed] = net.module_.linear.weight.detach().clone()
    assert torch.equal(weights[True, 0], weights[True, 1])
    assert not torch.equal(weights[False, 0], weights[False, 1])


@pytest.mark.parametrize("module, zeroed", [("linear", True), ("mlp", False)])
def test_the_refit_of_a_linear_head_starts_at_zero(
    refit_data, monkeypatch, module, zeroed
):
    # Stopped after a few epochs, a linear head keeps much of its random
    # start; refitted on every row, it starts at zero weights, as
    # scikit-learn's linear models do. The networks the choice is made on,
    # and an MLP head's refit, keep their random start.
    import skmat._torch._engine as engine

    starts = []
    start_at_zero = engine.start_at_zero

    def recording(module):
        starts.append(start_at_zero(module))
        return starts[-1]

    monkeypatch.setattr(engine, "start_at_zero", recording)
    X, y, heldout = refit_data
    clf = MATClassifier(module=module, max_epochs=5, temperature=0.5, refit=True,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y, heldout_logits=heldout)
    assert clf.refitted_
    assert starts == [zeroed]


def test_a_zero_start_refit_that_loses_the_validation_rows_is_redone(
    refit_data, monkeypatch
):
    # The epoch was validated on the trajectory from the random start; a
    # refit from zero that classifies the validation rows it trained on
    # worse than the network chosen without them is trained again from the
    # random start, which the refit from the same seed retraces.
    import skmat._base
    import skmat._torch._engine as engine

    X, y, heldout = refit_data
    kw = dict(module="linear", max_epochs=5, temperature=0.5, refit=True,
              random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MATClassifier(**kw).fit(X, y, heldout_logits=heldout)

    default = fit().predict_proba(X)
    monkeypatch.setattr(skmat._base, "_refit_holds", lambda *args: True)
    zero = fit().predict_proba(X)
    monkeypatch.setattr(skmat._base, "_refit_holds", lambda *args: False)
    redone = fit().predict_proba(X)
    monkeypatch.setattr(engine, "start_at_zero", lambda module: False)
    random_start = fit().predict_proba(X)
    np.testing.assert_array_equal(redone, random_start)
    assert not np.allclose(zero, redone)
    assert np.array_equal(default, zero) or np.array_equal(default, redone)


def test_a_sharpened_shift_on_flipped_labels_is_not_refitted_into_inversion(
    monkeypatch,
):
    # Two blobs with 1% of the training labels flipped: a sharpened shift
    # (tau = 0.25, set by the user), refitted from zero, learns the inverted
    # classifier the flipped rows teach (test accuracy 0.000). The guard
    # keeps the validated trajectory. At defaults no inferred-minority row
    # reaches the validation split, the cross-fitted lift says label noise,
    # and no sharpened shift is kept.
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    import skmat._base

    X, y = make_blobs(1000, centers=2, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=1
    )
    scaler = StandardScaler().fit(X_train)
    flip = np.random.default_rng(1001).random(len(y_train)) < 0.01
    y_train = np.where(flip, 1 - y_train, y_train)
    held = []
    refit_holds = skmat._base._refit_holds
    monkeypatch.setattr(
        skmat._base, "_refit_holds", lambda *a: held.append(refit_holds(*a)) or held[-1]
    )
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MATClassifier(temperature=0.25, random_state=1).fit(X_train, y_train)
        default = MATClassifier(random_state=1).fit(X_train, y_train)
    assert clf.refitted_ and held[0] is False  # the zero-start refit inverted
    assert np.mean(clf.predict(X_test) == y_test) > 0.95
    assert default.minority_lift_ is None and default.crossfit_lift_ <= 0
    assert default.temperature_ >= 1
    assert np.mean(default.predict(X_test) == y_test) > 0.95


# --------------------------------------------------------------------------
# Candidate heads trained in one pass
# --------------------------------------------------------------------------
class _TanhHead(nn.Module):
    """A head of no built-in architecture: run alone in the bank, not stacked."""

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.hidden = nn.Linear(n_features, 5)
        self.out = nn.Linear(5, n_classes)

    def forward(self, X):
        return self.out(torch.tanh(self.hidden(X)))


def _head_factories(n_features, n_classes):
    from skmat._torch import resolve_module

    return [
        resolve_module("linear", None, n_features, n_classes),
        resolve_module("mlp", {"hidden_layer_sizes": (7, 4)}, n_features, n_classes),
        resolve_module("linear", None, n_features, n_classes),
        resolve_module(_TanhHead, None, n_features, n_classes),
        resolve_module("mlp", {"hidden_layer_sizes": (7, 4)}, n_features, n_classes),
    ]


def test_a_bank_trains_each_head_as_it_would_train_alone():
    """The summed loss gives each head its own gradient, from its own start."""
    from skmat._torch import HeadBank

    n_features, n_classes, seed = 6, 3, 11
    makes = _head_factories(n_features, n_classes)
    bank = HeadBank(makes, seed=seed)
    alone = []
    for make in makes:
        torch.manual_seed(seed)
        alone.append(make())
    # Same start: each head is its module built alone from the seed.
    for h, module in enumerate(alone):
        for key, value in module.state_dict().items():
            torch.testing.assert_close(bank.head_state(h)[key], value, rtol=0, atol=0)

    def sgd(params):
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)

    opt_bank = sgd(bank.parameters())
    opts = [sgd(module.parameters()) for module in alone]
    rng = torch.Generator().manual_seed(0)
    for _ in range(6):
        xb = torch.randn(32, n_features, generator=rng)
        yb = torch.randint(0, n_classes, (32,), generator=rng)
        shifts = torch.randn(len(makes), 32, n_classes, generator=rng)
        out = bank(xb)
        assert out.shape == (len(makes), 32, n_classes)
        opt_bank.zero_grad()
        losses = [F.cross_entropy(o + s, yb) for o, s in zip(out, shifts, strict=True)]
        sum(losses).backward()
        opt_bank.step()
        for module, opt, shift in zip(alone, opts, shifts, strict=True):
            opt.zero_grad()
            F.cross_entropy(module(xb) + shift, yb).backward()
            opt.step()
    for h, module in enumerate(alone):
        state = bank.head_state(h)
        assert state.keys() == module.state_dict().keys()
        for key, value in module.state_dict().items():
            torch.testing.assert_close(state[key], value, rtol=1e-5, atol=1e-6)


def test_kept_states_are_copies_on_the_cpu():
    """The weights kept while training (best epochs, plateau starts, one per
    candidate head) are copies held on the CPU: later steps do not change
    them, and on a GPU they take no device memory."""
    from skmat._torch import HeadBank

    bank = HeadBank(_head_factories(6, 3), seed=0)
    for h in range(len(bank.active)):
        state = bank.head_state(h)
        assert all(v.device.type == "cpu" for v in state.values())
        before = {k: v.clone() for k, v in state.items()}
        with torch.no_grad():
            for p in bank.parameters():
                p.add_(1.0)
        for key, value in state.items():
            torch.testing.assert_close(value, before[key], rtol=0, atol=0)
        assert not torch.equal(bank.head_state(h)[key], before[key])


def test_a_bank_does_not_compute_heads_switched_off():
    from skmat._torch import HeadBank

    bank = HeadBank(_head_factories(6, 3), seed=0)
    X = torch.randn(8, 6)
    full = bank(X).detach()
    bank.active = [False, True, False, True, True]
    out = bank(X)
    assert (out[[0, 2]] == 0).all()
    torch.testing.assert_close(out[[1, 3, 4]], full[[1, 3, 4]])
    out.sum().backward()
    # The stacked linear heads were not computed: no gradient reached them.
    stacked = bank.groups[0]
    assert stacked.weights[0].grad is None or not stacked.weights[0].grad.any()


def test_the_bank_loss_is_the_sum_of_each_heads_shifted_loss():
    from skmat._torch import HeadBank, MultiHeadMATNet

    torch.manual_seed(0)
    net = build_net(
        MultiHeadMATNet, HeadBank.factory(_head_factories(4, 3), seed=0),
        optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=0.0, batch_size=16,
        max_epochs=1, device="cpu", n_classes=3, head_shift=[1, 0, 1, 0, 1],
    ).initialize()
    xb, yb = torch.randn(10, 4), torch.randint(0, 3, (10,))
    shift = torch.randn(10, 2, 3)  # two candidate temperatures
    with torch.no_grad():
        out = net.module_(xb)
        loss = net.get_loss(out, yb, X={"X": xb, "shift": shift}, training=True)
    expected = sum(
        F.cross_entropy(out[h] + shift[:, t], yb)
        for h, t in enumerate([1, 0, 1, 0, 1])
    )
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)


def test_candidate_heads_each_stop_and_keep_their_best_epoch(noisy):
    """The kept head is the network of its best epoch, stopped by its patience."""
    X, y, g, heldout = noisy
    tr, va = slice(0, 150), slice(150, None)
    clf = MATClassifier(
        lr=0.05, max_epochs=60, n_iter_no_change=4, random_state=0,
        module_params={"hidden_layer_sizes": (8,)},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X[tr], y[tr], heldout_logits=heldout[tr],
                X_val=X[va], y_val=y[va], group_labels_val=g[va])
    assert len(clf.temperature_scores_) == 4 and len(clf.module_scores_) == 2
    # The net kept scores on the validation rows what its best epoch recorded.
    kept = worst_group_accuracy(y[va], clf.predict(X[va]), group_labels=g[va])
    assert kept == pytest.approx(clf.best_validation_score_, abs=1e-12)
    assert clf.module_scores_[clf.module_] == clf.best_validation_score_
    assert clf.temperature_scores_[clf.temperature_] == clf.best_validation_score_
    # Its history is its own, up to where its own patience ran out.
    assert len(clf.net_.history) == clf.n_epochs_ == len(clf.validation_score_)
    assert clf.n_epochs_ == min(clf.best_epoch_ + 4, 60)
    np.testing.assert_array_equal(
        clf.net_.history[:, "valid_score"], clf.validation_score_
    )
    assert clf.net_.history[clf.best_epoch_ - 1, "valid_score"] == (
        clf.best_validation_score_
    )
    assert np.all(np.isfinite(clf.net_.history[:, "train_loss"]))
    expected = {"linear": "LinearModule", "mlp": "MLPModule"}[clf.module_]
    assert type(clf.net_.module_).__name__ == expected


def test_training_mode_is_set_on_every_submodule():
    """The nets skip Module.train when the mode is already right; a
    submodule left in the other mode (dropout in eval) is still switched."""
    X, y = make_classification(n_samples=60, random_state=0)
    net = MATClassifier(
        module="mlp", temperature=1.0, max_epochs=1, random_state=0
    ).fit(X, y).net_
    submodule = list(net.module_.modules())[-1]
    for training in (True, False, True):
        submodule.train(not training)
        net._set_training(training)
        assert all(m.training == training for m in net.module_.modules())


def _heldout_with_mistakes(y, p_true_on_mistakes, seed=0):
    """Held-out logits right with p = 0.9 on most rows and wrong on the
    first rows of each class, with the given probabilities of the true class."""
    rng = np.random.RandomState(seed)
    p_true = np.full(len(y), 0.9)
    wrong = np.zeros(len(y), dtype=bool)
    for k in (0, 1):
        rows = np.flatnonzero(y == k)[: len(p_true_on_mistakes) // 2]
        wrong[rows] = True
    p_true[wrong] = rng.permutation(p_true_on_mistakes)[: wrong.sum()]
    logit = np.log(p_true / (1 - p_true))  # true class minus the other
    heldout = np.zeros((len(y), 2))
    heldout[np.arange(len(y)), y] = logit
    return heldout, wrong


def test_mistake_spread_measures_how_alike_the_mistakes_are():
    from skmat._mat import _mistake_spread

    y = np.repeat([0, 1], 100)
    alike, wrong = _heldout_with_mistakes(y, np.linspace(0.08, 0.12, 20))
    spread, _ = _heldout_with_mistakes(y, np.linspace(0.01, 0.45, 20))
    assert (alike.argmax(axis=1) != y).sum() == wrong.sum() == 20
    assert _mistake_spread(alike, y) == pytest.approx(0.02, abs=0.003)
    assert _mistake_spread(spread, y) == pytest.approx(0.22, abs=0.02)
    few, _ = _heldout_with_mistakes(y, np.array([0.1, 0.2]))
    assert _mistake_spread(few, y) == np.inf  # 2 mistakes: no evidence


def test_no_sharpened_shift_where_the_validation_rows_hold_no_minority():
    """Raw iris: XRM's held-out mistakes (most of versicolor) look like a
    minority, yet none of them falls among the 21 validation rows, whose
    scores then cannot judge a sharpened shift: the lift is not measured,
    the cross-fitted one neither, and only the weak shifts are kept."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    from skmat._mat import MAX_MISTAKE_SPREAD

    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MATClassifier(random_state=0).fit(X_train, y_train)
    assert clf.heldout_mistake_spread_ <= MAX_MISTAKE_SPREAD
    assert 0.5 in clf.temperature_scores_  # the sharpened shifts were trained
    assert clf.minority_lift_ is None and clf.crossfit_lift_ is None
    assert clf.temperature_ >= 1
    assert clf.score(X_test, y_test) > 0.9


@pytest.mark.parametrize("p_true, sharpened", [
    (np.linspace(0.08, 0.12, 30), True),  # a shortcut's minority
    (np.linspace(0.01, 0.45, 30), False),  # noise and hard rows
])
def test_auto_temperature_sharpens_only_where_the_mistakes_are_alike(
    p_true, sharpened
):
    """Without group labels, tau < 1 is tried only when the held-out mistakes
    look like a shortcut's minority, and then the sharpest shift within 0.02
    of the best score is kept; with true groups to score on, every candidate
    is tried and the weakest within 0.02 is kept."""
    from skmat._mat import AUTO_TEMPERATURES, MAX_MISTAKE_SPREAD

    X, y = make_classification(n_samples=200, random_state=0)
    heldout, _ = _heldout_with_mistakes(y, p_true)
    settings = dict(module="linear", max_epochs=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MATClassifier(**settings).fit(X, y, heldout_logits=heldout)
        grouped = MATClassifier(**settings).fit(
            X, y, heldout_logits=heldout, group_labels=2 * y + (X[:, 0] > 0)
        )
    assert (clf.heldout_mistake_spread_ <= MAX_MISTAKE_SPREAD) == sharpened
    expected = AUTO_TEMPERATURES if sharpened else (np.inf, 2.0)
    assert tuple(clf.temperature_scores_) == expected
    assert clf.temperature_ in expected
    assert tuple(grouped.temperature_scores_) == AUTO_TEMPERATURES
    assert grouped.validation_groups_source_ == "group_labels"
    assert not hasattr(clf, "_true_validation_groups")

    def first_within(scores, order):
        return next(t for t in order if scores[t] >= max(scores.values()) - 0.02)

    order = sorted(expected) if sharpened else expected
    assert clf.temperature_ == first_within(clf.temperature_scores_, order)
    assert grouped.temperature_ == first_within(
        grouped.temperature_scores_, AUTO_TEMPERATURES
    )


def test_choose_candidate_keeps_the_first_within_the_tolerance():
    from skmat._base import _choose_candidate

    def fits(**scores):
        return {key: {"top_score": score} for key, score in scores.items()}

    assert _choose_candidate(fits(a=0.70, b=0.80, c=0.79)) == "b"
    assert _choose_candidate(fits(a=0.70, c=0.79, b=0.80)) == "c"
    assert _choose_candidate(fits(a=0.785, b=0.80)) == "a"
    assert _choose_candidate(fits(a=None, b=0.80)) == "a"  # nothing to compare


def test_choose_candidate_balanced_needs_the_first_candidates_balanced_accuracy():
    from skmat._base import _choose_candidate

    def fits(**values):
        return {
            key: {"top_score": score, "best_balanced_accuracy": balanced}
            for key, (score, balanced) in values.items()
        }

    # b scores higher but is less balanced than a: it fits XRM's mistakes.
    candidates = fits(a=(0.53, 0.86), b=(0.57, 0.78))
    assert _choose_candidate(candidates) == "b"
    assert _choose_candidate(candidates, balanced=True) == "a"
    # c is as balanced as a and better: it competes, b still does not.
    candidates = fits(a=(0.53, 0.86), b=(0.60, 0.78), c=(0.57, 0.86))
    assert _choose_candidate(candidates, balanced=True) == "c"


def _fit_on_a_split(X, y, *estimators, seed):
    """Fit each estimator after a StandardScaler on 70% of the rows (as
    ``benchmarks/sanity.py``); return the test rows and the pipelines."""
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed
    )
    fitted = []
    for estimator in estimators:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted.append(
                make_pipeline(StandardScaler(), estimator).fit(X_train, y_train)
            )
    return (X_test, y_test), *fitted


def test_auto_temperature_keeps_balance_on_noisy_imbalanced_data():
    """Label noise makes XRM's inferred minority a set of flipped rows, which
    a barely trained network gets "right" by chance: a stronger shift kept
    for it at its second epoch lost 0.15 of worst-class accuracy on this
    data. Where the held-out mistakes show no shortcut, a stronger shift
    must be as balanced as the weakest: MAT then does as well as a
    class-balanced logistic regression on the worse class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score

    X, y = make_classification(2000, weights=[0.9], flip_y=0.05, random_state=0)
    (X_test, y_test), mat, lr = _fit_on_a_split(
        X, y, MATClassifier(random_state=0),
        LogisticRegression(class_weight="balanced"), seed=0,
    )

    def worst_class(model):
        return recall_score(y_test, model.predict(X_test), average=None).min()

    assert mat[-1].validation_groups_source_ == "inferred"
    assert mat[-1]._balanced_candidates()
    assert worst_class(mat) >= worst_class(lr) - 0.03


def test_balanced_rank_never_keeps_an_epoch_much_less_balanced():
    from skmat._torch._callbacks import _BalancedRank

    # (score rank, balanced accuracy) per epoch.
    epochs = [(0.70, 0.90), (0.65, 0.97), (0.72, 0.93), (0.68, 0.96)]
    plain = _BalancedRank(None)
    assert [plain(r, b) for r, b in epochs] == [r for r, _ in epochs]
    guarded = _BalancedRank(0.02)
    ranks = [guarded(r, b) for r, b in epochs]
    # Epoch 2 replaces epoch 1, 0.07 more balanced, though it scores less;
    # epoch 3 scores best but is 0.04 less balanced than epoch 2; epoch 4 is
    # within 0.02 and scores more than epoch 2.
    assert int(np.argmax(ranks[:2])) == 1
    assert int(np.argmax(ranks[:3])) == 1
    assert int(np.argmax(ranks)) == 3
    assert guarded.best_balanced == 0.96


def test_no_barely_trained_epoch_where_the_mistakes_show_no_shortcut():
    """On make_classification(2000, random_state=2) the linear head kept its
    first epoch (test accuracy 0.900 against logistic regression's 0.953):
    barely trained, it disagreed with XRM and so scored better on XRM's
    mistakes. Where the held-out mistakes show no shortcut, an epoch more
    than 0.02 less balanced than the best of its run cannot be kept."""
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(2000, random_state=2)
    (X_test, y_test), mat, lr, single = _fit_on_a_split(
        X, y, MATClassifier(random_state=2), LogisticRegression(),
        # One network (no candidate bank): skorch's early stopping.
        MATClassifier(module="linear", temperature=np.inf, random_state=2),
        seed=2,
    )
    clf = mat[-1]
    assert clf._balanced_tolerance() == 0.02
    assert clf.best_epoch_ > 1
    assert mat.score(X_test, y_test) >= lr.score(X_test, y_test) - 0.03
    assert single[-1].best_epoch_ > 1  # epoch 1 without the guard: 0.900
    assert single.score(X_test, y_test) >= lr.score(X_test, y_test) - 0.03


def test_plateau_start_is_the_first_epoch_within_the_tolerance_up_to_the_best():
    from skmat._torch._callbacks import _PlateauStart

    def run(scores):
        plateau, copied = _PlateauStart(0.02), []
        for epoch, score in enumerate(scores, start=1):
            plateau.update(
                epoch, score, lambda e=epoch: copied.append(e) or f"w{e}"
            )
        return plateau, copied

    # Best 0.815 (epoch 5); epochs 2 to 5 all score within 0.02 of it.
    plateau, copied = run([0.50, 0.80, 0.81, 0.80, 0.815, 0.70])
    assert plateau.kept == (2, 0.80, "w2")
    assert plateau.top == 0.815
    # Only epochs that beat the one before them were copied.
    assert copied == [1, 2, 3, 5]
    # Epoch 2 is within 0.02 but cut off from the best by epoch 3: a lucky
    # epoch of a run still learning, not the start of the plateau.
    plateau, _ = run([0.50, 0.80, 0.70, 0.81, 0.815, 0.70])
    assert plateau.kept == (4, 0.81, "w4")
    # A later, higher best moves the plateau.
    plateau, _ = run([0.50, 0.80, 0.81, 0.80, 0.815, 0.70, 0.85, 0.84])
    assert plateau.kept == (7, 0.85, "w7")

    # Against the definition, on random runs.
    rng = np.random.default_rng(0)
    for _ in range(200):
        scores = np.round(rng.random(rng.integers(1, 40)), 2).tolist()
        best = int(np.argmax(scores))
        first = best
        while first > 0 and scores[first - 1] >= scores[best] - 0.02:
            first -= 1
        assert run(scores)[0].kept[0] == first + 1


def test_plateau_start_where_the_mistakes_show_a_shortcut():
    """On the interpretable data the linear network memorizes the training
    minority as it trains on: its test minority accuracy peaks in the first
    epochs and falls. Where the held-out mistakes show a shortcut, a
    sharpened shift's network stopped past its best keeps the first epoch of
    its best epoch's plateau (within 0.02), on the candidate bank and on one
    network. With a validation set whose groups are large (the data set's
    own, 1,000 rows, half of them minority), the best epoch, as before."""
    from skmat.datasets import make_spurious_memorization

    data = make_spurious_memorization(random_state=6)
    X, y = data.X_train, data.y_train
    default = MATClassifier(random_state=6)
    one_network = MATClassifier(temperature=0.25, module="linear", random_state=6)
    for clf in (default, one_network):
        clf.fit(X, y)
        assert clf.heldout_mistake_spread_ <= 0.1
        scores = clf.validation_score_  # of the split, before the refit
        kept, best = clf.best_epoch_ - 1, int(np.argmax(scores))
        assert kept <= best
        # The first epoch of the run of epochs within 0.02 of the best.
        assert np.all(scores[kept:best + 1] >= scores[best] - 0.02)
        assert kept == 0 or scores[kept - 1] < scores[best] - 0.02
    # The default kept epoch 29 of a flat run before (its scores 0.904-0.905
    # from epoch 5 on) and reached a test minority accuracy of 0.816; now
    # epoch 3 (0.897), the start of that plateau.
    assert default.best_epoch_ < np.argmax(default.validation_score_) + 1
    minority = np.isin(data.group_labels_test, [1, 2])
    pred = default.predict(data.X_test)
    assert np.mean(pred[minority] == data.y_test[minority]) >= 0.85
    # Large validation groups (XRM's, on the data set's validation split)
    # measure the best epoch well: it is kept (seed 2: epoch 4, minority
    # accuracy 0.890; the plateau's start, epoch 3, reaches 0.858).
    data = make_spurious_memorization(random_state=2)
    large = MATClassifier(random_state=2)
    large.fit(data.X_train, data.y_train, X_val=data.X_valid, y_val=data.y_valid)
    assert large.validation_groups_source_ == "inferred"
    ranks = large.net_.history[:, "valid_rank"]
    assert large.best_epoch_ == int(np.argmax(ranks)) + 1


def test_the_plateau_rule_ends_a_run_past_its_best_score_whatever_its_ties():
    """Interpretable data, seed 12: the sharpened linear network's score
    reaches 1.0 (every validation row right) at epoch 29 and stays there,
    while its tie-breaks (balanced accuracy, then the loss) rank each later
    epoch higher; ended by the rank alone it ran out its 100 epochs, kept
    the last and reached a test minority accuracy of 0.784 (now epoch 5,
    0.892). Under the plateau rule a linear head's run is over once its best
    score is ``patience`` epochs old, and keeps the start of that plateau."""
    from skmat._torch._callbacks import _past_plateau, _PlateauStart
    from skmat.datasets import make_spurious_memorization

    plateau = _PlateauStart(0.02)
    for epoch, score in enumerate([0.5, 0.99, 1.0, 1.0, 1.0], start=1):
        plateau.update(epoch, score, lambda: None)
    assert plateau.top_epoch == 3
    assert not _past_plateau(plateau, 5, patience=3)
    assert _past_plateau(plateau, 6, patience=3)
    assert not _past_plateau(None, 6, patience=3)
    assert not _past_plateau(plateau, 6, patience=None)

    data = make_spurious_memorization(random_state=12)
    minority = np.isin(data.group_labels_test, [1, 2])
    default = MATClassifier(random_state=12)
    one_network = MATClassifier(temperature=0.25, module="linear", random_state=12)
    for clf in (default, one_network):
        clf.fit(data.X_train, data.y_train)
        assert clf.temperature_ == 0.25 and clf.module_ == "linear"
        scores = clf.validation_score_  # of the split, before the refit
        top = int(np.argmax(scores)) + 1
        assert clf.n_epochs_ == top + 50 < clf.max_epochs
        assert clf.best_epoch_ < top
        pred = clf.predict(data.X_test)
        assert np.mean(pred[minority] == data.y_test[minority]) >= 0.85
    # Only a linear head with a sharpened shift: an MLP's falling loss on a
    # flat score is still learning (Gaussian quantiles), a weak shift has no
    # plateau rule.
    small = (None, np.zeros(10, dtype=int), np.zeros(10, dtype=int), "inferred")
    assert default._score_patience(0.25, small, "linear") == 50
    assert default._score_patience(0.25, small, "mlp") is None
    assert default._score_patience(2.0, small, "linear") is None


def test_a_sharpened_shift_waits_half_the_budget_where_a_shortcut_shows():
    """Where the plateau rule is on, a sharpened shift's network is stopped
    after max(n_iter_no_change, max_epochs // 2) epochs without a better
    score: such a shift first over-corrects and recovers later. A weaker
    shift keeps the patience of n_iter_no_change."""
    from skmat.datasets import make_colored_digits, make_spurious_memorization
    from skmat.metrics import worst_group_accuracy

    data = make_spurious_memorization(random_state=6)
    for temperature, patience in ((0.25, 50), (2.0, 20)):
        clf = MATClassifier(
            temperature=temperature, module="linear", refit=False, random_state=6
        ).fit(data.X_train, data.y_train)
        assert clf.heldout_mistake_spread_ <= 0.1
        ranks = np.asarray(clf.net_.history[:, "valid_rank"])
        scores = np.asarray(clf.validation_score_)
        # Stopped by patience, before the budget ran out: that many epochs
        # after its best rank or, under the plateau rule, its best score.
        assert clf.n_epochs_ < clf.max_epochs
        since_rank = clf.n_epochs_ - (int(np.argmax(ranks)) + 1)
        since_score = clf.n_epochs_ - (int(np.argmax(scores)) + 1)
        if temperature < 1:
            assert min(since_rank, since_score) == patience
        else:
            assert since_rank == patience
    # The 3-class coloured digits, seed 0: the sharpened candidates were
    # stopped in their over-correction (epochs 4 to 8 kept), tau = 2 won
    # the score and reached a test WGA of 0.179; waiting longer, tau = 0.25.
    data = make_colored_digits(n_classes=3, random_state=0)
    clf = MATClassifier(random_state=0).fit(data.X_train, data.y_train)
    assert clf.temperature_ < 1
    assert clf.minority_lift_ > 0  # a learnable minority, not label noise
    assert clf.crossfit_lift_ is None  # asked only where the lift fails
    wga = worst_group_accuracy(
        data.y_test, clf.predict(data.X_test), group_labels=data.group_labels_test
    )
    assert wga >= 0.5


def test_minority_lift_is_below_zero_at_the_limit_label_noise_allows():
    """Under label noise a classifier's accuracy on the inferred minority is
    at most one minus its accuracy on the majority; the lift is the lower
    confidence bound of how far the minority's accuracy exceeds that."""
    from skmat.utils._selection import ValidationScorer, minority_lift

    # At the limit (0.2 = 1 - 0.8), or below it: no evidence.
    assert minority_lift(0.2, 0.8, 1000) < 0
    assert minority_lift(0.0, 1.0, 1000) < 0
    # A minority classified as well as the majority, on enough rows.
    assert minority_lift(0.9, 0.95, 20) > 0.5
    # The same accuracies on a handful of rows prove less, and the largest
    # of more candidates needs more (Bonferroni).
    assert minority_lift(0.7, 0.9, 5) < minority_lift(0.7, 0.9, 50)
    assert minority_lift(0.7, 0.9, 20, n_tests=8) < minority_lift(0.7, 0.9, 20)
    assert np.isnan(minority_lift(np.nan, 0.9, 20))

    # The scorer's pooled accuracies: rows outside the largest inferred
    # group of their class (inferred groups 2 * class + mistake).
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    groups = np.array([0, 0, 0, 1, 2, 2, 2, 3])
    scorer = ValidationScorer(y, groups, "inferred")
    pred = np.array([0, 0, 1, 0, 1, 1, 1, 0])  # majority 5/6, minority 1/2
    minority, majority = scorer.pooled_accuracies(pred)
    assert minority == pytest.approx(0.5)
    assert majority == pytest.approx(5 / 6)
    assert np.isnan(ValidationScorer(y, None, "class").pooled_accuracies(pred)[0])


def test_label_noise_on_easy_data_gets_no_sharpened_shift():
    """Two blobs with 10% of the labels flipped: XRM's held-out mistakes are
    the flipped rows, all wrong with the same confidence, as a shortcut's
    minority would be. A sharpened shift trains the network on the flipped
    labels (accuracy 0.522 before minority_lift_, LogisticRegression 0.917);
    no candidate classifies the validation minority better than label noise
    allows, so only the weak shifts compete."""
    from sklearn.datasets import make_blobs
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = make_blobs(600, centers=2, random_state=1)
    flip = np.random.default_rng(1).random(len(y)) < 0.1
    y = np.where(flip, 1 - y, y)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=0
    )
    clf = MATClassifier(random_state=0).fit(X_train, y_train)
    assert clf.heldout_mistake_spread_ <= 0.1  # looks like a shortcut
    assert set(clf.temperature_scores_) == {np.inf, 2.0, 0.5, 0.25}  # all trained
    assert clf.minority_lift_ <= 0
    # Cross-fitted on XRM's halves, the flipped rows stay unlearnable too.
    assert clf.crossfit_lift_ <= 0
    assert clf.temperature_ > 1
    baseline = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert clf.score(X_test, y_test) >= baseline - 0.03
    # A fixed temperature is the user's choice: nothing is judged or blocked.
    fixed = MATClassifier(temperature=0.5, random_state=0).fit(X_train, y_train)
    assert fixed.minority_lift_ is None
    assert fixed.crossfit_lift_ is None
    assert fixed.temperature_ == 0.5


def test_weak_shifts_keep_no_barely_trained_epoch_where_noise_looks_like_a_shortcut():
    """Two blobs with 5% of the labels flipped: the spread (0.08) looks like
    a shortcut's minority, where the sharpened shifts may give up balanced
    accuracy. The weak shifts may not: a barely trained epoch disagrees with
    XRM and so scores best on its inferred groups when they are label noise.
    Without the guard on them, tau = inf kept epoch 1 (accuracy 0.777,
    LogisticRegression 1.000)."""
    from sklearn.datasets import make_blobs
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_blobs(1000, centers=2, random_state=6)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=6
    )
    flip = np.random.default_rng(1006).random(len(y_train)) < 0.05
    y_train = np.where(flip, 1 - y_train, y_train)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    clf = MATClassifier(random_state=6).fit(X_train, y_train)
    assert clf.heldout_mistake_spread_ <= 0.1
    assert clf.temperature_ > 1
    assert clf.best_epoch_ > 1
    baseline = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert clf.score(X_test, y_test) >= baseline - 0.03


def test_minority_lift_judges_each_candidate_at_its_last_epoch():
    """Two blobs with 20% of the labels flipped. Each candidate's best epoch
    is the one of up to a hundred whose score, mostly the inferred
    minority's accuracy, was highest on the validation rows: judged there,
    a sharpened candidate passed the test by chance (lift +0.048), tau =
    0.25 was kept and reached an accuracy of 0.727 (LogisticRegression
    1.000). At its last epoch, no such maximum: no candidate passes."""
    from sklearn.datasets import make_blobs
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = make_blobs(1000, centers=2, random_state=9)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=9
    )
    rng = np.random.default_rng(1009)
    flip = rng.random(len(y_train)) < 0.2
    y_train = np.where(flip, 1 - y_train, y_train)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    clf = MATClassifier(random_state=9).fit(X_train, y_train)
    assert clf.heldout_mistake_spread_ <= 0.1  # looks like a shortcut
    assert clf.minority_lift_ <= 0
    assert clf.temperature_ > 1
    baseline = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert clf.score(X_test, y_test) >= baseline - 0.03


def test_a_strong_shortcut_passes_the_lift_cross_fitted_on_the_training_rows():
    """The coloured digits at a 98% majority, seed 0: the validation split
    holds 1 row of XRM's inferred minority, too few for the lift to pass
    (minority_lift_ below 0), and MAT fell back to class balancing (test
    WGA 0.055, temperature=0.5: 0.587). The training rows hold 17 of them;
    retrained on each half of XRM's split, the sharpened candidates classify
    the other half's beyond label noise, and a sharpened shift is kept."""
    from skmat.datasets import make_colored_digits
    from skmat.metrics import worst_group_accuracy

    data = make_colored_digits(majority_fraction=0.98, random_state=0)
    clf = MATClassifier(random_state=0).fit(data.X_train, data.y_train)
    assert clf.heldout_mistake_spread_ <= 0.1
    assert clf.minority_lift_ <= 0
    assert clf.crossfit_lift_ > 0
    assert clf.temperature_ < 1
    wga = worst_group_accuracy(
        data.y_test, clf.predict(data.X_test), group_labels=data.group_labels_test
    )
    assert wga >= 0.5


def test_few_mistakes_of_easy_data_are_not_read_as_a_shortcut():
    """Five digits, seed 1: XRM gets 9 training rows wrong, and the range of
    their probabilities (0.083) read as a shortcut's minority. The sharpened
    shifts were trained, the candidates classified the 5 validation rows
    among them beyond label noise, and tau = 0.5 was kept: accuracy 0.908,
    LogisticRegression 0.996. Nine values are too few for their range to
    say that: scaled for their count, the spread is above 0.1 and only the
    weak shifts are tried."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(n_class=5, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=1, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    clf = MATClassifier(random_state=1).fit(X_train, y_train)
    assert clf.heldout_mistake_spread_ > 0.1
    assert set(clf.temperature_scores_) == {np.inf, 2.0}
    baseline = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    assert clf.score(X_test, y_test) >= baseline - 0.03


def test_the_spread_of_few_mistakes_is_scaled_for_their_count():
    """The range of a few values reads tighter than that of their source by
    chance. Scaled by sqrt(20 / n) below 20 mistakes, mistakes drawn from an
    ordinary spread (0.15) read as a shortcut's about one time in ten at
    every count, against up to one in two unscaled; a shortcut's minority
    (a range of 0.02) still reads as one down to 6 rows."""
    from skmat._mat import MAX_MISTAKE_SPREAD, _mistake_spread

    y = np.repeat([0, 1], 100)
    rng = np.random.default_rng(0)
    for n in (6, 10, 14, 20):
        draws = [rng.uniform(0.0, 0.3, n) for _ in range(300)]
        scaled = np.array([
            _mistake_spread(_heldout_with_mistakes(y, p)[0], y) for p in draws
        ])
        raw = np.array([np.subtract(*np.quantile(p, [0.75, 0.25])) for p in draws])
        assert np.mean(scaled <= MAX_MISTAKE_SPREAD) <= 0.15
        if n < 20:
            assert np.mean(raw <= MAX_MISTAKE_SPREAD) >= 0.15
        else:
            np.testing.assert_allclose(scaled, raw, atol=1e-9)  # no scaling
    for n in (6, 10, 16):
        alike, _ = _heldout_with_mistakes(y, np.linspace(0.08, 0.12, n))
        assert _mistake_spread(alike, y) <= MAX_MISTAKE_SPREAD


def test_a_learnable_shortcut_leaves_only_the_sharpened_shifts_to_compete():
    """Where the held-out mistakes look like a shortcut's minority and some
    candidate classifies it beyond label noise (minority_lift_ above 0), only
    the sharpened shifts compete, the sharpest first; where the lift says
    label noise, or none was measured, only the weak ones; before the lift is
    asked (the candidates training), all of them."""
    keys = [np.inf, 2.0, 0.5, 0.25]
    clf = MATClassifier()
    clf.heldout_mistake_spread_ = 0.05
    clf.validation_groups_source_ = "inferred"
    clf._lift_asked = True
    clf.crossfit_lift_ = None
    clf.minority_lift_ = 0.2
    assert clf._candidate_order(keys) == [0.25, 0.5]
    clf.minority_lift_ = -0.01
    assert clf._candidate_order(keys) == [np.inf, 2.0]
    # The test failed on the validation rows but passes cross-fitted on the
    # training rows: a learnable minority all the same.
    clf.crossfit_lift_ = 0.1
    assert clf._candidate_order(keys) == [0.25, 0.5]
    clf.crossfit_lift_ = -0.1
    assert clf._candidate_order(keys) == [np.inf, 2.0]
    # No inferred-minority row among the validation rows: the cross-fitted
    # lift alone can let the sharpened shifts in.
    clf.minority_lift_ = None
    assert clf._candidate_order(keys) == [np.inf, 2.0]
    clf.crossfit_lift_ = None
    assert clf._candidate_order(keys) == [np.inf, 2.0]
    clf.crossfit_lift_ = 0.1
    assert clf._candidate_order(keys) == [0.25, 0.5]
    clf._lift_asked = False
    clf.crossfit_lift_ = None
    assert clf._candidate_order(keys) == [0.25, 0.5, 2.0, np.inf]
    # No sign of a shortcut: the weakest first, every candidate.
    clf.heldout_mistake_spread_ = 0.3
    clf.minority_lift_ = None
    assert clf._candidate_order(keys) == keys


def test_the_optimizer_steps_every_parameter_in_one_call():
    # torch's optimizers loop over the parameter tensors one by one on the
    # CPU unless told otherwise; the nets ask for the multi-tensor ("foreach")
    # step, the same arithmetic in fewer calls. An optimizer without that
    # option gets nothing it does not accept.
    from skmat._torch._modules import optimizer_kwargs

    assert optimizer_kwargs(torch.optim.SGD, 0.9, 0.0) == {
        "momentum": 0.9, "weight_decay": 0.0, "foreach": True,
    }
    assert optimizer_kwargs(torch.optim.Adam, 0.9, 1e-4) == {
        "weight_decay": 1e-4, "foreach": True,
    }
    assert optimizer_kwargs(torch.optim.LBFGS, 0.9, 0.0) == {}
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    net = MATClassifier(module="linear", max_epochs=2)._build_net(4, 2, X=X)
    net.initialize()
    assert net.optimizer_.defaults["foreach"] is True
    # verbose=0 prints nothing: skorch's PrintLog, which would still format
    # a table at every epoch, is not among the callbacks.
    assert "print_log" not in dict(net.callbacks_)
