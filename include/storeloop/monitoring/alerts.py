"""Telling people about drift: the Slack message (storeloop.warehouse.monitoring_tables stores the row per run)."""

from __future__ import annotations

from storeloop.monitoring.drift import ColumnDrift, DriftSummary


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(column: ColumnDrift) -> str:
    if "p_value" in column.method:
        rule = f"p = {column.score:.3g} < {column.threshold:g}"
    else:
        rule = f"{column.score:.3g} ≥ {column.threshold:g}"
    return f"• `{_escape(column.column)}`: {_escape(column.method)} {rule}"


def render_drift_message(summary: DriftSummary, champion_version: int | str | None, report_url: str) -> str:
    """Slack mrkdwn: the verdict, what drifted, and what to do about it."""
    n_columns = len(summary.columns)
    drifted = [c for c in summary.columns if c.drifted]
    model = f"champion v{champion_version}" if champion_version is not None else "no champion yet"
    link = f"<{report_url}|drift report>" if report_url else "drift report"
    windows = f"{summary.n_current:,} recent order lines vs {summary.n_reference:,} reference lines"
    if summary.dataset_drift:
        head = (
            f":warning: *Storeloop: order data drifted* ({len(drifted)} of {n_columns} features, "
            f"{summary.share:.0%} ≥ {summary.drift_share_threshold:.0%}). Recommender {model}."
        )
        action = (
            f"*What to do:* open the {link}. If the shift is real (new products, price change, season), "
            "retrain: run `recommender_train` and check that the new champion beats the baseline. "
            "If it looks wrong, check the last `shopify_ingest` and the dbt tests of `shopify_features` first."
        )
    elif drifted:
        head = (
            f":large_yellow_circle: *Storeloop: some features drifted* ({len(drifted)} of {n_columns}, "
            f"{summary.share:.0%}, below the {summary.drift_share_threshold:.0%} alert level). Recommender {model}."
        )
        action = (
            f"*What to do:* nothing is triggered. Check in the {link} whether the change is expected "
            "(a price update, a promotion); if it persists, the next `recommender_train` run will learn it."
        )
    else:
        head = f":white_check_mark: *Storeloop: no drift* in {n_columns} features. Recommender {model}."
        action = f"Details in the {link}."
    lines = [head]
    lines.extend(_describe(c) for c in drifted)
    lines.append(f"_{windows}._")
    lines.append(action)
    return "\n".join(lines)
