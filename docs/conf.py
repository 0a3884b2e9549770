"""Sphinx configuration of the skmat documentation.

Build with ``bash .ci/docs`` or, in an environment with skmat and
``docs/requirements.txt`` installed,
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

import os
import sys
import warnings
from pathlib import Path

# The examples run at build time: one thread per BLAS/torch pool keeps them
# predictable on shared machines (set before torch is imported; override with
# OMP_NUM_THREADS), and a non-interactive matplotlib backend.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import skmat  # noqa: E402

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# -- Project -----------------------------------------------------------------
project = "skmat"
author = "The skmat developers"
copyright = "The skmat developers"
version = skmat.__version__
release = skmat.__version__

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "skmat_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_ext",
    "_templates",
    # Included by benchmark_suite.md when present; not pages of their own.
    "results",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "**/*.md5",
]
default_role = "literal"
pygments_style = "sphinx"
nitpicky = False
suppress_warnings = [
    # MyST: headings in the included benchmark pages start at level 1 or 2.
    "myst.header",
]

# No network: intersphinx is not loaded, so references to numpy, scipy,
# scikit-learn, torch and skorch objects are plain text.

# -- autodoc / autosummary / numpydoc ------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
autodoc_member_order = "groupwise"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "skmat_docs.ExampleOrder",
    "doc_module": ("skmat",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skmat": None},
    "reset_modules": ("matplotlib", "skmat_docs.reset_sklearn_config"),
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
    "matplotlib_animations": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "first_notebook_cell": None,
}

# Warnings raised by the examples themselves (e.g. XRM's
# DegenerateEnvironmentWarning) show in their output, not as build warnings.
warnings.filterwarnings("ignore", category=UserWarning, module="matplotlib")

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skmat {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}

# -- MyST ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
