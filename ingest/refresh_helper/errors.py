"""What the refresh helper raises. Messages name the org, user and app, never a secret."""

from __future__ import annotations


class RefreshError(Exception):
    """The helper could not produce an access token."""


class ConfigurationError(RefreshError):
    """The helper is set up wrong (a missing fingerprint key, a private egress address...)."""


class TokenEndpointError(RefreshError):
    """Salesforce's token endpoint refused the call for a reason re-authorizing will not fix
    (`invalid_client`, `inactive_org`...), or stayed unavailable through every retry."""

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class ReauthorizationRequired(RefreshError):
    """The refresh token is gone for good: refused (`invalid_grant`), or its exchange's answer
    was lost after Salesforce rotated it. Salesforce revokes the whole token family when a spent
    token comes back, so the only recovery is a new authorization of the user
    (`RefreshHelper.begin_authorization` / `complete_authorization`)."""
