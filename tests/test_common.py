"""scikit-learn's common estimator checks over every public estimator."""

import re

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from skmat import MATClassifier, XRMEstimator
from skmat.baselines import (
    AFRClassifier,
    DFRClassifier,
    ERMClassifier,
    GroupDROClassifier,
    JTTClassifier,
)

# Every public estimator at its defaults (what users run), seeded.
DEFAULTS = [
    XRMEstimator(random_state=0),
    MATClassifier(random_state=0),
    ERMClassifier(random_state=0),
    JTTClassifier(random_state=0),
    # group_source="given" needs group_labels at fit, which the checks never
    # pass; the XRM-inferred groups exercise the same loss.
    GroupDROClassifier(group_source="xrm", random_state=0),
    DFRClassifier(random_state=0),
    AFRClassifier(random_state=0),
]

# A second, faster set with other settings: an MLP, no early stopping, a
# fixed temperature. (An explicit lr=0.05 diverges, rightly, on the features
# near 100 of check_fit_idempotent; lr="auto" adapts to them.)
_TINY = dict(
    module="mlp",
    module_params={"hidden_layer_sizes": (16,)},
    max_epochs=20,
    random_state=0,
)
FAST = [
    XRMEstimator(**_TINY),
    MATClassifier(**_TINY, early_stopping=False, temperature=1.0),
    MATClassifier(**_TINY, temperature=5.0, n_iter_no_change=5),
]

ESTIMATORS = DEFAULTS + FAST

EXPECTED_FAILED = {}


@pytest.mark.filterwarnings("ignore::skmat.exceptions.DegenerateEnvironmentWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# check_param_validation is not among the checks that parametrize_with_checks
# yields (scikit-learn 1.6 to 1.9 run it from their own test_common.py, over
# every estimator), so it runs here, at the defaults of each estimator. It
# checks that every parameter has a constraint and that a bad type or value
# raises InvalidParameterError from fit.
PUBLIC_ESTIMATORS = [
    XRMEstimator(),
    MATClassifier(),
    ERMClassifier(),
    JTTClassifier(),
    GroupDROClassifier(),
    DFRClassifier(),
    AFRClassifier(),
]


@pytest.mark.parametrize(
    "estimator", PUBLIC_ESTIMATORS, ids=lambda est: type(est).__name__
)
def test_check_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", PUBLIC_ESTIMATORS, ids=lambda est: type(est).__name__
)
def test_shared_parameter_docs(estimator):
    # The shared descriptions are filled in (skmat/utils/_docstring.py) and
    # every parameter is documented exactly once.
    doc = type(estimator).__doc__
    assert "%(" not in doc
    section = doc.split("Parameters\n    ----------\n")[1].split("\n\n")[0]
    documented = re.findall(r"^    (\w+) : ", section, flags=re.MULTILINE)
    assert len(documented) == len(set(documented))
    assert sorted(documented) == sorted(estimator.get_params(deep=False))
    if "module" in documented:  # the network estimators share their docs
        assert "tqdm progress bars over epochs" in " ".join(doc.split())
