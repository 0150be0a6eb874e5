"""The store, its WAL, its spill folder, downloaded log files and written files are readable by
their owner only (issue 7), whatever umask the user runs tokensentry with."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ingest import db, private_files

from .helpers import elf_login, write_elf


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """What most shells start with: group and others may read new files."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_store_wal_and_spill_folder_are_owner_only(tmp_path, permissive_umask):
    db_path = tmp_path / "store.duckdb"
    with db.connect(db_path) as con:
        con.execute("CREATE TABLE probe AS SELECT range AS n FROM range(10)")
        wal = db_path.with_name("store.duckdb.wal")
        assert wal.exists(), "the write above should sit in the WAL until checkpoint"
        assert mode(db_path) == 0o600 and mode(wal) == 0o600
        spill = db.spill_dir(db_path)
        assert mode(spill) == 0o700
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(spill)
    assert mode(db_path) == 0o600


def test_an_older_world_readable_store_is_tightened_on_open(tmp_path, permissive_umask):
    db_path = tmp_path / "old.duckdb"
    with db.connect(db_path):
        pass
    db_path.chmod(0o644)
    with db.connect(db_path, read_only=True):
        assert mode(db_path) == 0o600


def test_the_cli_creates_the_store_owner_only(tmp_path):
    elf = write_elf(tmp_path / "Login.csv", [elf_login("20261101093000.500", "203.0.113.5")])
    db_path = tmp_path / "cli.duckdb"
    config = tmp_path / "tokensentry.toml"
    config.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "dashboard.cli", "--db", str(db_path), "--config", str(config),
         "import", str(elf)],
        capture_output=True, text=True, timeout=300, preexec_fn=lambda: os.umask(0o022),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert mode(db_path) == 0o600


def test_helpers_for_other_writers(tmp_path, permissive_umask):
    eml = tmp_path / "digest.eml"
    eml.write_text("old")
    eml.chmod(0o644)
    private_files.write_private(eml, "Subject: digest\n\nbody\n")
    assert mode(eml) == 0o600 and eml.read_text().startswith("Subject")
    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o755)
    private_files.private_dir(outbox)
    assert mode(outbox) == 0o700
    with private_files.owner_only_umask():
        (outbox / "a.eml").write_text("x")
    assert mode(outbox / "a.eml") == 0o600
    assert private_files.is_owner_only(outbox / "a.eml")
    (tmp_path / "open.txt").write_text("x")
    assert not private_files.is_owner_only(tmp_path / "open.txt")  # the umask was restored


def test_downloaded_log_files_are_owner_only(tmp_path, permissive_umask, monkeypatch):
    """Ingest against the fake Salesforce: every EventLogFile on disk, and its folder, is
    checked the moment it is handed to the loader."""
    from ingest import config as config_module
    from ingest import ingestion
    from ingest.formats import elf_csv
    from sandbox import trio
    from sandbox.fakesf.fleet import config_text, demo_orgs, new_key_pair
    from sandbox.fakesf.server import FakeSalesforce

    now = datetime(2026, 11, 29, 12, 0)
    keys = new_key_pair()
    seen: list[tuple[int, int]] = []
    real_load_file = elf_csv.load_file

    def observed_load_file(loader, path, *, default_org):
        seen.append((mode(path), mode(path.parent)))
        return real_load_file(loader, path, default_org=default_org)

    monkeypatch.setattr(elf_csv, "load_file", observed_load_file)
    key = tmp_path / "ingest.pem"
    key.write_bytes(keys.private_pem)
    with FakeSalesforce(demo_orgs(trio.build(now=now), keys), page_size=500) as fake:
        path = tmp_path / "tokensentry.toml"
        path.write_text(
            config_text(fake.url, str(fake.ca_path), str(key), fake.orgs)
            + "\n[ingest]\nretry_wait_s = 0.001\nlookback_days = 3\n"
        )
        config = config_module.load(path, required=True)
        alias = next(a for a, org in config.orgs.items() if org.sources is None or
                     "event_log_file" in (org.sources or ()))  # fmt: skip
        db_path = tmp_path / "store.duckdb"
        with db.connect(db_path) as con:
            ingestion.run(con, config, run_id="perm", now=lambda: now, aliases=[alias])
    assert seen, "the fake org served no EventLogFile"
    assert set(seen) == {(0o600, 0o700)}
    assert mode(db_path) == 0o600
