"""Settings shared by the benchmark scripts."""

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
