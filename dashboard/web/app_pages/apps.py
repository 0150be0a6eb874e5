"""Apps & allowlists (`/apps`): per app its allowlist and whether it fits Salesforce's limits,
every egress address seen refreshing its tokens, which are outside, and known egress."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import queries
from dashboard.web import ui, writes
from ingest.errors import TokensentryError
from ingest.timeparse import now_utc

st.title("Apps & allowlists")
filters = ui.filters()
config = ui.config()
now = now_utc().replace(second=0, microsecond=0)
known = ui.q("known_egress", now)
judge = queries.EgressJudge.build(
    {name: app.allowlist for name, app in config.apps.items()},
    [(row.app, row.network) for row in known.itertuples()]
    + [
        (name, entry)
        for name, app in config.apps.items()
        if app.known_egress is not None
        for entry in app.known_egress.entries
    ],
)
seen = judge.mark(ui.q("egress_ips", filters))

if not config.apps:
    st.info('No apps configured: add [apps."Name"] with an allowlist to the configuration.')
for name, app in config.apps.items():
    st.header(ui.md(name))
    ui.labelled("Consumer key", app.consumer_key or "(not configured)")
    if app.allowlist is None:
        st.warning("No refresh-token IP allowlist configured for this app.")
    else:
        fit = queries.allowlist_fit(app.allowlist.entries)
        ui.labelled("Ranges", f"{fit['ranges']} of at most {queries.allowlist.MAX_RANGES}")
        ui.labelled(
            "Addresses (IPv4 and IPv6 together)",
            f"{queries.allowlist.count_text(fit['addresses'])} of at most "
            f"{queries.allowlist.MAX_ADDRESSES}",
        )
        if fit["fits"]:
            st.success("Salesforce's Refresh Token IP Allowlist would take every entry.")
        else:
            st.error("Salesforce's Refresh Token IP Allowlist would not take this list:")
            for problem in fit["problems"]:
                ui.text(f"- {problem}")
        for warning in fit["warnings"]:
            st.warning(ui.md(warning, 2000))
        ui.table(fit["entries"][["entry", "salesforce", "addresses", "family", "start", "end"]])
    rows = seen[seen["app"].str.lower() == name.lower()]
    outside = rows[rows["outside"]]
    st.subheader(
        f"Egress seen for refresh-token use ({len(rows)} addresses, {len(outside)} outside)"
    )
    ui.table(
        rows.assign(
            where=rows.apply(
                lambda r: (
                    "inside allowlist"
                    if r.inside_allowlist
                    else "known egress"
                    if r.known_egress
                    else "OUTSIDE"
                ),
                axis=1,
            )
        )[["ip", "where", "uses", "failures", "orgs", "first_seen", "last_seen"]]
        if not rows.empty
        else rows,
        empty="No refresh-token use seen in this window.",
    )

others = seen[~seen["app"].str.lower().isin([name.lower() for name in config.apps])]
if not others.empty:
    st.header("Apps without configuration")
    ui.table(others[["app", "ip", "uses", "failures", "orgs", "first_seen", "last_seen"]])

st.header("Known egress")
st.caption(
    "Addresses an analyst judged to be the partner's own: the detectors treat them like the "
    "allowlist until they expire, instead of raising the same address every day."
)
ui.table(
    known[["network", "app", "note", "added_by", "added_at", "expires_at", "egress_id"]],
    empty="None recorded.",
)
candidates = sorted(set(seen.loc[seen["outside"], "ip"]))
with st.form("apps_egress", clear_on_submit=True):
    st.subheader("Record an off-allowlist address as known egress")
    network = st.selectbox(
        "Address seen outside the allowlist",
        candidates,
        format_func=ui.option,
        index=None,
        accept_new_options=True,
        placeholder="pick one, or type an address, CIDR or start-end range",
    )
    app_name = st.selectbox(
        "For app", ["(any app)", *config.apps], key="apps_egress_app", format_func=ui.option
    )
    days = st.number_input("Expires after (days)", min_value=1, max_value=365, value=90)
    note = st.text_input("Why (e.g. the partner's new NAT gateway, ticket number)")
    force = st.checkbox(
        "Record it even if wider than a /24 (IPv6 /64); the override is written to the audit log",
        key="apps_egress_force",
    )
    submitted = st.form_submit_button("Record known egress")
if submitted:
    who = ui.analyst()
    if not who:
        st.error("Fill in your name in the sidebar first.")
    elif not network:
        st.error("Pick or type an address.")
    else:
        chosen_app = None if app_name == "(any app)" else app_name

        def record(con):
            # the preview `tokensentry egress add` prints, from the same function
            preview = queries.would_silence(con, network, app_name=chosen_app)
            try:
                egress_id = queries.add_known_egress(
                    con,
                    network,
                    expires_at=now_utc() + timedelta(days=int(days)),
                    analyst=who,
                    now=now_utc(),
                    app_name=chosen_app,
                    note=note or None,
                    configured_apps=list(config.apps),
                    force=force,
                    via="dashboard",
                )
            except TokensentryError as exc:
                return preview, exc
            return preview, egress_id

        try:
            preview, outcome = writes.write(ui.db_path(), record)
        except writes.StoreBusy:
            st.warning("The pipeline is writing to the store; try again when it has finished.")
        except TokensentryError as exc:
            st.error(ui.md(str(exc), 2000))
        else:
            st.info(ui.md(f"{network}: {preview.describe()}", 2000))
            if isinstance(outcome, TokensentryError):
                st.error(ui.md(str(outcome), 2000))
            else:
                ui.forget_cached_reads()
                st.success(
                    ui.md(
                        f"Recorded {network} as known egress for {days} days; the next detect "
                        "run honours it."
                    )
                )
