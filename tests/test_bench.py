"""The skmat-bench command line."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skmat import bench


def test_main_writes_results(tmp_path, capsys):
    status = bench.main(
        [
            "--datasets", "interpretable",
            "--methods", "erm", "mat",
            "--seeds", "1",
            "--n-samples", "200",
            "--max-epochs", "20",
            "--output-dir", str(tmp_path),
            "--quiet",
        ]
    )
    assert status == 0
    assert capsys.readouterr().out == ""  # --quiet
    frame = pd.read_csv(tmp_path / "results.csv")
    assert list(frame.columns) == bench.RESULT_COLUMNS
    assert len(frame) == 2 * len(bench.SELECTIONS)
    assert set(frame["method"]) == {"erm", "mat"}
    assert set(frame["selection"]) == set(bench.SELECTIONS)
    assert frame["worst_group_acc"].between(0, 1).all()
    assert (frame["worst_group_acc"] <= frame["avg_acc"] + 1e-12).all()
    sources = frame.set_index(["method", "selection"])["val_groups"]
    assert sources["mat", "inferred"] == "inferred"
    assert sources["erm", "inferred"] == "class"
    assert sources["mat", "groups"] == "true"
    assert sources["mat", "none"] == "class"
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"worst_group_mean", "worst_group_std", "avg_mean", "avg_std"} <= set(
        summary.columns
    )
    table = (tmp_path / "results.md").read_text()
    assert "| interpretable | mat | inferred |" in table
    assert "±" in table


def test_main_prints_table(tmp_path, capsys):
    bench.main(
        [
            "--datasets", "interpretable",
            "--methods", "jtt", "groupdro-oracle",
            "--selection", "groups",
            "--seeds", "2",
            "--n-samples", "100",
            "--max-epochs", "5",
            "--output-dir", str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "| interpretable | groupdro-oracle | groups | true |" in out
    frame = pd.read_csv(tmp_path / "results.csv")
    assert sorted(frame["seed"].unique()) == [0, 1]


def test_missing_adult_is_skipped(tmp_path, capsys):
    status = bench.main(
        [
            "--datasets", "adult",
            "--data-home", str(tmp_path / "empty"),
            "--output-dir", str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "skipping adult" in err
    assert "--data-home" in err
    assert not (tmp_path / "out").exists()


def test_default_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKMAT_DATA_HOME", str(tmp_path))
    assert bench.default_data_home() == tmp_path
    monkeypatch.delenv("SKMAT_DATA_HOME")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert bench.default_data_home().resolve() == (tmp_path / "shared" / "data")
    monkeypatch.chdir(tmp_path)
    assert bench.default_data_home() is None


def test_fit_kwargs_per_selection():
    data = bench._load_interpretable(0, 20, None)
    kw = bench.fit_kwargs("mat", "groups", data)
    np.testing.assert_array_equal(kw["group_labels_val"], data.group_labels_valid)
    assert "group_labels_val" not in bench.fit_kwargs("mat", "inferred", data)
    kw = bench.fit_kwargs("erm", "none", data)
    np.testing.assert_array_equal(kw["group_labels_val"], data.y_valid)
    assert "group_labels" not in kw
    kw = bench.fit_kwargs("groupdro-oracle", "inferred", data)
    np.testing.assert_array_equal(kw["group_labels"], data.group_labels_train)


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--methods", "svm"]])
def test_bad_arguments(argv):
    with pytest.raises(SystemExit):
        bench.main(argv)


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "skmat.bench", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--selection" in result.stdout
    assert "groupdro-xrm" in result.stdout
