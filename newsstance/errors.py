"""User-facing errors: each says what was expected, what was found and how to fix it.

The CLI turns any `NewsstanceError` into one readable message and a non-zero exit,
without a traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class NewsstanceError(Exception):
    """An error caused by the user's input (files, config, model folder)."""

    exit_code = 2


class ConfigError(NewsstanceError):
    """One or more problems in a config file, all reported together."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid config:\n  " + "\n  ".join(problems))


class DataError(NewsstanceError):
    """A data file is missing, unreadable or holds invalid rows."""


class ModelFolderError(NewsstanceError):
    """A model folder is missing or is not a newsstance model."""


class OutputExistsError(NewsstanceError):
    """An output folder already holds a different run."""
