"""The guardrails a publish passes before anything reaches the store. Each is a pure check over the lists to publish;
any violation aborts the whole publish (nothing is written), alerts in Slack and fails the task with the message.

| rule | fires when | threshold (`.env`) |
|---|---|---|
| `ineligible_product` | a list holds a product that is not eligible (archived, draft, unpublished, gift card, out of stock, deleted: `marts.dim_products.ineligible_reason`) | none: always |
| `coverage_collapse` | the share of eligible products that appear in any list fell by more than the limit against the last completed publish | `STORELOOP_GUARD_MAX_COVERAGE_DROP` (0.5: half) |
| `product_concentration` | the model put one product first in more than this share of all lists of one kind (fallback rows not counted) | `STORELOOP_GUARD_MAX_PRODUCT_SHARE` (0.5) |
| `mass_change` | more than this share of the lists would be written or deleted at once; a first publish and a run with the `force` param are allowed | `STORELOOP_GUARD_MAX_CHANGED_SHARE` (0.5) |

Why the first slot for concentration: any position does not separate a degenerate model from a healthy one. Measured
(`score_customers`, k=10) on a 40-product store (tests/support/publish_store.py) and a 300-product synthetic store:
the share of lists holding the most frequent product *anywhere* is 0.94-1.00 and 0.12-0.73 for the healthy models
(repeat purchase fills its lists with popular products), 1.00 for a popularity model; the share in which it comes
*first* is 0.21-0.41 and 0.06-0.07 for the healthy models, 1.00 for the popularity model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from storeloop.publish.plan import PublishPlan

ENV = {
    "max_coverage_drop": "STORELOOP_GUARD_MAX_COVERAGE_DROP",
    "max_product_share": "STORELOOP_GUARD_MAX_PRODUCT_SHARE",
    "max_changed_share": "STORELOOP_GUARD_MAX_CHANGED_SHARE",
}


@dataclass(frozen=True)
class GuardrailLimits:
    max_coverage_drop: float = 0.5
    max_product_share: float = 0.5
    max_changed_share: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GuardrailLimits:
        environ = os.environ if environ is None else environ
        values = {}
        for name, var in ENV.items():
            raw = environ.get(var)
            if raw is None or not raw.strip():
                continue
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a number: set it to a share between 0 and 1 in .env") from None
            if not 0 < value <= 1:
                raise ValueError(f"{var}={raw!r} must be a share in (0, 1] (see .env.example)")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def coverage(items: pd.DataFrame, eligible_count: int) -> float:
    """Distinct products in the lists / eligible products (0 when nothing is eligible)."""
    return float(items["item_id"].nunique() / eligible_count) if eligible_count else 0.0


def check(items: pd.DataFrame, plan: PublishPlan, ineligible: Mapping[str, str], eligible_count: int,
          last_coverage: float | None, limits: GuardrailLimits, force: bool = False) -> list[Violation]:
    """Every violated rule. `items` is one row per published list entry: `owner_gid, key, item_id, rank, source`;
    `ineligible` maps each ineligible product id to its reason."""
    found: list[Violation] = []
    bad = items.loc[items["item_id"].isin(list(ineligible))]
    if len(bad):
        shown = ", ".join(f"{p} ({ineligible[p]})" for p in bad["item_id"].drop_duplicates().head(5))
        found.append(Violation("ineligible_product", (
            f"{bad['owner_gid'].nunique()} lists hold {bad['item_id'].nunique()} products the store cannot sell: "
            f"{shown}. Scoring must filter them (marts.dim_products.is_eligible): this is a bug, not a threshold.")))
    now = coverage(items, eligible_count)
    if last_coverage and now < last_coverage * (1 - limits.max_coverage_drop):
        found.append(Violation("coverage_collapse", (
            f"the lists cover {now:.1%} of the eligible catalogue, against {last_coverage:.1%} at the last publish "
            f"(more than {limits.max_coverage_drop:.0%} lower; {ENV['max_coverage_drop']}). Check the champion "
            "in MLflow and the catalogue in marts.dim_products (did many products become ineligible?).")))
    for key, lists in items.groupby("key"):
        n_lists = lists["owner_gid"].nunique()
        firsts = lists.loc[(lists["source"] == "model") & (lists["rank"] == 1)]
        if not n_lists or firsts.empty:
            continue
        counts = firsts.groupby("item_id")["owner_gid"].nunique()
        top, share = counts.idxmax(), counts.max() / n_lists
        if share > limits.max_product_share:
            found.append(Violation("product_concentration", (
                f"the model put {top} first in {share:.0%} of the {n_lists} {key} lists (limit "
                f"{limits.max_product_share:.0%}, {ENV['max_product_share']}): a model that recommends one product to "
                "everyone. Roll back (make rollback) or retrain; raise the limit only if this is expected.")))
    changed = plan.changed_share()
    if not plan.first_publish and not force and changed > limits.max_changed_share:
        found.append(Violation("mass_change", (
            f"{changed:.0%} of the lists would change at once ({len(plan.to_set)} to write, {len(plan.to_delete)} to "
            f"delete; limit {limits.max_changed_share:.0%}, {ENV['max_changed_share']}). If that is expected (a new "
            "champion), trigger recommender_score with the param force=true; check it first with dry_run=true.")))
    return found
