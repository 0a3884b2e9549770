"""Helpers shared by the subpackages of skmat (not public API).

- ``_validation``: the one check of group labels and their integer codes;
- ``_docstring``: parameter descriptions written once and inserted into the
  docstrings of every estimator that takes them.

Nothing here imports torch or skorch.
"""
