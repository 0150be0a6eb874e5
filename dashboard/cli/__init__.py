"""The `tokensentry` command line: the third human surface, beside the web app and the digest."""

from .main import cli

__all__ = ["cli"]
