"""Where a secret lives: `{ env = "VAR" }` or `{ file = "path" }`, never a value in the file.

A reference is resolved only by the code that needs it, so `detect` runs without Salesforce
credentials, and its `repr` never shows the value, because it never holds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .values import path


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives. `repr` never shows the value, because it never holds it."""

    key_path: str
    env: str | None = None
    file: Path | None = None

    def resolve(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                # Worded so the key path is not followed by ": ": every message is scrubbed
                # on its way out, and `password: word` reads as a secret assignment there.
                raise ConfigError(
                    f"environment variable {self.env} (for {self.key_path}) is not set"
                )
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot read {self.file} (for {self.key_path}): {exc.strerror}"
            ) from None

    def describe(self) -> str:
        return f"env {self.env}" if self.env else f"file {self.file}"


def secret_ref(key: str, value: Any, base_dir: Path) -> SecretRef:
    if isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str):
        return SecretRef(key_path=key, env=value["env"])
    if isinstance(value, Mapping) and set(value) == {"file"} and isinstance(value["file"], str):
        return SecretRef(key_path=key, file=path(base_dir, value["file"]))
    raise ConfigError(
        f'{key}: write secrets as {{ env = "VAR" }} or {{ file = "path" }}, never inline'
    )
