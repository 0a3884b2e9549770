"""Pickle, joblib and skops round trips; GPU-trained models on a CPU machine."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from skmat import MATClassifier, XRMEstimator
from skmat.baselines import ERMClassifier, GroupDROClassifier, JTTClassifier

sio = pytest.importorskip("skops.io")

FAST = dict(module="mlp", module_params={"hidden_layer_sizes": (8,)},
            max_epochs=6, lr=0.05, random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=150, n_features=5, random_state=2)
    return X, np.where(y == 1, "spam", "ham")


def _fitted(Estimator, X, y):
    if Estimator is GroupDROClassifier:
        return Estimator(**FAST).fit(X, y, group_labels=np.arange(len(y)) % 2)
    return Estimator(**FAST).fit(X, y)


ESTIMATORS = [MATClassifier, XRMEstimator, ERMClassifier, JTTClassifier,
              GroupDROClassifier]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_skops_round_trip_trusts_only_skmat_types(data, Estimator):
    X, y = data
    est = _fitted(Estimator, X, y)
    blob = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=blob)
    assert untrusted, "skops must ask to trust the estimator types"
    assert all(name.startswith("skmat.") for name in untrusted), untrusted
    loaded = sio.loads(blob, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert len(loaded.net_.history) == len(est.net_.history)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pickle_and_joblib_round_trips(data, Estimator, tmp_path):
    X, y = data
    est = _fitted(Estimator, X, y)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict_proba(X), est.predict_proba(X)
    )
    joblib.dump(est, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    # Pickling does not touch the fitted object itself.
    assert hasattr(est, "net_")


def test_nested_xrm_survives_a_round_trip(data):
    X, y = data
    mat = MATClassifier(**FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(mat))
    np.testing.assert_array_equal(
        loaded.infer_group_labels(X, y), mat.infer_group_labels(X, y)
    )
    assert loaded.xrm_.history_[-1, "flip_rate"] == mat.xrm_.history_[-1, "flip_rate"]


def test_a_cuda_model_loads_on_a_cpu_only_machine(data, monkeypatch):
    X, y = data
    mat = MATClassifier(**FAST).fit(X, y)
    expected = mat.predict_proba(X)
    # The state of a model trained with device="cuda": its parameter says cuda.
    mat.set_params(device="cuda")
    blob = pickle.dumps(mat)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_the_stored_state_holds_no_torch_object(data):
    X, y = data
    mat = MATClassifier(**FAST).fit(X, y)
    state = mat.__getstate__()
    assert "net_" not in state
    assert isinstance(state["_net_state"]["module_state"], bytes)
    # The weights load with torch's safe loader.
    weights = torch.load(io.BytesIO(state["_net_state"]["module_state"]),
                         weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
