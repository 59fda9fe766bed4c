"""The one base class of errors a user can fix, and the line main() prints for every other exception.

`mirbench.cli.main` catches `MirbenchError` once and prints `error: <message>`
(exit 2); any other exception is a bug in mirbench and keeps its traceback,
followed by `INTERNAL_ERROR`. So a class derives from `MirbenchError` only when
its message is one line that says what is wrong and how to fix it, and nothing
catches a bare `ValueError` or `TypeError` to turn it into such a line: that
would print a programming error as if it were the user's mistake.
"""

from __future__ import annotations

#: printed after the traceback of any exception that is not a MirbenchError
INTERNAL_ERROR = "mirbench hit an internal error (a bug): please report it with the traceback above"


class MirbenchError(Exception):
    """A mistake of input or environment the user can fix; its message is one line saying what is wrong and how to
    fix it."""


class InputError(MirbenchError, ValueError):
    """A value the user gave (a command-line option or parameter, a split list, a device name) that cannot be used.
    A ValueError too, so checks that vet values by catching ValueError (a suite's protocol parameters) still see it."""
