"""Errors that the CLI turns into a one-line message and exit code 3."""
from __future__ import annotations


class InputError(ValueError):
    """Bad input data: missing/empty/corrupt file, missing dataset, wrong shape or dtype, NaN/Inf."""


class ConfigError(ValueError):
    """A bad option: unknown key, wrong type, out of range, unknown method or device."""
