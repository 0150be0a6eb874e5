"""`tokensentry demo`: the embedded default, the whole product on a simulated fleet."""

from .pipeline import run_demo

__all__ = ["run_demo"]
