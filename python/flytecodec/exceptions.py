"""Exceptions: :class:`DecodeError` for bad input, :class:`InternalError` for a bug, :class:`FlyteAssertion` as
flytekit raises it."""

from __future__ import annotations

import sys


class DecodeError(ValueError):
    """Input that is not a valid message of the requested kind.

    ``index`` is the position of the message that failed in its batch (0 for a single message) and
    ``offset`` the byte offset in the input where that message (or the broken framing) starts. ``reason`` says
    what is wrong, in the same words on both backends; ``hint``, when there is one, what to do about it (the
    input looks like JSON or compressed data, another framing reads it, the file ends inside a record…).
    """

    def __init__(
        self, reason: str, *, index: int = 0, offset: int = 0, model: str | None = None, hint: str | None = None
    ):
        self.reason = reason
        self.index = index
        self.offset = offset
        self.model = model
        self.hint = hint
        what = f"{model} " if model else ""
        told = f" (hint: {hint})" if hint else ""
        super().__init__(f"cannot decode {what}message {index} at byte offset {offset}: {reason}{told}")

    def __reduce__(self):
        return _rebuild_decode_error, (self.reason, self.index, self.offset, self.model, self.hint)


def _rebuild_decode_error(reason, index, offset, model, hint=None):
    return DecodeError(reason, index=index, offset=offset, model=model, hint=hint)


class InternalError(RuntimeError):
    """A bug in flytecodec itself (e.g. a panic in the native backend, caught before it reaches Python as
    ``pyo3_runtime.PanicException``). The message says what failed; please report it with the input."""


class FlyteAssertion(AssertionError):
    """Raised where flytekit raises ``flytekit.exceptions.user.FlyteAssertion``.

    When flytekit is imported in the process, the exception raised is also an instance of flytekit's class, so
    ``except flytekit.exceptions.user.FlyteAssertion`` keeps working after switching imports.
    """


_combined: dict = {}


def flyte_assertion(message: str) -> FlyteAssertion:
    """A :class:`FlyteAssertion`, that is also flytekit's FlyteAssertion when flytekit is loaded."""
    theirs = getattr(sys.modules.get("flytekit.exceptions.user"), "FlyteAssertion", None)
    if theirs is None:
        return FlyteAssertion(message)
    cls = _combined.get(theirs)
    if cls is None:
        cls = _combined[theirs] = type("FlyteAssertion", (FlyteAssertion, theirs), {"__module__": __name__})
    return cls(message)
