"""PKCE for the authorization-code flow (RFC 7636, method S256)."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_verifier(length: int = 96) -> str:
    """A code verifier of `length` (43-128) base64url characters.

    RFC 7636 §4.1 also allows `.` and `~`; Salesforce rejects verifiers with `~`, so the
    alphabet is base64url's alone, which every compliant server accepts.
    """
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters (RFC 7636 §4.1)")
    return base64.urlsafe_b64encode(secrets.token_bytes(length)).decode("ascii")[:length]


def challenge(verifier: str) -> str:
    """BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
