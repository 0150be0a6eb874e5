-- Who owns each address events came from (detect/owners.py): its autonomous system, its cloud or
-- hosting provider and where the provider's block sits, whether it is a Tor exit. One row per
-- distinct address, written by `detect` before the detectors run and re-written when the data
-- it was read from changes (data_version). Derived from events and offline data only: dropping
-- it loses nothing.
CREATE TABLE ip_owners (
    ip VARCHAR PRIMARY KEY,
    asn BIGINT,                    -- autonomous system number, NULL when no data covers it
    as_org VARCHAR,                -- the AS's registered organisation
    provider VARCHAR,              -- the cloud / hosting / CDN / VPN operator, NULL: none known
    kind VARCHAR NOT NULL,         -- hosting | cdn | vpn | tor | bot | unknown | reserved | invalid
    region VARCHAR,                -- where the provider's block sits (e.g. 'US-Virginia')
    is_tor BOOLEAN NOT NULL,
    data_version VARCHAR NOT NULL, -- which data answered (names and build dates)
    enriched_at TIMESTAMP NOT NULL
);
