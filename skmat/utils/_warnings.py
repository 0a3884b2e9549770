"""Warnings that point at the user's line, not at skmat's internals."""

import inspect
import os

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_stack_level():
    """Stack level of the first frame outside skmat (and sklearn's, joblib's).

    joblib is skipped for ``Memory.cache``, which wraps the nested XRM fit
    even with ``memory=None``.

    For ``warnings.warn(..., stacklevel=find_stack_level())`` raised however
    deep inside nested estimators (MAT fits an XRM): the warning then names
    the user's line.
    """
    import joblib
    import sklearn

    skip = tuple(
        os.path.dirname(path) + os.sep
        for path in (os.path.join(_PACKAGE_DIR, ""), sklearn.__file__, joblib.__file__)
    )
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            if not frame.f_code.co_filename.startswith(skip):
                break
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return max(level, 1)
