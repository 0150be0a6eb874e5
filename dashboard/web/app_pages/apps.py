"""Apps & allowlists (`/apps`): per app its allowlist and whether it fits Salesforce's limits,
every egress address seen refreshing its tokens, which are outside, and known egress."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import queries
from dashboard.web import ui, writes
from ingest.errors import TokensentryError
from ingest.netlist import IpAllowlist
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
PLAN_KEY = "apps_egress_plan"  # the previewed entry, waiting for "Record"

# Step one: the entry and a preview of what it would silence, from the same functions as
# `tokensentry egress add` (its refusals, and the open alerts it would hide).
with st.form("apps_egress"):
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
    days = st.number_input(
        f"Expires after (days; more than {queries.egress.MAX_DAYS} needs the override)",
        min_value=1,
        max_value=3650,
        value=queries.egress.DEFAULT_DAYS,
    )
    note = st.text_input("Why (e.g. the partner's new NAT gateway, ticket number)")
    force = st.checkbox(
        "Record it even if wider than a /24 (IPv6 /64), for an app never seen, or past "
        f"{queries.egress.MAX_DAYS} days; the override is written to the audit log",
        key="apps_egress_force",
    )
    previewed = st.form_submit_button("Preview what it would silence")
if previewed:
    st.session_state.pop(PLAN_KEY, None)
    if not network:
        st.error("Pick or type an address.")
    else:
        try:
            IpAllowlist.parse([network])
        except ValueError as exc:
            st.error(ui.md(f"{network}: not an address, CIDR or start-end range ({exc})", 2000))
        else:
            st.session_state[PLAN_KEY] = {
                "network": network.strip(),
                "app": None if app_name == "(any app)" else app_name,
                "days": int(days),
                "note": note or None,
                "force": bool(force),
            }

# Step two: what it would silence and why it would be refused, then "Record" or "Cancel".
plan = st.session_state.get(PLAN_KEY)
if plan:
    silenced = ui.q("would_silence", plan["network"], app_name=plan["app"])
    refused = ui.q(
        "refusals",
        plan["network"],
        app_name=plan["app"],
        days=plan["days"],
        configured_apps=tuple(config.apps),
    )
    st.subheader("Preview")
    ui.labelled(
        "Entry",
        f"{plan['network']} for {plan['app'] or 'every app'}, {plan['days']} days"
        + (f", note: {plan['note']}" if plan["note"] else ""),
    )
    ui.text(f"It {silenced.describe()}.")
    if silenced.total:
        ui.table(
            pd.DataFrame(silenced.counts, columns=["detector", "severity", "open alerts"]),
        )
        st.caption("The alerts it would silence (most severe first):")
        for alert_id in silenced.alert_ids[:20]:
            ui.link("alert", alert_id, "Alert")
        if len(silenced.alert_ids) > 20:
            ui.text(f"and {len(silenced.alert_ids) - 20} more")
    for refusal in refused:
        (st.warning if plan["force"] else st.error)(ui.md(refusal.reason, 2000))
    blocked = bool(refused) and not plan["force"]
    if blocked:
        st.info("Tick the override box and preview again to record it anyway (audited).")
    record_col, cancel_col = st.columns(2)
    confirmed = record_col.button(
        "Record known egress", key="apps_egress_record", type="primary", disabled=blocked
    )
    if cancel_col.button("Cancel", key="apps_egress_cancel"):
        st.session_state.pop(PLAN_KEY, None)
        st.rerun()
    if confirmed:
        who = ui.analyst()
        if not who:
            st.error("Fill in your name in the sidebar first.")
        else:

            def record(con):
                return queries.add_known_egress(
                    con,
                    plan["network"],
                    expires_at=now_utc() + timedelta(days=plan["days"]),
                    analyst=who,
                    now=now_utc(),
                    app_name=plan["app"],
                    note=plan["note"],
                    configured_apps=list(config.apps),
                    force=plan["force"],
                    via="dashboard",
                )

            try:
                writes.write(ui.db_path(), record)
            except writes.StoreBusy:
                st.warning("The pipeline is writing to the store; try again when it has finished.")
            except TokensentryError as exc:
                st.error(ui.md(str(exc), 2000))
            else:
                st.session_state.pop(PLAN_KEY, None)
                ui.forget_cached_reads()
                ui.flash(
                    "success",
                    f"Recorded {plan['network']} as known egress for {plan['days']} days; "
                    "the next detect run honours it.",
                )
                st.rerun()
