"""`python -m dashboard.cli`, the same as the `tokensentry` console script."""

from .main import cli

cli()
