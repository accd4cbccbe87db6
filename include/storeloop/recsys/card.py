"""Model cards: a markdown page per candidate run (training data, metrics vs baselines, segments, known limits)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from storeloop.recsys.promotion import BASELINES, Decision

METRICS = ("ndcg", "map", "hit_rate", "precision", "recall", "coverage")

KNOWN_LIMITS = (
    "Trained on purchases only (no views, carts or returns); refunded orders count as purchases, cancelled ones do not.",
    "The registered model is the one evaluated: fitted on data before the cutoff, so product similarities and the "
    "popularity fill lag by the holdout window. Customers' recent purchases still count at scoring time (the "
    "model scores the history it is given).",
    "Products first sold after the cutoff are unknown to the model until the next training run; customers with no "
    "known product get the popularity list.",
    "Offline metrics on one time split of one store: with a few hundred evaluated customers the noise on NDCG@10 is "
    "of the order of the differences between the best candidates (see n_eval_customers).",
    "Segments with few customers (see n_customers) have noisy metrics.",
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def comparison_table(metrics: dict[str, dict[str, float]], k: int) -> pd.DataFrame:
    """One row per model: the headline metrics in both settings, and the published list's new-item metrics."""
    rows = []
    for name, m in metrics.items():
        row: dict[str, Any] = {"model": name, "role": "baseline" if name in BASELINES else "candidate"}
        for setting in ("all", "new"):
            for metric in METRICS:
                row[f"{setting}.{metric}@{k}"] = m.get(f"{setting}.{metric}_at_{k}", float("nan"))
            row[f"{setting}.n"] = int(m.get(f"{setting}.n_eval_customers", 0))
        for metric in ("ndcg", "hit_rate"):  # the all-items list as published, on new items (recsys/protocol.py)
            row[f"new_in_list.{metric}@{k}"] = m.get(f"new_in_list.{metric}_at_{k}", float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def model_card(
    *,
    candidate: str,
    params: dict[str, Any],
    k: int,
    metrics: dict[str, dict[str, float]],
    segments: pd.DataFrame,
    data_tags: dict[str, str],
    code_version: str,
    decision: Decision,
    margin: float,
    related_metrics: dict[str, float],
    champion_label: str | None,
    explanation: str = "",
    for_you: Any = None,
) -> str:
    """The card of one candidate's run; `for_you` is the run's `promotion.ForYouDecision` (the discovery list)."""
    role = "baseline" if candidate in BASELINES else "candidate"
    if candidate == decision.challenger:
        verdict = f"**Challenger. Decision: {decision.decision}.** {decision.reason}"
    elif candidate == decision.fallback:
        verdict = f"**Registered as champion (fallback).** {decision.reason}"
    else:
        verdict = f"Not registered: the challenger of this run is {decision.challenger}."
    if for_you is not None:
        mine = "this model" if candidate == for_you.candidate else f"{for_you.candidate or 'no candidate'}"
        verdict += (f"\n\n**for_you list** (new items only; `promotion.decide_for_you`): "
                    f"{'promoted ' + mine if for_you.promote else 'not moved'}. {for_you.reason}")
    data_lines = "\n".join(f"- `{key}`: {value}" for key, value in sorted(data_tags.items()))
    seg = segments.loc[segments["segment_type"].isin(["country", "cohort"])]
    seg_table = seg[["setting", "segment_type", "segment", "n_customers", "ndcg", "hit_rate"]] if len(seg) else seg
    related = ", ".join(f"{key} = {_fmt(value)}" for key, value in related_metrics.items())
    params_lines = "\n".join(f"- `{key}` = {value}" for key, value in sorted(params.items()))
    limits = "\n".join(f"- {line}" for line in KNOWN_LIMITS)
    champion_note = (
        f"\nThe row `{champion_label}` is the live champion re-evaluated on this run's holdout.\n" if champion_label else ""
    )
    return f"""# Model card: {candidate} ({role})

{verdict}

Promotion margin: {margin:.1%} relative (STORELOOP_PROMOTION_MARGIN). Code version: `{code_version}`.

## Training data

{data_lines}

## Parameters

{params_lines}

## Metrics at {k} vs baselines (time-based holdout)

`all`: every product may be recommended, every holdout purchase counts. `new`: products the customer bought before the
cutoff are removed from the ranking and from the relevant set. `new_in_list`: the `all` list as it would be published,
judged on the new items only (not re-ranked). Coverage = share of the products known at the cutoff
that appear in some evaluated customer's top {k}.
{champion_note}
{markdown_table(comparison_table(metrics, k))}

## This model by segment (NDCG@{k} and hit rate@{k})

{markdown_table(seg_table) if len(seg_table) else "(no segments)"}

{explanation}
## Related products (metafields)

Shipped with the model from the product-to-product model; basket completion on the holdout: {related}.

## Known limits

{limits}
"""
