"""Warnings and errors raised by skmat."""


class DegenerateEnvironmentWarning(UserWarning):
    """XRM found a single environment for some class.

    The inferred groups ``(y, m)`` then cannot single out the minority of that
    class, and worst-group selection on inferred groups degrades to accuracy
    on that class.
    """


class FeatureScaleWarning(UserWarning):
    """The features of X are on very different scales.

    The networks train with SGD at a step size that the largest feature
    bounds (``lr="auto"``; a fixed ``lr`` large enough for the small
    features diverges on the large one), so features hundreds of times
    smaller barely train within the budget. Standardise X first, for
    instance with :class:`~sklearn.preprocessing.StandardScaler` in a
    pipeline.
    """


class DivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite."""


__all__ = ["DegenerateEnvironmentWarning", "DivergedError", "FeatureScaleWarning"]
