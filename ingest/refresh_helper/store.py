"""Where the refresh token of each (org, user, app) lives between exchanges.

`TokenStore` is the interface; `FileTokenStore` the default: one JSON file per key, readable by
its owner only (0600, in a 0700 folder), replaced atomically, so a reader (or a worker killed
halfway through a write) sees the old state or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class TokenKey:
    """Whose token: the org, the integration user and the connected app / ECA name."""

    org_id: str
    user_id: str
    app: str

    def label(self) -> str:
        return f"org {self.org_id} user {self.user_id} app {self.app!r}"

    def digest(self) -> str:
        return hashlib.sha256(f"{self.org_id}|{self.user_id}|{self.app}".encode()).hexdigest()


@dataclass(frozen=True)
class InFlight:
    """An exchange a worker started: written before the request is sent, cleared after its
    answer is stored. Found by another worker, it means the sender died (or its answer was
    lost) with the presented token possibly already spent."""

    sent_at: str  # the CONTRACT §4 `ts` of the call
    worker: str


@dataclass(frozen=True)
class TokenState:
    refresh_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    instance_url: str | None = None
    obtained_at: float = 0.0  # epoch seconds, this machine's clock, when the request was sent
    in_flight: InFlight | None = None
    revoked: str | None = None  # why the family is dead: re-authorization is the only way on

    def with_changes(self, **changes: object) -> TokenState:
        return replace(self, **changes)  # type: ignore[arg-type]


class TokenStore(Protocol):
    """Any store shared by the partner's workers (a file, a database row, a vault entry)."""

    def load(self, key: TokenKey) -> TokenState | None: ...

    def save(self, key: TokenKey, state: TokenState) -> None:
        """Durably, before returning: the helper releases the refresh lock right after."""
        ...


class FileTokenStore:
    """One file per key under `folder`, created 0700; files 0600, written atomically."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.folder.chmod(0o700)

    def path(self, key: TokenKey) -> Path:
        return self.folder / f"{key.digest()[:32]}.json"

    def load(self, key: TokenKey) -> TokenState | None:
        try:
            data = json.loads(self.path(key).read_text())
        except FileNotFoundError:
            return None
        flight = data.pop("in_flight", None)
        return TokenState(**data, in_flight=InFlight(**flight) if flight else None)

    def save(self, key: TokenKey, state: TokenState) -> None:
        data = asdict(state)
        fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:  # mkstemp creates it 0600
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path(key))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)


class MemoryTokenStore:
    """A store for one process (tests, single-process partners): no other worker sees it."""

    def __init__(self) -> None:
        self._states: dict[TokenKey, TokenState] = {}

    def load(self, key: TokenKey) -> TokenState | None:
        return self._states.get(key)

    def save(self, key: TokenKey, state: TokenState) -> None:
        self._states[key] = state
