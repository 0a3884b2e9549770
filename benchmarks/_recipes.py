"""Settings shared by the benchmark scripts."""

import numpy as np

#: The MAT paper's recipe for its interpretable experiment (Bayat et al., ICLR
#: 2025): a linear model without bias trained by full-batch SGD at lr 1e-2 for
#: 1000 epochs. MAT adds temperature=0.1.
PAPER_RECIPE = dict(
    module="linear",
    module_params={"bias": False},
    optimizer="sgd",
    lr=1e-2,
    momentum=0.0,
    batch_size=None,
    max_epochs=1000,
)


def markdown_table(frame):
    """A data frame (index included) as a Markdown table, without ``tabulate``."""
    frame = frame.reset_index()
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.to_numpy()]
    return "\n".join(lines) + "\n"


def flip_labels(y, rate, seed):
    """``y`` with each label set to another class at random with probability ``rate``.

    Integer labels ``0 .. n_classes - 1``; in binary, the other label.
    """
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    flip = rng.random(len(y)) < rate
    return np.where(flip, (y + rng.integers(1, n_classes, len(y))) % n_classes, y)
