"""The secrets the secret tests plant: token shapes, secret-named values and free text that
carries both. Every one holds "Leak" + a kind, so a search of a file finds a partial leak (a
cut-off token) too; `marker` is the non-secret planted beside each, the search's control."""

from __future__ import annotations

SESSION_ID = "00D5g000004XyZa!AQ4AQLeakSessionIdValue.0123456789abcdefABCDEF_xyz"
REFRESH_TOKEN = "5Aep861LeakRefreshToken_xvFHRBTTbf.YrTWgEyjBJ5K1V3wQf1iRqWLeqAyx"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOSIsInN1YiI6ImxlYWsifQ.LeakJwtSignature_0123456789"
BEARER = "LeakBearerOpaqueValue0123456789"
# Values with no recognisable shape: only the field's name says they are secret.
NAMED = {
    "DeleteToken": "LeakDeleteTokenPlain",
    "AccessToken": "LeakAccessTokenPlain",
    "RequestToken": "LeakRequestTokenPlain",
    "refresh-token": "LeakRefreshDashPlain",
    "CLIENT_SECRET": "LeakClientSecretPlain",
    "ns__Password__c": "LeakCustomPasswordPlain",
    "client_assertion": "LeakAssertionPlain",
    "code": "LeakAuthCodePlain",
    "consumerSecret": "LeakConsumerSecretPlain",
}
FREE_TEXT = (
    f"failed: sid={SESSION_ID} Authorization: Bearer {BEARER} "
    f"refresh_token={REFRESH_TOKEN}&client_secret=LeakInlineSecretPlain assertion {JWT}"
)
LEAKS = [
    "LeakSessionIdValue",
    "LeakRefreshToken",
    "LeakJwtSignature",
    "LeakBearerOpaque",
    "LeakInlineSecret",
    *NAMED.values(),
]


def marker(where: str) -> str:
    """A non-secret planted next to each secret: the search of a file must find every
    marker, or it proves nothing about the secrets it did not find."""
    return f"MARKERnotSecret{where}"
