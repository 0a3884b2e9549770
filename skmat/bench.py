"""Benchmark of MAT against the baselines: worst-group test accuracy.

Run ``skmat-bench`` or ``python -m skmat.bench``. Each method trains on the
training split of a dataset and early-stops on its validation split; the
test split gives the worst-group and average accuracy. The default run (the
built-in interpretable and coloured-digits datasets, every method, every
selection, 3 seeds) takes under two minutes on two CPU cores.

Methods
-------
erm
    :class:`~skmat.baselines.ERMClassifier`.
mat
    :class:`~skmat.MATClassifier` (XRM held-out logits, no group labels).
jtt
    :class:`~skmat.baselines.JTTClassifier` (no group labels in training).
groupdro-xrm
    :class:`~skmat.baselines.GroupDROClassifier` on XRM-inferred training
    groups (the XRM paper's recipe; no group labels in training).
groupdro-oracle
    :class:`~skmat.baselines.GroupDROClassifier` on the true training groups.

Selection (which validation groups drive early stopping)
--------------------------------------------------------
groups
    The true validation group labels (``group_labels_val``).
inferred
    No group labels: MAT and GroupDRO-XRM score the validation rows with the
    groups their XRM infers; ERM, JTT and GroupDRO-oracle fall back to
    worst-class accuracy.
none
    Worst-class accuracy for every method.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DATASETS = ("interpretable", "colored_digits", "adult")
DEFAULT_DATASETS = ("interpretable", "colored_digits")
METHODS = ("erm", "mat", "jtt", "groupdro-xrm", "groupdro-oracle")
SELECTIONS = ("groups", "inferred", "none")
DEFAULT_SELECTIONS = SELECTIONS

#: Network settings of every method, per dataset (the estimators' own
#: defaults otherwise: SGD, momentum 0.9, 100 epochs, patience 20).
NETWORK_SETTINGS = {
    # The linear defaults: the paper's model class on its own data.
    "interpretable": {},
    # An MLP(256); small batches give SGD enough steps on ~900 images.
    "colored_digits": {"module": "mlp", "lr": 0.05, "batch_size": 64},
    # An MLP(256) with Adam on the standardised, one-hot-encoded census data.
    "adult": {
        "module": "mlp",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 512,
        "max_epochs": 50,
        "n_iter_no_change": 10,
    },
}

RESULT_COLUMNS = [
    "dataset",
    "method",
    "selection",
    "seed",
    "worst_group_acc",
    "avg_acc",
    "fit_seconds",
    "val_groups",
    "best_epoch",
    "n_epochs",
]


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
class DatasetUnavailable(Exception):
    """A dataset whose files are missing; the benchmark skips it."""


def default_data_home():
    """Where to look for the Adult files when ``--data-home`` is not given.

    ``$SKMAT_DATA_HOME``, else ``../shared/data`` relative to the working
    directory if it exists, else scikit-learn's data home (``None``, which
    :func:`~skmat.datasets.fetch_adult` resolves).
    """
    env = os.environ.get("SKMAT_DATA_HOME")
    if env:
        return Path(env)
    shared = Path.cwd().parent / "shared" / "data"
    if shared.is_dir():
        return shared
    return None


def _load_interpretable(seed, n_samples, data_home):
    from .datasets import make_spurious_memorization

    return make_spurious_memorization(
        n_samples=1000 if n_samples is None else n_samples, random_state=seed
    )


def _load_colored_digits(seed, n_samples, data_home):
    from .datasets import make_colored_digits

    return make_colored_digits(random_state=seed)


def _load_adult(seed, n_samples, data_home):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from .datasets import fetch_adult

    try:
        train = fetch_adult(
            data_home=data_home, subset="train", download_if_missing=False
        )
        test = fetch_adult(
            data_home=data_home, subset="test", download_if_missing=False
        )
    except FileNotFoundError as exc:
        raise DatasetUnavailable(
            f"{exc} Pass --data-home or set SKMAT_DATA_HOME to the folder with "
            "adult.data and adult.test."
        ) from exc
    rows = np.arange(len(train.target))
    if n_samples is not None and n_samples < len(rows):
        rows, _ = train_test_split(
            rows, train_size=n_samples, stratify=train.group_labels, random_state=seed
        )
    fit_rows, valid_rows = train_test_split(
        rows, test_size=0.2, stratify=train.group_labels[rows], random_state=seed
    )
    numeric = [train.feature_names.index(name) for name in train.numeric_features]
    scaler = StandardScaler().fit(train.data[fit_rows][:, numeric])

    def prepare(X):
        X = X.copy()
        X[:, numeric] = scaler.transform(X[:, numeric])
        return X

    from sklearn.utils import Bunch

    return Bunch(
        X_train=prepare(train.data[fit_rows]),
        y_train=train.target[fit_rows],
        group_labels_train=train.group_labels[fit_rows],
        X_valid=prepare(train.data[valid_rows]),
        y_valid=train.target[valid_rows],
        group_labels_valid=train.group_labels[valid_rows],
        X_test=prepare(test.data),
        y_test=test.target,
        group_labels_test=test.group_labels,
    )


_LOADERS = {
    "interpretable": _load_interpretable,
    "colored_digits": _load_colored_digits,
    "adult": _load_adult,
}


# --------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------
def make_estimator(method, settings, seed):
    """Build a fresh estimator of ``method`` with the network settings."""
    from . import MATClassifier
    from .baselines import ERMClassifier, GroupDROClassifier, JTTClassifier

    params = dict(settings, random_state=seed)
    if method == "erm":
        return ERMClassifier(**params)
    if method == "mat":
        return MATClassifier(**params)
    if method == "jtt":
        return JTTClassifier(**params)
    if method == "groupdro-xrm":
        return GroupDROClassifier(group_source="xrm", **params)
    if method == "groupdro-oracle":
        return GroupDROClassifier(group_source="given", **params)
    raise ValueError(f"Unknown method {method!r}; choose from {METHODS}.")


def fit_kwargs(method, selection, data):
    """Fit arguments: the validation split, and its groups for ``selection``."""
    kwargs = {"X_val": data.X_valid, "y_val": data.y_valid}
    if selection == "groups":
        kwargs["group_labels_val"] = data.group_labels_valid
    elif selection == "none":
        # Groups equal to the classes: worst-class accuracy, and no inferred
        # groups for the methods that would otherwise use them.
        kwargs["group_labels_val"] = data.y_valid
    if method == "groupdro-oracle":
        kwargs["group_labels"] = data.group_labels_train
    return kwargs


def run_one(dataset, method, selection, seed, data, settings):
    """Fit one estimator and score it on the test split."""
    from .metrics import worst_group_accuracy

    clf = make_estimator(method, settings, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(data.X_train, data.y_train, **fit_kwargs(method, selection, data))
    seconds = time.perf_counter() - start
    pred = clf.predict(data.X_test)
    source = clf.validation_groups_source_
    if selection == "none":
        source = "class"
    elif source == "group_labels":
        source = "true"
    return {
        "dataset": dataset,
        "method": method,
        "selection": selection,
        "seed": seed,
        "worst_group_acc": float(
            worst_group_accuracy(data.y_test, pred, group_labels=data.group_labels_test)
        ),
        "avg_acc": float(np.mean(pred == data.y_test)),
        "fit_seconds": seconds,
        "val_groups": source,
        "best_epoch": clf.best_epoch_,
        "n_epochs": clf.n_epochs_,
    }


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------
def summarize(frame):
    """Mean and standard deviation over seeds per dataset, method, selection."""
    keys = ["dataset", "method", "selection"]
    grouped = frame.groupby(keys, sort=False)
    summary = grouped.agg(
        worst_group_mean=("worst_group_acc", "mean"),
        worst_group_std=("worst_group_acc", "std"),
        avg_mean=("avg_acc", "mean"),
        avg_std=("avg_acc", "std"),
        fit_seconds=("fit_seconds", "mean"),
        n_seeds=("seed", "count"),
        val_groups=("val_groups", lambda s: "/".join(sorted(set(s)))),
    ).reset_index()
    return summary.fillna({"worst_group_std": 0.0, "avg_std": 0.0})


def format_table(summary):
    """Format the summary as a markdown table with ``mean ± std`` cells."""
    header = (
        "| dataset | method | selection | val groups | worst-group acc | "
        "average acc | fit time (s) |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    for row in summary.itertuples(index=False):
        lines.append(
            f"| {row.dataset} | {row.method} | {row.selection} | {row.val_groups} "
            f"| {row.worst_group_mean:.3f} ± {row.worst_group_std:.3f} "
            f"| {row.avg_mean:.3f} ± {row.avg_std:.3f} | {row.fit_seconds:.1f} |"
        )
    return "\n".join(lines)


def plot(summary, path):
    """Bar chart of worst-group accuracy; returns False without matplotlib."""
    try:
        # A bare Figure draws without pyplot: no backend switch, no window.
        from matplotlib.figure import Figure
    except ImportError:
        return False
    datasets = list(dict.fromkeys(summary["dataset"]))
    fig = Figure(figsize=(5 * len(datasets), 4.4))
    axes = fig.subplots(1, len(datasets), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        part = summary[summary["dataset"] == dataset]
        methods = list(dict.fromkeys(part["method"]))
        selections = list(dict.fromkeys(part["selection"]))
        width = 0.8 / len(selections)
        for i, selection in enumerate(selections):
            sub = part[part["selection"] == selection].set_index("method")
            sub = sub.reindex(methods)
            x = np.arange(len(methods)) + (i - (len(selections) - 1) / 2) * width
            ax.bar(
                x,
                sub["worst_group_mean"],
                width,
                yerr=sub["worst_group_std"],
                label=f"selection: {selection}",
                capsize=2,
            )
        ax.set_xticks(np.arange(len(methods)))
        ax.set_xticklabels(methods, rotation=30, ha="right")
        ax.set_ylim(0, 1)
        ax.set_title(dataset)
        ax.set_ylabel("worst-group test accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels),
               fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=120)
    return True


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def build_parser():
    """Build the argument parser of ``skmat-bench``."""
    parser = argparse.ArgumentParser(
        prog="skmat-bench",
        description="Worst-group accuracy of MAT against ERM, JTT and GroupDRO.",
        epilog=(
            "Selections: 'groups' early-stops on true validation groups; "
            "'inferred' on XRM-inferred groups (MAT, GroupDRO-XRM) or worst-class "
            "accuracy (the others); 'none' on worst-class accuracy."
        ),
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DEFAULT_DATASETS),
        help="datasets (default: %(default)s; adult reads --data-home)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="methods (default: all)",
    )
    parser.add_argument(
        "--selection",
        nargs="+",
        choices=SELECTIONS,
        default=list(DEFAULT_SELECTIONS),
        help="validation groups for early stopping (default: %(default)s)",
    )
    parser.add_argument(
        "--seeds", type=int, default=3, help="number of seeds (default: 3)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("bench_results"),
        help="where results.csv, summary.csv, results.md and results.png go "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="folder with adult.data and adult.test (default: $SKMAT_DATA_HOME, "
        "else ../shared/data if it exists, else scikit-learn's data home)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=None,
        help="rows per split of interpretable, training rows of adult "
        "(default: the full datasets; colored_digits is fixed)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="override every dataset's max_epochs (for quick runs)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default: 1; these networks are small)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no table"
    )
    return parser


def main(argv=None):
    """Run the benchmark; the entry point of ``skmat-bench``.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 if no requested dataset could be loaded.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from . import _torch

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    for name in ("n_samples", "max_epochs", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    data_home = args.data_home if args.data_home is not None else default_data_home()

    def say(message):
        if not args.quiet:
            tqdm.write(message, file=sys.stderr)

    datasets = list(dict.fromkeys(args.datasets))
    methods = list(dict.fromkeys(args.methods))
    selections = list(dict.fromkeys(args.selection))
    total = len(datasets) * args.seeds * len(methods) * len(selections)

    previous_threads = _torch.set_num_threads(args.threads)
    rows, skipped = [], []
    start = time.perf_counter()
    try:
        with tqdm(total=total, file=sys.stderr, disable=args.quiet, unit="fit") as bar:
            for dataset in datasets:
                settings = dict(NETWORK_SETTINGS[dataset])
                if args.max_epochs is not None:
                    settings["max_epochs"] = args.max_epochs
                for seed in range(args.seeds):
                    try:
                        data = _LOADERS[dataset](seed, args.n_samples, data_home)
                    except DatasetUnavailable as exc:
                        print(
                            f"skmat-bench: skipping {dataset}: {exc}",
                            file=sys.stderr,
                        )
                        skipped.append(dataset)
                        left = args.seeds - seed
                        bar.update(left * len(methods) * len(selections))
                        break
                    for method in methods:
                        for selection in selections:
                            bar.set_description(f"{dataset} s{seed} {method}")
                            result = run_one(
                                dataset, method, selection, seed, data, settings
                            )
                            rows.append(result)
                            bar.update()
    finally:
        _torch.set_num_threads(previous_threads)
    elapsed = time.perf_counter() - start

    if not rows:
        print(
            f"skmat-bench: no results: could not load {', '.join(skipped)}.",
            file=sys.stderr,
        )
        return 1

    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    summary = summarize(frame)
    table = format_table(summary)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "results.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    note = (
        f"Test accuracy over {args.seeds} seed(s); early stopping on each "
        f"dataset's validation split. Total wall time {elapsed:.0f} s "
        f"({args.threads} torch thread(s)).\n\n"
    )
    (out / "results.md").write_text(note + table + "\n", encoding="utf-8")
    has_plot = plot(summary, out / "results.png")
    if not args.quiet:
        print(table)
        print(f"\n{len(rows)} fits in {elapsed:.0f} s; results in {out}/")
        if not has_plot:
            print(
                "(no results.png: matplotlib is not installed; "
                "pip install 'skmat[plot]')"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
