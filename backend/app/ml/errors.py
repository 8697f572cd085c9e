"""Exceptions raised by the document-restoration domain code.

They are deliberately plain so that queue handlers can map them to job states:
``MLInputError`` -> failed permanently (bad input, retrying will not help),
``OperationCancelled``/``TrainingCancelled`` -> cancelled, ``TrainingDiverged`` -> failed
with an actionable hint.
"""

from __future__ import annotations


class MLInputError(ValueError):
    """Bad input: corrupt/truncated image, over pixel limit, empty/invalid dataset, unknown model file.

    The message is meant to be shown to a human and says what to fix.
    """


class OperationCancelled(Exception):
    """A long-running operation stopped because ``should_stop()`` returned True."""


class TrainingCancelled(OperationCancelled):
    """Training stopped on request; a resumable checkpoint was written before raising."""


class TrainingDiverged(RuntimeError):
    """The training loss became NaN/inf; the message says at which step and suggests a lower learning rate."""
