"""`[store]` in the configuration: how long the store keeps raw rows and events.

Kept apart from config.py so the retention policy and its checks live beside the code that
applies it (`ingest/prune.py`); config.py only hands the table over.

```toml
[store]
retention_days = 180   # the nightly job prunes raw rows and events older than this
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

KEYS = {"retention_days"}


@dataclass(frozen=True)
class StoreConfig:
    # None: keep everything (the default); the nightly job prunes only when this is set.
    retention_days: int | None = None


def parse_store(body: Any) -> StoreConfig:
    if not isinstance(body, Mapping):
        raise ConfigError("store: expected a table")
    for name in body:
        if name not in KEYS:
            raise ConfigError(f"store.{name}: unknown key (expected one of {', '.join(KEYS)})")
    days = body.get("retention_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ConfigError("store.retention_days: expected a whole number of days, at least 1")
    return StoreConfig(retention_days=days)
