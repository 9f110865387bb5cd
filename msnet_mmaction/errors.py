"""Errors whose message says what went wrong and what to do.

The command-line tools print such an error as one line, ``error: <message>``, and exit with
status 1, instead of a traceback: the traceback would only show where the problem was found.
"""


class ActionableError(RuntimeError):
    """A failure the user can act on, fully described by its message."""
