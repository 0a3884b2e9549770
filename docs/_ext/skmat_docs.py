"""Helpers of the skmat documentation build (loaded by ``conf.py``).

They live in a module, not in ``conf.py``, so that sphinx-gallery can refer
to them by name and Sphinx can pickle its configuration.
"""

import ast
import importlib
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)

#: Order of the examples in the gallery; others go last, by file name.
EXAMPLE_ORDER = [
    "plot_quickstart.py",
    "plot_interpretable.py",
    "plot_grid_search.py",
    "plot_adult_pipeline.py",
    "plot_memorization.py",
]

#: Public modules whose names the API reference must list: those with an
#: ``__all__``, plus the module-level functions and classes of the others.
PUBLIC_MODULES = [
    "skmat",
    "skmat.baselines",
    "skmat.datasets",
    "skmat.exceptions",
    "skmat.inspection",
    "skmat.metrics",
    "skmat.model_selection",
    "skmat.bench",
]


class ExampleOrder:
    """Sort key of sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        """Sort key of an example file: its rank in ``EXAMPLE_ORDER``."""
        name = Path(filename).name
        if name in EXAMPLE_ORDER:
            return f"{EXAMPLE_ORDER.index(name):03d}"
        return f"999{name}"

    def __repr__(self):
        return f"ExampleOrder({EXAMPLE_ORDER})"


def reset_sklearn_config(gallery_conf, fname):
    """Reset scikit-learn's global configuration before each example.

    An example that calls ``sklearn.set_config`` (e.g. to enable metadata
    routing) must not change how the next one runs.
    """
    import sklearn

    sklearn.set_config(**_DEFAULT_SKLEARN_CONFIG)


def _default_sklearn_config():
    import sklearn

    return dict(sklearn.get_config())


_DEFAULT_SKLEARN_CONFIG = _default_sklearn_config()


def public_names(module_name):
    """Fully qualified public names of a module."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        source = Path(module.__file__).read_text(encoding="utf-8")
        names = []
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.append(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                names += [t.id for t in targets if isinstance(t, ast.Name)]
        names = [name for name in names if not name.startswith("_")]
    return {f"{module_name}.{name}" for name in names if not name.startswith("__")}


def documented_names(api_file):
    """Fully qualified names listed in the autosummary tables of ``api.rst``."""
    documented, current = set(), None
    for line in Path(api_file).read_text(encoding="utf-8").splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if match:
            current = match.group(1)
            continue
        match = re.match(r"^   ([A-Za-z_][\w.]*)\s*$", line)
        if match and current is not None and not line.strip().startswith(":"):
            documented.add(f"{current}.{match.group(1)}")
    return documented


def check_api_coverage(app):
    """Warn (an error under ``-W``) for each public name missing from api.rst."""
    documented = documented_names(Path(app.srcdir) / "api.rst")
    for module_name in PUBLIC_MODULES:
        for name in sorted(public_names(module_name) - documented):
            logger.warning(
                "%s is public but not listed in docs/api.rst; add it to the "
                "API reference.",
                name,
            )


RESULTS_DOCNAME = "benchmark_suite"
RESULTS_FILE = Path("results") / "results.md"
RESULTS_IMAGE = Path("results") / "results.png"
RESULTS_README = Path("results") / "README.md"


def add_benchmark_results(app, docname, source):
    """Append ``docs/results/results.md`` (and its chart) when they exist.

    The results come from a benchmark run and may not exist yet; the page
    says so instead of failing the build.
    """
    if docname != RESULTS_DOCNAME:
        return
    srcdir = Path(app.srcdir)
    if (srcdir / RESULTS_README).is_file():
        # The README's own title becomes a section of this page.
        text = (
            f"\n```{{include}} {RESULTS_README.as_posix()}\n:heading-offset: 1\n```\n"
        )
    else:
        text = "\n## Results\n"
    if (srcdir / RESULTS_FILE).is_file():
        text += f"\n```{{include}} {RESULTS_FILE.as_posix()}\n```\n"
        if (srcdir / RESULTS_IMAGE).is_file():
            text += (
                f"\n```{{image}} {RESULTS_IMAGE.as_posix()}\n"
                ":alt: Worst-group test accuracy per method and selection\n```\n"
            )
    else:
        text += (
            "\n```{note}\nNo results yet: `docs/results/results.md` is written "
            "by a run of the benchmark (see above). Rebuild the documentation "
            "once it exists.\n```\n"
        )
    source[0] += text


SKLEARN_URL = "https://scikit-learn.org/stable/"

#: Terms of scikit-learn's glossary used by docstrings (skmat's own and the
#: ones inherited from scikit-learn's base classes).
SKLEARN_TERMS = {"random_state", "meta-estimator", "n_jobs", "glossary"}

#: Labels of scikit-learn's user guide used by inherited docstrings.
SKLEARN_LABELS = {
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
}


def _sklearn_page(target):
    """URL of a scikit-learn object's reference page, or None."""
    parts = target.split(".")
    if parts[0] != "sklearn":
        return None
    # The longest importable module prefix; the next name has the page.
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if not hasattr(module, parts[i]):
            return None
        page = ".".join(parts[: i + 1])
        anchor = f"#{target}" if i + 1 < len(parts) else ""
        return f"{SKLEARN_URL}modules/generated/{page}.html{anchor}"
    return None


#: A few objects of other projects named in the docs.
EXTERNAL_LINKS = {
    "pickle": "https://docs.python.org/3/library/pickle.html",
    "joblib": "https://joblib.readthedocs.io/en/stable/",
    "joblib.Memory": "https://joblib.readthedocs.io/en/stable/generated/joblib.Memory.html",
    "torch.nn.Module": "https://pytorch.org/docs/stable/generated/torch.nn.Module.html",
}


def _resolve_skmat_name(app, env, node, contnode):
    """Resolve an unqualified skmat name to its page.

    E.g. ``MATClassifier`` written in a docstring of another module: resolved
    when exactly one documented skmat object has that name.
    """
    target = node.get("reftarget", "").lstrip("~.")
    if not target or target.startswith(("skmat.", "sklearn.")):
        return None
    objects = env.get_domain("py").objects
    matches = [
        name
        for name, entry in objects.items()
        if name.startswith("skmat.")
        and name.endswith("." + target)
        and not getattr(entry, "aliased", False)
    ]
    if len(matches) != 1:
        return None
    entry = objects[matches[0]]
    return make_refnode(
        app.builder, node["refdoc"], entry.docname, entry.node_id, contnode
    )


def link_to_sklearn(app, env, node, contnode):
    """Resolve references to scikit-learn objects, terms and labels to its site.

    There is no network at build time, so intersphinx is off; these links are
    built from the stable URL scheme of scikit-learn's documentation. Other
    unresolved references still warn.
    """
    domain, reftype = node.get("refdomain"), node.get("reftype")
    target = node.get("reftarget", "")
    url = None
    if domain == "py" and reftype in {"class", "func", "meth", "attr", "obj", "exc"}:
        url = _sklearn_page(target.lstrip("~."))
    elif domain == "std" and reftype == "term" and target.lower() in SKLEARN_TERMS:
        url = f"{SKLEARN_URL}glossary.html#term-{target.lower()}"
    elif domain == "std" and reftype == "ref" and target in SKLEARN_LABELS:
        url = SKLEARN_URL + SKLEARN_LABELS[target]
    if url is None and domain == "py":
        url = EXTERNAL_LINKS.get(target.lstrip("~."))
    if url is None and domain == "py":
        return _resolve_skmat_name(app, env, node, contnode)
    if url is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=url)
    reference.append(contnode)
    return reference


_UNDERSCORE_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def quote_shape_names(app, what, name, obj, options, lines):
    """Quote names ending in ``_`` in shape specs, e.g. ``(n_features_in_,)``.

    Unquoted, reST reads ``n_features_in_`` as a reference to a target named
    ``n_features_in`` and fails.
    """
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _UNDERSCORE_NAME.sub(r"``\1``", line)


#: Descriptions of the public constants of ``skmat.bench``, which have no
#: ``#:`` doc comment in the code (autodoc would show the docstring of
#: ``tuple`` or ``list`` instead).
CONSTANT_DOCS = {
    "skmat.bench.DATASETS": "The datasets that ``skmat-bench --datasets`` accepts.",
    "skmat.bench.DEFAULT_DATASETS": "The datasets run when ``--datasets`` is "
    "not given (those that need no files).",
    "skmat.bench.METHODS": "The methods that ``--methods`` accepts; all run by "
    "default.",
    "skmat.bench.SELECTIONS": "The selections (validation groups for early "
    "stopping) that ``--selection`` accepts.",
    "skmat.bench.DEFAULT_SELECTIONS": "The selections run when ``--selection`` "
    "is not given.",
    "skmat.bench.RESULT_COLUMNS": "The columns of ``results.csv``, one row per fit.",
}


def describe_constants(app, what, name, obj, options, lines):
    """Replace the docstring that a constant inherits from its type."""
    if what not in ("data", "attribute") or name not in CONSTANT_DOCS:
        return
    type_doc = (type(obj).__doc__ or "").strip()
    if not lines or "\n".join(lines).strip() == type_doc:
        lines[:] = [CONSTANT_DOCS[name], ""]


def setup(app):
    """Register the helpers with Sphinx."""
    app.connect("builder-inited", check_api_coverage)
    app.connect("source-read", add_benchmark_results)
    app.connect("missing-reference", link_to_sklearn)
    # Before numpydoc (priority 500) turns the docstring into reST.
    app.connect("autodoc-process-docstring", quote_shape_names, priority=400)
    app.connect("autodoc-process-docstring", describe_constants, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
