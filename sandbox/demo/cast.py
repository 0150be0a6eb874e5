"""Who and where: the demo world's orgs, apps, people and networks.

Every address is a real public one that the bundled GeoLite2 (2019) City database places, with
the coordinates and accuracy radius it gives (copied here because ingest must not import the
detectors' geo module): the partner's workers run in AWS us-east-1 and eu-west-1, people sit in
offices and homes on consumer ISPs and carry phones on carrier networks. `203.0.113.0/24`-style
documentation ranges would be skipped by every geo-based detector, which is no demo at all.
"""

from __future__ import annotations

from ingest.sfid import to18

from ..model import Org, Person, Place

__all__ = ["Org", "Person", "Place"]  # the demo's modules take the model's types from here

PARTNER_APP = "Acme Sync"
PARTNER_CONSUMER_KEY = "3MVG9demoAcmeSyncConsumerKey000000000000000000000000000000000000000"
PARTNER_APP_ID = to18("0H45g000000AcSy")
VENDOR_APP = "Zenith CPQ"  # a second vendor's app: not the partner's, so never in [apps]
VENDOR_APP_ID = to18("0H45g000000ZnCq")
MOBILE_APP = "Salesforce for iOS"
MOBILE_APP_ID = to18("0H45g000000SfIo")
DATA_LOADER = "Data Loader"  # Salesforce's genuine app
DATA_LOADER_ID = to18("0H45g000000DaLo")
LOOKALIKE_APP = "Data Loader Secure Export"  # UNC6040's trick: a modified Data Loader, renamed
LOOKALIKE_APP_ID = to18("0H45g000000FkDl")

INTEGRATION_AGENT = "AcmeSync/4.2 (+https://acme-sync.example/bot) Java/17.0.9"
BROWSER_AGENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 Chrome/131.0"
MOBILE_AGENT = "SalesforceMobileSDK/12.1.0 iOS/17.5 (iPhone15,2) Salesforce1/250.010"
VENDOR_AGENT = "ZenithCPQ-Connector/2.8"
ATTACKER_AGENT = "python-requests/2.32.4"


def _place(ip: str, country: str, city: str | None, lat: float, lon: float, km: float) -> Place:
    return Place(ip, country, city, lat, lon, km)


# The partner's allowlisted egress: NAT gateways in two AWS regions (IPv4 and IPv6).
EGRESS_US = _place("3.208.10.5", "US", "Ashburn", 39.0481, -77.4728, 1000)
EGRESS_US_B = _place("3.208.10.6", "US", "Ashburn", 39.0481, -77.4728, 1000)
EGRESS_EU = _place("34.243.12.5", "IE", "Dublin", 53.3338, -6.2488, 200)
EGRESS_US_V6 = _place("2600:1f18:1000::5", "US", "Ashburn", 39.0481, -77.4728, 100)
EGRESS = (EGRESS_US, EGRESS_US_B, EGRESS_EU, EGRESS_US_V6)
ALLOWLIST = ["3.208.10.0/29", "34.243.12.0/29", "2600:1f18:1000::/124"]
# The region the partner opened without telling anyone's allowlist (AWS ap-southeast-1).
EGRESS_NEW_REGION = _place("13.228.10.5", "SG", "Singapore", 1.2929, 103.8547, 50)
# Zenith's own connector egress (no allowlist configured: it is not the partner's app).
VENDOR_EGRESS = _place("52.48.10.5", "IE", "Dublin", 53.3338, -6.2488, 200)

# Attackers. The first two are published indicators of the 2025 Drift campaign (iocs.json).
DIGITALOCEAN_VPS = _place("208.68.36.90", "US", "North Bergen", 40.793, -74.0247, 1000)
TOR_EXIT = _place("185.220.101.33", "DE", None, 51.2993, 9.491, 200)
PRAGUE_VPS = _place("45.83.10.5", "CZ", "Prague", 50.0766, 14.5148, 1000)
LITHUANIA_VPS = _place("141.98.10.5", "LT", None, 56.0, 24.0, 200)
AMSTERDAM_VPN = _place("68.183.10.5", "NL", "Amsterdam", 52.352, 4.9392, 1000)

# People's networks.
OFFICE_NJ = _place("100.8.20.5", "US", "Hawthorne", 40.9572, -74.1604, 5)
OFFICE_PALO_ALTO = _place("67.180.10.5", "US", "Palo Alto", 37.4405, -122.1478, 5)
OFFICE_LONDON = _place("86.12.40.5", "GB", "Clapham", 51.4615, -0.1409, 1)
OFFICE_MONTREAL = _place("24.48.0.1", "CA", "Montreal", 45.5808, -73.5825, 5)
OFFICE_TOULOUSE = _place("90.76.10.5", "FR", "Cadours", 43.7286, 1.0506, 50)
HOME_SUNNYVALE = _place("73.158.64.20", "US", "Sunnyvale", 37.3479, -122.0351, 10)
HOME_GLOUCESTER = _place("5.148.10.5", "GB", "Gloucester", 51.8659, -2.2059, 100)
HOME_STOCKHOLM = _place("80.67.10.5", "SE", "Stockholm", 59.3059, 17.9872, 500)
CARRIER_US = _place("172.58.10.5", "US", "Miami", 25.8818, -80.2135, 20)
CARRIER_GB = _place("213.205.198.5", "GB", "London", 51.536, -0.0925, 200)
# A consumer VPN exit that GeoLite2 only knows at country level (the US centroid).
VPN_US_CENTROID = _place("151.101.1.1", "US", None, 37.751, -97.822, 1000)


def _org_id(suffix: str) -> str:
    return to18(f"00D5g000{suffix}")


def _user_id(org_suffix: str, who: str) -> str:
    return to18(f"0055g{org_suffix[:3]}{who:0>7}"[:15])


def _person(org_suffix: str, alias: str, office: Place, home: Place, phone: Place) -> Person:
    return Person(alias, _user_id(org_suffix, alias[:7].replace(".", "")), office, home, phone)


ORGS: tuple[Org, ...] = (
    Org("acme-partner", _org_id("00AcMeP"), "partner", "api", None,
        (_person("ACP", "priya.rao", OFFICE_PALO_ALTO, HOME_SUNNYVALE, CARRIER_US),
         _person("ACP", "tom.ng", OFFICE_PALO_ALTO, HOME_SUNNYVALE, CARRIER_US)),
        time_zone="America/Los_Angeles"),
    Org("northwind", _org_id("00NoRtW"), "subscriber", "api", _user_id("NOR", "integr"),
        (_person("NOR", "ana.silva", OFFICE_NJ, HOME_STOCKHOLM, CARRIER_US),
         _person("NOR", "ben.lee", OFFICE_NJ, OFFICE_NJ, CARRIER_US)),
        vendor_app=True, event_monitoring=True, login_event=True),
    Org("globex", _org_id("00GlObX"), "subscriber", "api", _user_id("GLO", "integr"),
        (_person("GLO", "carla.marin", OFFICE_LONDON, HOME_GLOUCESTER, CARRIER_GB),
         _person("GLO", "dev.patel", OFFICE_LONDON, HOME_GLOUCESTER, CARRIER_GB)),
        vendor_app=True, time_zone="Europe/London"),
    Org("initech", _org_id("00InItC"), "subscriber", "api", _user_id("INI", "integr"),
        (_person("INI", "eve.kim", OFFICE_PALO_ALTO, HOME_SUNNYVALE, CARRIER_US),
         _person("INI", "frank.oh", OFFICE_PALO_ALTO, HOME_SUNNYVALE, CARRIER_US)),
        time_zone="America/Los_Angeles"),
    Org("umbrella", _org_id("00UmBrL"), "subscriber", "files", _user_id("UMB", "integr"),
        (_person("UMB", "gina.roy", OFFICE_MONTREAL, OFFICE_MONTREAL, CARRIER_US),),
        event_monitoring=True, login_event=True, time_zone="America/Toronto"),
    Org("hooli", _org_id("00HoOlI"), "subscriber", "files", _user_id("HOO", "integr"),
        (_person("HOO", "hank.wu", OFFICE_PALO_ALTO, HOME_SUNNYVALE, CARRIER_US),),
        vendor_app=True, event_monitoring=True, time_zone="America/Los_Angeles"),
    Org("stark", _org_id("00StArK"), "subscriber", "api", _user_id("STA", "integr"),
        (_person("STA", "ivy.chen", OFFICE_TOULOUSE, OFFICE_TOULOUSE, CARRIER_GB),),
        time_zone="Europe/Paris", extra_users={"reports": _user_id("STA", "reports")}),
    Org("wayne", _org_id("00WaYnE"), "subscriber", "api", _user_id("WAY", "integr"),
        (_person("WAY", "jack.diaz", OFFICE_NJ, OFFICE_NJ, CARRIER_US),
         _person("WAY", "kim.lund", OFFICE_LONDON, HOME_GLOUCESTER, CARRIER_GB)),
        vendor_app=True, extra_users={"archive": _user_id("WAY", "archive")}),
)  # fmt: skip

BY_ALIAS = {org.alias: org for org in ORGS}
