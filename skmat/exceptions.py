"""Warnings and errors raised by skmat."""


class DegenerateEnvironmentWarning(UserWarning):
    """XRM found a single environment for some class.

    The inferred groups ``(y, m)`` then cannot single out the minority of that
    class, and worst-group selection on inferred groups degrades to accuracy
    on that class.
    """


class DivergedError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite."""


__all__ = ["DegenerateEnvironmentWarning", "DivergedError"]
