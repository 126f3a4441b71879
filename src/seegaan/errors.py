"""Typed errors.

Every error a user can cause (bad file, bad option, bad table) is raised as a subclass of
:class:`SeegaanError`. The CLI prints ``str(err)`` as one line and exits non-zero; anything
else is a bug and shows a traceback only with ``--debug``.

Messages name the thing at fault first (file, row, column, option) and then what is wrong,
e.g. ``"images/p01.png: truncated PNG file"``.
"""

from __future__ import annotations


class SeegaanError(Exception):
    """Base class for every error caused by user input. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class InputError(SeegaanError):
    """A file, table row or column the user gave cannot be used."""


class OptionError(SeegaanError):
    """A command-line option or function argument is out of range or inconsistent."""


class OutputExistsError(SeegaanError):
    """An output path already exists and ``overwrite`` was not requested."""


class CheckpointError(SeegaanError):
    """A checkpoint is missing, tampered with, pickled, or does not match its config."""


class ModelError(SeegaanError):
    """A user's model cannot be loaded, run, or used for the requested method."""


class OutputLockedError(SeegaanError):
    """Another seegaan run is writing the same output right now."""
