"""Light imports: torch and skorch load only with the estimators."""

import subprocess
import sys

import pytest

_NO_TORCH = "assert 'torch' not in sys.modules and 'skorch' not in sys.modules, " \
    "sorted(m for m in ('torch', 'skorch') if m in sys.modules)"


def _run(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "modules",
    [
        "skmat",
        "skmat.metrics, skmat.model_selection, skmat.datasets",
        "skmat.inspection, skmat.baselines, skmat.exceptions, skmat.utils",
    ],
)
def test_light_modules_do_not_import_torch(modules):
    _run(f"import sys, {modules}; {_NO_TORCH}")


def test_estimators_resolve_on_access():
    _run(
        "import sys, skmat, skmat.baselines; "
        "assert 'MATClassifier' in dir(skmat); "
        f"{_NO_TORCH}; "
        "from skmat._mat import MATClassifier; "
        "assert skmat.MATClassifier is MATClassifier; "
        "from skmat import WorstGroupScorer, XRMEstimator; "
        "from skmat.baselines import ERMClassifier, GroupDROClassifier, JTTClassifier; "
        "assert 'torch' in sys.modules"
    )


def test_unknown_attribute_raises():
    import skmat
    import skmat.baselines

    with pytest.raises(AttributeError, match="no attribute 'NotAnEstimator'"):
        skmat.NotAnEstimator  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'NotAnEstimator'"):
        skmat.baselines.NotAnEstimator  # noqa: B018
    assert set(skmat.__all__) <= set(dir(skmat))
    assert set(skmat.baselines.__all__) <= set(dir(skmat.baselines))
