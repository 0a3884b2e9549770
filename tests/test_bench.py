"""The skmat-bench command line."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skmat import bench

# A small, fast run: few rows, few epochs, in this process.
QUICK = ["--n-samples", "100", "--max-epochs", "5", "--n-jobs", "1"]


def test_main_writes_results(tmp_path, capsys):
    status = bench.main(
        [
            "--datasets", "interpretable",
            "--methods", "erm", "mat",
            "--selection", *bench.SELECTIONS,
            "--seeds", "1",
            "--output-dir", str(tmp_path),
            "--quiet",
            *QUICK,
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
    # MAT's temperature comes from the grid; ERM has no knob.
    values = frame.set_index(["method", "selection"])["value"]
    assert values["mat", "groups"] in bench.HYPERPARAMETER_GRIDS["mat"][1]
    assert np.isnan(values["erm", "groups"])
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"worst_group_mean", "worst_group_std", "avg_mean", "avg_std"} <= set(
        summary.columns
    )
    table = (tmp_path / "results.md").read_text()
    assert "| interpretable | mat | inferred |" in table
    assert "±" not in table  # one seed: no spread to show
    assert "- interpretable: ERM" in table


def test_main_prints_table_and_summary(tmp_path, capsys):
    bench.main(
        [
            "--datasets", "interpretable",
            "--methods", "erm", "groupdro-oracle", "lr",
            "--selection", "groups",
            "--seeds", "2",
            "--output-dir", str(tmp_path),
            *QUICK,
        ]
    )
    out = capsys.readouterr().out
    assert "| interpretable | groupdro-oracle | groups | true |" in out
    assert "±" in out  # two seeds
    assert "Summary (worst-group test accuracy):" in out
    line = next(li for li in out.splitlines() if li.startswith("- interpretable:"))
    assert "ERM " in line and "MAT n/a" in line
    assert "best other with group labels:" in line
    frame = pd.read_csv(tmp_path / "results.csv")
    assert sorted(frame["seed"].unique()) == [0, 1]


def test_bad_output_dir_exits_2_before_any_fit(tmp_path, monkeypatch, capsys):
    def no_fit(*args, **kwargs):
        raise AssertionError("a fit started")

    monkeypatch.setattr(bench, "run_method", no_fit)
    monkeypatch.setattr(bench, "_LOADERS", {})  # no data loaded either
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(SystemExit) as exc:
        bench.main(["--output-dir", str(blocker / "out"), "--quiet"])
    assert exc.value.code == 2
    assert "--output-dir" in capsys.readouterr().err


def test_format_summary_picks_the_references():
    rows = [
        ("erm", "groups", 0.30), ("erm", "inferred", 0.25),
        ("mat", "groups", 0.92), ("mat", "inferred", 0.90),
        ("jtt", "inferred", 0.70), ("jtt", "groups", 0.95),
        ("groupdro-oracle", "inferred", 0.85),  # true training groups
        ("lr", "inferred", 0.40),
    ]
    summary = pd.DataFrame(
        [
            {"dataset": "d", "method": m, "selection": s, "worst_group_mean": v}
            for m, s, v in rows
        ]
    )
    line = bench.format_summary(summary)
    assert line.startswith("- d: ERM 0.250; MAT 0.900;")
    assert "best other without group labels: jtt (inferred) 0.700" in line
    assert "best other with group labels: jtt (groups) 0.950" in line
    assert "MAT gain: +0.650 over ERM, +0.200 over the best other" in line


def test_format_table_shows_spread_only_with_seeds():
    summary = pd.DataFrame(
        [
            {
                "dataset": "d", "method": m, "selection": "groups",
                "val_groups": "true", "worst_group_mean": 0.5,
                "worst_group_std": 0.1, "avg_mean": 0.8, "avg_std": 0.05,
                "fit_seconds": 1.0, "n_seeds": n,
            }
            for m, n in (("erm", 1), ("mat", 3))
        ]
    )
    erm_line, mat_line = bench.format_table(summary).splitlines()[2:]
    assert "±" not in erm_line and "| 0.500 |" in erm_line
    assert "0.500 ± 0.100" in mat_line


def test_missing_dataset_is_skipped(tmp_path, monkeypatch, capsys):
    def unavailable(*args):
        raise bench.DatasetUnavailable("no files here.")

    monkeypatch.setitem(bench._LOADERS, "adult", unavailable)
    status = bench.main(
        ["--datasets", "adult", "--output-dir", str(tmp_path / "out"), "--quiet"]
    )
    assert status == 1
    assert "skipping adult: no files here." in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.csv").exists()


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
    assert bench.fit_kwargs("lr", "groups", data) == {}
    kw = bench.fit_kwargs("dfr", "groups", data)
    np.testing.assert_array_equal(kw["group_labels_val"], data.group_labels_valid)


def test_every_method_gets_the_same_budget():
    for method in bench.METHODS:
        grid = bench.HYPERPARAMETER_GRIDS[method]
        if method in ("erm", "erm-balanced"):
            assert grid is None
        else:
            assert len(grid[1]) == 3, method


def test_scikit_learn_and_last_layer_rows(monkeypatch):
    data = bench._load_interpretable(0, 100, None)
    calls = []
    make = bench.make_estimator

    def counting(method, *args, **kwargs):
        calls.append(method)
        return make(method, *args, **kwargs)

    monkeypatch.setattr(bench, "make_estimator", counting)
    selections = ["groups", "inferred", "none"]
    rows = bench.run_method("interpretable", "lr", selections, 0, data, {})
    assert calls == ["lr"] * 3  # one fit per C, shared by the selections
    assert [r["val_groups"] for r in rows] == ["true", "class", "class"]
    assert all(r["value"] in (0.01, 0.1, 1.0) for r in rows)
    rows = bench.run_method("interpretable", "hgb", selections, 0, data, {})
    assert calls.count("hgb") == 1  # the grid reads the staged predictions
    assert all(r["value"] in (25, 50, 100) for r in rows)
    rows = bench.run_method(
        "interpretable", "dfr", selections, 0, data, {"max_epochs": 5}
    )
    assert [r["val_groups"] for r in rows] == ["true", "inferred", "class"]
    assert all(r["value"] in (1.0, 0.1, 0.01) for r in rows)
    rows = bench.run_method("interpretable", "erm", selections, 0, data,
                            {"max_epochs": 3})
    assert calls.count("erm") == 2  # 'inferred' is 'none' without XRM
    assert [r["val_groups"] for r in rows] == ["true", "class", "class"]
    for row in rows:
        assert set(row) == set(bench.RESULT_COLUMNS)


def test_a_failed_fit_drops_its_value(monkeypatch, capsys):
    data = bench._load_interpretable(0, 100, None)
    make = bench.make_estimator

    def failing_at_small_c(method, settings, seed, value=None, memory=None):
        clf = make(method, settings, seed, value, memory)
        if value == 0.01:
            clf.fit = lambda *a, **k: (_ for _ in ()).throw(FloatingPointError("boom"))
        return clf

    monkeypatch.setattr(bench, "make_estimator", failing_at_small_c)
    rows = bench.run_method("interpretable", "lr", ["groups"], 0, data, {})
    assert rows[0]["value"] in (0.1, 1.0)
    assert "a fit failed: interpretable seed 0 lr C=0.01" in capsys.readouterr().err


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
    assert "colored_digits3" in result.stdout
