"""Event log files as Salesforce serves them: one column set per event type (SALESFORCE.md),
the codes the Login file uses for LoginHistory's labels, and the two time stamps of a row.

Every world writes its files with these headers; a column a world has nothing for stays empty,
as it does in a real file.
"""

from __future__ import annotations

from datetime import datetime

COLUMNS = {
    "Login": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME",
        "CPU_TIME", "URI", "SESSION_KEY", "LOGIN_KEY", "USER_TYPE", "REQUEST_STATUS",
        "DB_TOTAL_TIME", "BROWSER_TYPE", "API_TYPE", "API_VERSION", "USER_NAME", "TLS_PROTOCOL",
        "CIPHER_SUITE", "AUTHENTICATION_METHOD_REFERENCE", "LOGIN_TYPE", "LOGIN_SUB_TYPE",
        "LOGIN_STATUS", "TIMESTAMP_DERIVED", "USER_ID_DERIVED", "CLIENT_IP", "URI_ID_DERIVED",
        "SOURCE_IP", "COUNTRY_CODE",
    ],
    "Logout": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "USER_TYPE",
        "SESSION_KEY", "LOGIN_KEY", "SESSION_TYPE", "SESSION_LEVEL", "PLATFORM_TYPE",
        "RESOLUTION_TYPE", "APP_TYPE", "CLIENT_VERSION", "API_TYPE", "API_VERSION",
        "USER_INITIATED_LOGOUT", "BROWSER_TYPE", "TIMESTAMP_DERIVED", "USER_ID_DERIVED",
        "CLIENT_IP",
    ],
    "RestApi": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME",
        "CPU_TIME", "URI", "SESSION_KEY", "LOGIN_KEY", "CONNECTED_APP_ID", "METHOD",
        "STATUS_CODE", "ENTITY_NAME", "ROWS_PROCESSED", "USER_AGENT", "TIMESTAMP_DERIVED",
        "USER_ID_DERIVED", "CLIENT_IP",
    ],
    "ApiTotalUsage": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "USER_NAME",
        "API_FAMILY", "API_VERSION", "API_RESOURCE", "CLIENT_NAME", "HTTP_METHOD", "CLIENT_IP",
        "ENTITY_NAME", "CONNECTED_APP_ID", "CONNECTED_APP_NAME", "COUNTS_AGAINST_API_LIMIT",
        "STATUS_CODE", "API_CLIENT_CATEGORY", "TIMESTAMP_DERIVED",
    ],
    "BulkApi2": [
        "EVENT_TYPE", "TIMESTAMP", "REQUEST_ID", "ORGANIZATION_ID", "USER_ID", "RUN_TIME",
        "CPU_TIME", "URI", "SESSION_KEY", "LOGIN_KEY", "JOB_ID", "JOB_STATUS", "OPERATION_TYPE",
        "ENTITY_TYPE", "RECORDS_PROCESSED", "RECORDS_FAILED", "RESULT_SIZE_MB",
        "TIMESTAMP_DERIVED", "USER_ID_DERIVED", "CLIENT_IP", "URI_ID_DERIVED",
    ],
}  # fmt: skip

# LoginHistory LoginType label → the Login file's LOGIN_TYPE code (Salesforce's table).
LOGIN_TYPE = {
    "Remote Access 2.0": "i",
    "Application": "A",
    "SAML Sfdc Initiated SSO": "8",
    "SAML Idp Initiated SSO": "5",
}
# LoginHistory LoginSubType label → the lower-case code the Login file carries.
SUB_TYPE = {
    "OAuth Refresh Token": "oauthrefreshtoken",
    "OAuth Web Server": "oauthcode",
    "OAuth Device": "oauthdevice",
    "UI Username-Password": "uiup",
}
# LoginHistory Status → the Login file's LOGIN_STATUS.
LOGIN_STATUS = {
    "Success": "LOGIN_NO_ERROR",
    "Failed: IP Address Not Allowed": "LOGIN_OAUTH_INVALID_IP",
    "Failed: Invalid Token": "LOGIN_OAUTH_INVALID_TOKEN",
}


def stamps(at: datetime, millis: int | None = None) -> dict[str, str]:
    """TIMESTAMP (`yyyyMMddHHmmss.SSS`) and TIMESTAMP_DERIVED (ISO 8601, Z) of a row at `at`;
    `millis` overrides the moment's own milliseconds."""
    ms = f"{at.microsecond // 1000 if millis is None else millis:03d}"
    return {
        "TIMESTAMP": f"{at:%Y%m%d%H%M%S}.{ms}",
        "TIMESTAMP_DERIVED": f"{at:%Y-%m-%dT%H:%M:%S}.{ms}Z",
    }
