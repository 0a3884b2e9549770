"""Grid search over the temperature on a real Dask cluster of worker processes.

The search is the one docs/user_guide/scaling.rst shows: metadata routing on,
``group_labels`` routed to MAT's early stopping and to the WorstGroupScorer.
"""

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

from skmat import MATClassifier, WorstGroupScorer

distributed = pytest.importorskip("distributed")

FAST = dict(module="mlp", module_params={"hidden_layer_sizes": (8,)},
            max_epochs=6, lr=0.05, random_state=0)


def _search(n_jobs):
    return GridSearchCV(
        MATClassifier(**FAST),
        {"temperature": [0.5, 2.0, np.inf], "lr": [0.05]},
        scoring=WorstGroupScorer(),
        cv=2,
        n_jobs=n_jobs,
    )


@pytest.mark.filterwarnings("ignore::skmat.exceptions.DegenerateEnvironmentWarning")
def test_grid_search_on_a_local_dask_cluster_matches_the_local_run():
    X, y = make_classification(n_samples=160, n_features=5, random_state=3)
    g = (X[:, 0] > 0).astype(int)
    def routing():
        return sklearn.config_context(enable_metadata_routing=True)

    with routing():
        local = _search(n_jobs=1).fit(X, y, group_labels=g)
    with routing(), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True,
        dashboard_address=None, silence_logs=50,
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            with joblib.parallel_backend("dask"):
                remote = _search(n_jobs=-1).fit(X, y, group_labels=g)
        # The fits really ran as tasks on the cluster's worker processes.
        assert len(client.scheduler_info()["workers"]) == 2
        assert len(stream.data) > 0
    np.testing.assert_array_equal(
        local.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"]
    )
    assert local.best_params_ == remote.best_params_
    # The groups reached the scorer on the workers and the refit's early
    # stopping in this process.
    assert np.isfinite(remote.cv_results_["mean_test_score"]).all()
    assert local.scorer_.sources_ == {"group_labels": 6}
    assert remote.best_estimator_.validation_groups_source_ == "group_labels"
    np.testing.assert_array_equal(
        local.best_estimator_.predict_proba(X), remote.best_estimator_.predict_proba(X)
    )
