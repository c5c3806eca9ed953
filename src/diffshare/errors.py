"""Exceptions raised by diffshare. Each message names the value or file at fault."""


class DiffshareError(ValueError):
    """Base class for every error diffshare raises on bad input."""


class DataError(DiffshareError):
    """A data file is missing, altered, or does not match its dataset description."""


class ConfigError(DiffshareError):
    """A configuration value is invalid or refers to something that does not exist."""
