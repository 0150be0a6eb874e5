"""Who the org's user ids are: User rows (Username, Name, IsActive, Profile.Name).

LoginHistory, OauthToken and LoginEvent name a user by id only; alerts, incidents, search and
the digest show people by username. Read after the org's other sources (`after_org_writes`:
the writer has stored their rows first), for the ids the org's events mention that have no User
row yet or that were active since their row was read (`ingest.users.ids_to_read`), as
`SELECT … FROM User WHERE Id IN (…)` statements sized to Salesforce's URI limit.

Not by LastModifiedDate over the whole org: a community org holds hundreds of thousands of users
the logs never mention, and a profile renamed or re-assigned does not touch the User row's
LastModifiedDate, so re-reading the active users is the way a change shows.
Each User row is stored raw (`soql:User`, keyed by id and LastModifiedDate: an unchanged user
adds nothing) and upserted into `users`. A User row Salesforce does not return (a user the
integration user cannot see: the org-wide default for users is Private and the user lacks Manage
Users or View All Users) is said in a note; those users keep the name their logs carried.
Needs: API Enabled; Manage Users (or View All Users) to see every user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from .. import users
from ..formats.fields import RecordProblem, _sf_id, _text, _time, flatten
from ..formats.redact import redact
from ..load import StagedRecord
from ..salesforce import OrgSession
from ..source import Batch, FetchContext, Notice, Source, normalize_page


def user_record(
    record: Mapping[str, Any], default_org: str | None, line: int | None
) -> StagedRecord:
    """One User row as read: keyed by id and LastModifiedDate; no event."""
    flat = flatten(record)
    user_id = _sf_id(flat, "Id")
    if user_id is None:
        raise RecordProblem("Id is missing")
    if _text(flat, "Username") is None:
        raise RecordProblem("Username is missing")
    modified = _time(flat, "LastModifiedDate", required=True)
    if default_org is None:
        raise RecordProblem("no org id")
    return StagedRecord(
        org_id=default_org,
        source_id=users.SOURCE_ID,
        record_id=f"{user_id}|{_text(flat, 'LastModifiedDate')}",
        occurred_at=modified,
        key_fixes_time=True,
        payload=redact(dict(record)),
        line=line,
    )


def prepare(reader: Any, org_id: str) -> list[str]:
    return users.ids_to_read(reader, org_id)


def fetch(session: OrgSession, ctx: FetchContext) -> Iterator[Batch]:
    wanted: list[str] = list(ctx.state or [])
    returned: set[str] = set()
    for soql in users.user_queries(wanted):
        for page in session.query_pages(soql):
            returned.update(str(r.get("Id", ""))[:15] for r in page)
            yield normalize_page(page, user_record, ctx.org_id, "User")
    unseen = [user_id for user_id in wanted if user_id[:15] not in returned]
    if unseen:
        yield Notice(
            "info",
            f"{len(unseen)} user id(s) the logs mention were not returned by User (not visible "
            "to the integration user: grant Manage Users or View All Users); they keep the "
            "names their logs carried",
            {"users_not_returned": unseen[:50]},
        )


SOURCE = Source(
    id="user",
    title="User (usernames, names, profiles)",
    cursor_source=users.SOURCE_ID,
    lag=timedelta(0),
    requires="API Enabled; Manage Users or View All Users to see every user",
    fetch=fetch,
    prepare=prepare,
    after_org_writes=True,
)
