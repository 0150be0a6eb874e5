"""One root exception, so the CLI can turn every expected failure into a located message."""

from __future__ import annotations


class TokensentryError(Exception):
    """An expected failure whose message names the file, org, key or line at fault."""


class ConfigError(TokensentryError):
    """The configuration file is missing a key, has a bad value, or cannot be read.

    The message starts with the dotted key path, e.g. ``orgs.acme-prod.instance_url: missing``.
    """


class InputError(TokensentryError):
    """A whole input (file, org, request) cannot be used; rows of it are not loaded."""
