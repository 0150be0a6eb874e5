from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest import config
from ingest.errors import ConfigError

GOOD = """
[apps."Acme Sync"]
consumer_key = "3MVG9xyz"
allowlist = ["203.0.113.0/28", "198.51.100.7", "2001:db8:10::/48", "192.0.2.10-192.0.2.20"]

[orgs.acme-prod]
org_id = "00D5g000004XyZa"
instance_url = "https://acme.my.salesforce.com"
auth = { method = "jwt", username = "i@acme.com", consumer_key = "3MVG9", private_key = { file = "keys/acme.pem" } }

[orgs.globex]
instance_url = "https://globex.my.salesforce.com"
auth = { method = "client_credentials", consumer_key = "3MVG9", consumer_secret = { env = "GLOBEX_SECRET" } }

[detectors.off_allowlist_ip]
include_failures = false

[digest]
to = ["secops@example.com"]
password = { env = "SMTP_PASSWORD" }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokensentry.toml"
    path.write_text(text)
    return path


def test_parses_contract_example(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    app = cfg.apps["Acme Sync"]
    assert "192.0.2.15" in app.allowlist and "192.0.2.21" not in app.allowlist
    org = cfg.orgs["acme-prod"]
    assert org.org_id == "00D5g000004XyZaEAK"
    assert org.login_url == config.DEFAULT_LOGIN_URL
    assert org.auth.private_key.file == tmp_path / "keys/acme.pem"
    assert cfg.org_alias("00D5g000004XyZaEAK") == "acme-prod"
    assert cfg.detectors["off_allowlist_ip"] == {"include_failures": False}


def test_secrets_resolve_only_when_asked(tmp_path, monkeypatch):
    cfg = config.load(write(tmp_path, GOOD))
    secret = cfg.orgs["globex"].auth.consumer_secret
    assert "GLOBEX" in repr(secret) and "s3cr3t" not in repr(secret)
    with pytest.raises(
        ConfigError,
        match=r"^environment variable GLOBEX_SECRET \(for orgs\.globex\.auth\.consumer_secret\)",
    ):
        secret.resolve()
    monkeypatch.setenv("GLOBEX_SECRET", "s3cr3t")
    assert secret.resolve() == "s3cr3t"
    with pytest.raises(
        ConfigError, match=r"^cannot read .* \(for orgs\.acme-prod\.auth\.private_key\)"
    ):
        cfg.orgs["acme-prod"].auth.private_key.resolve()


def test_missing_default_file_means_nothing_configured(tmp_path):
    cfg = config.load(tmp_path / "absent.toml")
    assert cfg.apps == {} and cfg.orgs == {}
    with pytest.raises(ConfigError, match="configuration file not found"):
        config.load(tmp_path / "absent.toml", required=True)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            '[orgs.a]\ninstance_url = "https://a"\norg_id = "00D"\n',
            r"orgs\.a\.org_id: '00D' is not",
        ),
        ('[orgs.a]\ninstance_url = "https://a"\ninstnce = 1\n', r"orgs\.a\.instnce: unknown key"),
        (
            '[apps.X]\nallowlist = ["10.0.0.0/8", "10.0.0.9-10.0.0.1"]\n',
            r"apps\.X\.allowlist\[1\]: .*before start",
        ),
        ('[apps.X]\nallowlist = "10.0.0.0/8"\n', r"apps\.X\.allowlist: expected a list"),
        ('[digest]\nsecurity = "ssl"\n', r"digest\.security: must be"),
        ("[nonsense]\n", r"^nonsense: unknown key"),
    ],
)
def test_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key):
        config.load(write(tmp_path, text))


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[orgs\n")
    with pytest.raises(ConfigError, match=f"^{path}: not valid TOML"):
        config.load(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[orgs.a]\nsources = ["login_history"]\n', r"^orgs\.a\.instance_url: missing"),
        (
            '[orgs.a]\ninstance_url = "http://a.my.salesforce.com"\n',
            r"^orgs\.a\.instance_url: must be an https",
        ),
        (
            '[orgs.a]\ninstance_url = "https://a"\nauth = { method = "password" }\n',
            r"^orgs\.a\.auth\.method: must be one of",
        ),
        (
            '[orgs.a]\ninstance_url = "https://a"\nauth = { method = "access_token" }\n',
            r"^orgs\.a\.auth\.token: missing",
        ),
        (
            '[orgs.a]\ninstance_url = "https://a"\n'
            'auth = { method = "access_token", token = "00Dx!AQ" }\n',
            r"^orgs\.a\.auth\.token: write secrets as",
        ),
    ],
)
def test_a_broken_connection_setting_is_that_orgs_alone(tmp_path, text, key):
    """CONTRACT §8: the file still loads (import, detect, alerts run); that org's ingest fails."""
    cfg = config.load(write(tmp_path, text + GOOD))
    assert cfg.orgs["a"].connection_error is not None
    assert re.match(key, cfg.orgs["a"].connection_error)
    assert cfg.orgs["acme-prod"].connection_error is None


def test_an_org_id_without_connection_settings_is_import_only(tmp_path):
    cfg = config.load(write(tmp_path, '[orgs.archive]\norg_id = "00D5g000004XyZb"\n'))
    org = cfg.orgs["archive"]
    assert org.import_only and org.connection_error is None
    assert cfg.org_alias(org.org_id) == "archive"


def test_client_credentials_default_to_the_my_domain_host(tmp_path):
    cfg = config.load(write(tmp_path, GOOD))
    assert cfg.orgs["globex"].login_url == "https://globex.my.salesforce.com"  # My Domain
    assert cfg.orgs["acme-prod"].login_url == "https://login.salesforce.com"  # JWT
