"""Vendor rows → normalized events: the one place where Salesforce's names are translated.

Two inputs reach here. EventLogFile rows arrive as a staged DuckDB table with one VARCHAR
column per ELF column (from the bulk CSV reader or from JSON rows) and are normalized by
`ELF_EVENTS_SQL`. SOQL records and partner token logs are normalized in Python by the record
normalizers in `ingest.formats.records`, which produce the same `EVENT_COLUMNS`.

Login identity. One real login appears as a LoginHistory row, a Login ELF line and a
LoginEvent, with no id they all share. They do share org, user, source IP, outcome and the
second of the login, so a login's `event_id` is the md5 of those plus an ordinal that tells
apart several logins of one user from one IP in the same second (ordered by time, then by
record). Each source computes the same id, and `merge.py` enriches the one row.
"""

from __future__ import annotations

# Normalized columns every source produces (events' columns minus the bookkeeping ones).
EVENT_COLUMNS: tuple[str, ...] = (
    "org_id",
    "occurred_at",
    "event_type",
    "grant_type",
    "is_success",
    "status",
    "user_id",
    "username",
    "app_name",
    "connected_app_id",
    "source_ip",
    "country_iso",
    "city",
    "latitude",
    "longitude",
    "login_type",
    "login_sub_type",
    "user_agent",
    "login_key",
    "session_key",
    "login_history_id",
    "request_id",
    "api_family",
    "api_resource",
    "rows_processed",
    "entity_name",
    "uri",
    "operation",
    "job_id",
    "job_status",
    "token_fp",
    "new_token_fp",
    "worker",
    "pkce",
    "error_description",
    "use_count",
    "token_created_at",
    # Shield Threat Detection findings only (schema 013, ingest/formats/threat.py).
    "threat_kind",
    "threat_score",
    "threat_summary",
    "threat_data",
    "threat_context",
    "policy_outcome",
)

EVENT_COLUMN_TYPES: dict[str, str] = {
    "occurred_at": "TIMESTAMP",
    "token_created_at": "TIMESTAMP",
    "is_success": "BOOLEAN",
    "pkce": "BOOLEAN",
    "latitude": "DOUBLE",
    "longitude": "DOUBLE",
    "rows_processed": "BIGINT",
    "use_count": "BIGINT",
    "threat_score": "DOUBLE",
}

ELF_EVENT_TYPES = {
    "Login": "login",
    "Logout": "logout",
    "LoginAs": "login_as",
    "API": "api_request",
    "RestApi": "api_request",
    "BulkApi": "api_request",
    "BulkApi2": "api_request",
    "ApiTotalUsage": "api_request",
}
"""ELF event types that become events; every other type is kept in raw_elf only."""

# Columns the ELF SQL reads; a staged file lacking one gets it as NULL.
ELF_COLUMNS_READ: tuple[str, ...] = (
    "EVENT_TYPE",
    "TIMESTAMP",
    "TIMESTAMP_DERIVED",
    "ORGANIZATION_ID",
    "USER_ID",
    "USER_ID_DERIVED",
    "USER_NAME",
    "CONNECTED_APP_NAME",
    "CONNECTED_APP_ID",
    "SOURCE_IP",
    "CLIENT_IP",
    "COUNTRY_CODE",
    "LOGIN_TYPE",
    "LOGIN_SUB_TYPE",
    "LOGIN_STATUS",
    "REQUEST_STATUS",
    "STATUS_CODE",
    "BROWSER_TYPE",
    "USER_AGENT",
    "CLIENT_NAME",
    "LOGIN_KEY",
    "SESSION_KEY",
    "REQUEST_ID",
    "API_FAMILY",
    "API_RESOURCE",
    "URI",
    "ENTITY_NAME",
    "ENTITY_TYPE",
    "ROWS_PROCESSED",
    "RECORDS_PROCESSED",
    "OPERATION_TYPE",
    "METHOD_NAME",
    "METHOD",
    "HTTP_METHOD",
    "JOB_ID",
    "JOB_STATUS",
    "DELEGATED_USER_ID",
    "DELEGATED_USER_ID_DERIVED",
    "DELEGATED_USER_NAME",
)

# Dotted quads with octets 0-255; anything else is checked by `ipaddress` (see load.py).
ELF_VALID_IPV4 = (
    r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)

ELF_TIME_SQL = """coalesce(
    try_strptime(nullif(TIMESTAMP_DERIVED, ''),
                 ['%Y-%m-%dT%H:%M:%S.%gZ', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%fZ']),
    try_strptime(nullif("TIMESTAMP", ''), ['%Y%m%d%H%M%S.%g', '%Y%m%d%H%M%S']))"""

ELF_PROBLEM_SQL = """CASE
    WHEN EVENT_TYPE IS NULL OR EVENT_TYPE = '' THEN 'EVENT_TYPE is empty'
    WHEN _occurred_at IS NULL THEN 'TIMESTAMP ' || coalesce('''' || "TIMESTAMP" || '''', 'missing')
        || ' is not a Salesforce timestamp (yyyyMMddHHmmss.SSS) and TIMESTAMP_DERIVED '
        || coalesce('''' || TIMESTAMP_DERIVED || '''', 'is missing')
    WHEN _org_id IS NULL AND coalesce(ORGANIZATION_ID, '') = ''
        THEN 'no ORGANIZATION_ID in the row; pass --org ORG_ID'
    WHEN _org_id IS NULL THEN 'ORGANIZATION_ID ''' || ORGANIZATION_ID
        || ''' is not a 15- or 18-character Salesforce id'
    WHEN EVENT_TYPE IN ({types}) AND coalesce(USER_ID_DERIVED, USER_ID, '') <> ''
         AND _user_id IS NULL
        THEN 'USER_ID ''' || coalesce(nullif(USER_ID, ''), USER_ID_DERIVED)
        || ''' is not a 15- or 18-character Salesforce id'
END"""

# Applied with TEMP `elf_ip_fixes(raw_ip, address)`: `address` NULL means not an IP at all.
ELF_BAD_IP_SQL = """UPDATE elf_batch b SET
    _ip = f.address,
    _problem = CASE WHEN f.address IS NULL THEN
        'source IP ' || coalesce('SOURCE_IP ''' || nullif(b.SOURCE_IP, '') || ''' ', '')
        || coalesce('CLIENT_IP ''' || nullif(b.CLIENT_IP, '') || ''' ', '')
        || 'is neither an IP address nor Salesforce''s "Salesforce.com IP" marker' END
FROM elf_ip_fixes f
WHERE b._ip = f.raw_ip AND b._problem IS NULL"""

# Text columns an event may copy; they are scrubbed of token-shaped strings on the way.
ELF_TEXT_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in ELF_COLUMNS_READ
    if name not in ("EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "SOURCE_IP", "CLIENT_IP")
)

# Event columns an ELF row never fills (city, coordinates, token fingerprints, ...) are left
# out: the merge writes them NULL, and the staged candidates stay narrow.
ELF_EVENTS_SQL = """
SELECT
    b._org_id AS org_id,
    b._occurred_at AS occurred_at,
    CASE b.EVENT_TYPE WHEN 'Login' THEN 'login' WHEN 'Logout' THEN 'logout'
        WHEN 'LoginAs' THEN 'login_as' ELSE 'api_request' END AS event_type,
    CASE WHEN b.EVENT_TYPE = 'Login' THEN coalesce(st.grant_type,
        CASE coalesce(lt.label, b.LOGIN_TYPE)
            WHEN 'Remote Access 2.0' THEN 'oauth_unspecified' WHEN 'Application' THEN 'ui' END)
    END AS grant_type,
    CASE
        WHEN b.EVENT_TYPE = 'Login' AND coalesce(b.LOGIN_STATUS, '') <> ''
            THEN b.LOGIN_STATUS = 'LOGIN_NO_ERROR'
        WHEN regexp_full_match(coalesce(b.STATUS_CODE, ''), '[0-9]+')
            THEN CAST(b.STATUS_CODE AS INTEGER) < 400
        WHEN coalesce(b.REQUEST_STATUS, '') <> '' THEN b.REQUEST_STATUS IN ('S', 'Success')
    END AS is_success,
    coalesce(ls.text, nullif(b.LOGIN_STATUS, ''), nullif(b.STATUS_CODE, ''),
             nullif(b.REQUEST_STATUS, '')) AS status,
    b._user_id AS user_id,
    nullif(b.USER_NAME, '') AS username,
    nullif(b.CONNECTED_APP_NAME, '') AS app_name,
    sf_id18(b.CONNECTED_APP_ID) AS connected_app_id,
    CASE WHEN b._ip = 'salesforce.com ip' THEN NULL ELSE b._ip END AS source_ip,
    nullif(b.COUNTRY_CODE, '') AS country_iso,
    coalesce(lt.label, nullif(b.LOGIN_TYPE, '')) AS login_type,
    coalesce(st.label, nullif(b.LOGIN_SUB_TYPE, '')) AS login_sub_type,
    coalesce(nullif(b.BROWSER_TYPE, ''), nullif(b.USER_AGENT, ''),
             nullif(b.CLIENT_NAME, '')) AS user_agent,
    nullif(b.LOGIN_KEY, '') AS login_key,
    nullif(b.SESSION_KEY, '') AS session_key,
    nullif(b.REQUEST_ID, '') AS request_id,
    CASE b.EVENT_TYPE WHEN 'API' THEN 'SOAP' WHEN 'RestApi' THEN 'REST' WHEN 'BulkApi' THEN 'Bulk'
        WHEN 'BulkApi2' THEN 'Bulk2' WHEN 'ApiTotalUsage' THEN nullif(b.API_FAMILY, '') END
        AS api_family,
    CASE WHEN b.EVENT_TYPE IN ('Login', 'Logout', 'LoginAs') THEN nullif(b.URI, '')
        ELSE coalesce(nullif(b.API_RESOURCE, ''), nullif(b.URI, ''), nullif(b.ENTITY_NAME, ''),
                      nullif(b.ENTITY_TYPE, '')) END AS api_resource,
    try_cast(coalesce(nullif(b.ROWS_PROCESSED, ''), nullif(b.RECORDS_PROCESSED, '')) AS BIGINT)
        AS rows_processed,
    CASE WHEN b.EVENT_TYPE NOT IN ('Login', 'Logout', 'LoginAs')
        THEN coalesce(nullif(b.ENTITY_NAME, ''), nullif(b.ENTITY_TYPE, '')) END AS entity_name,
    CASE WHEN b.EVENT_TYPE NOT IN ('Login', 'Logout', 'LoginAs') THEN nullif(b.URI, '') END
        AS uri,
    coalesce(nullif(b.OPERATION_TYPE, ''), nullif(b.METHOD_NAME, ''), nullif(b.METHOD, ''),
             nullif(b.HTTP_METHOD, '')) AS operation,
    nullif(b.JOB_ID, '') AS job_id,
    nullif(b.JOB_STATUS, '') AS job_status,
    'elf:' || b.EVENT_TYPE AS _source_id,
    to_hex(b._record_id) AS _record_key,  -- CAST(UHUGEINT AS VARCHAR) is 100x slower
    b.EVENT_TYPE = 'Login' AS _is_login,
    b._fresh AS _fresh
FROM (
    SELECT * REPLACE ({scrubbed}) FROM {batch}
    WHERE _problem IS NULL AND _first AND EVENT_TYPE IN ({types})
) b
LEFT JOIN vocab_login_type lt ON lt.code = b.LOGIN_TYPE
LEFT JOIN vocab_subtype st ON st.key = regexp_replace(lower(b.LOGIN_SUB_TYPE), '[^a-z0-9]', '', 'g')
LEFT JOIN vocab_login_status ls ON ls.code = b.LOGIN_STATUS
"""

# A login's identity without its ordinal: every source of the same login computes the same key.
IDENTITY_KEY_SQL = """CASE WHEN _is_login THEN md5(concat_ws('|', 'login', org_id,
    coalesce(user_id, ''), coalesce(source_ip, ''), strftime(occurred_at, '%Y%m%d%H%M%S'),
    CAST(coalesce(is_success, false) AS VARCHAR))) END"""


# The n-th login with one identity key seen by a source is that key's n-th event, whichever
# source saw it first. n counts logins this source already delivered in earlier batches, so a
# second login in the same second from a later file is a new event, not a merge.
def event_id_sql(ordinal: str, seen: str) -> str:
    """The first login of a key takes the key itself as id (one md5 fewer per row)."""
    number = f"{seen} + {ordinal}"
    return f"""CASE
        WHEN NOT c._is_login THEN md5(concat_ws('|', c._source_id, c.org_id, c._record_key))
        WHEN {number} = 1 THEN c.identity_key
        ELSE md5(c.identity_key || '|' || CAST({number} AS VARCHAR)) END"""
