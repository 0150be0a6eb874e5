"""Tokens (`/tokens`): refresh tokens by app, org and idle age: heartbeat due (25 days or more),
expired (30 or more), and dormant tokens that were used again."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import queries
from dashboard.web import detail, ui

st.title("Refresh tokens")
filters = ui.filters()
# Idleness as the idle_token detector measures it: at each org's own latest token snapshot.
tokens = ui.q("refresh_tokens", filters, ui.config())
ui.labelled("Idle age measured at", "each org's latest token snapshot (as_of), as idle_token does")

columns = st.columns(4)
columns[0].metric("tokens", len(tokens))
for column, state in zip(columns[1:], ("active", "heartbeat due", "expired"), strict=True):
    column.metric(ui.md(state), int((tokens["state"] == state).sum()))

if tokens.empty:
    st.info("No OauthToken or OAuth usage snapshots in the store for these filters.")
else:
    states = queries.token_states(tokens)
    st.altair_chart(
        alt.Chart(ui.safe_text.chart_frame(states))
        .mark_bar()
        .encode(
            x=alt.X("sum(tokens):Q", title="tokens"),
            y=alt.Y("app:N", title=None),
            color=alt.Color(
                "state:N",
                scale=alt.Scale(
                    domain=["active", "heartbeat due", "expired"],
                    range=["#16a34a", "#f59e0b", "#dc2626"],
                ),
            ),
            tooltip=["app:N", "org_id:N", "state:N", "sum(tokens):Q"],
        ),
        width="stretch",
    )
    due = tokens[tokens["state"] != "active"]
    st.subheader(f"Heartbeat due or expired ({len(due):d})")
    if due.empty:
        st.caption(ui.md(f"No token idle {queries.tokens.HEARTBEAT_DAYS} days or more."))
    else:  # the most idle as a table, every one in a grid one click away
        detail.short(
            due.assign(org=ui.org_labels(due["org_id"]))[
                ["state", "idle", "app", "org", "user_id", "username", "last_used", "created",
                 "use_count", "as_of"]
            ],
            "tokens due or expired",
        )  # fmt: skip
    st.subheader("Every token")
    ui.grid(tokens)

st.subheader("Dormant tokens used again")
wakes = ui.q("dormant_wakes", filters)
ui.table(wakes, empty="No dormant token woke up.")
for wake in wakes.head(20).itertuples():
    ui.link("alert", wake.alert_id, f"{wake.severity} dormant token")
