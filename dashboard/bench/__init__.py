"""`tokensentry bench`: throughput and peak memory of every stage on generated data."""

from .pipeline import run_bench

__all__ = ["run_bench"]
