"""recommender_score task bodies.

- `score`: the champion (MLflow) scores every customer and every product over the eligible products
  (storeloop.recsys.scoring) → `ml.customer_recommendations`, `ml.product_recommendations`; the `for_you` model
  (when training promoted one) lists each customer's best products among those they never bought →
  `ml.for_you_recommendations` (docs/recommender.md, "Two lists").
- `score_shadow`: a challenger the last training left unpromoted is scored too → `ml.shadow_*`, and its agreement with
  the champion → `ml.shadow_agreement` and the challenger's MLflow run. Never published.
- `publish`: the run's lists → the store's metafields, through the diff against `ml.published_lists`, the guardrails,
  a canary read back through the Admin API, then the rest; deletions for owners that no longer get a list. The rules
  are written in storeloop.publish (plan, guardrails, writer) and docs/contracts.md ("Publishing").
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from storeloop.orchestration import connections
from storeloop.orchestration.mlflow_settings import model_name, tracking_uri

log = logging.getLogger(__name__)


class PublishAborted(RuntimeError):
    """A guardrail or the canary stopped the publish; Slack was told already (the failure callback stays quiet)."""

    already_alerted = True


def publish_k() -> int:
    raw = os.environ.get("STORELOOP_PUBLISH_K", "10").strip() or "10"
    if not raw.isdigit() or not 1 <= int(raw) <= 128:
        raise ValueError(f"STORELOOP_PUBLISH_K={raw!r}: set it to a list length between 1 and 128 in .env")
    return int(raw)


def canary_share() -> float:
    raw = os.environ.get("STORELOOP_PUBLISH_CANARY_SHARE", "0.05").strip() or "0.05"
    try:
        share = float(raw)
    except ValueError:
        raise ValueError(f"STORELOOP_PUBLISH_CANARY_SHARE={raw!r} is not a share between 0 and 1") from None
    if not 0 <= share <= 1:
        raise ValueError(f"STORELOOP_PUBLISH_CANARY_SHARE={raw!r} must be between 0 and 1")
    return share


def publish_chunk() -> int:
    """Lists written (and recorded) per chunk: what a crash mid-publish can cost to redo (writer.CHUNK by default)."""
    from storeloop.publish.writer import CHUNK

    raw = os.environ.get("STORELOOP_PUBLISH_CHUNK", "").strip()
    if not raw:
        return CHUNK
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"STORELOOP_PUBLISH_CHUNK={raw!r}: set it to a positive number of lists")
    return int(raw)


def _features_for(conn, recommender, inputs: dict):
    """The current feature tables for a model that ranks on them (read once per task, kept in `inputs`)."""
    if not recommender.needs_features:
        return None
    if inputs.get("features") is None:
        inputs["features"] = current_features(conn)
    return inputs["features"]


def _score_model(conn, model, run_id: str, version: int, *, shadow: bool, inputs: dict) -> dict:
    from storeloop.recsys.scoring import customer_recommendations, product_recommendations, recommender_of
    from storeloop.warehouse.ml_tables import write_customer_recommendations, write_product_recommendations

    k = publish_k()
    recommender = recommender_of(model)
    products, eligible = inputs["products"], inputs["eligible"]
    features = _features_for(conn, recommender, inputs)
    customers = customer_recommendations(recommender, inputs["order_lines"], inputs["customers"], eligible, k,
                                         features=features)
    owners = products.loc[~products["is_deleted"]]
    related = product_recommendations(model.unwrap_python_model().related_products(), owners,
                                      recommender.popularity(), k)
    build = inputs["features_build"]
    write_customer_recommendations(conn, customers, version, run_id, features_build=build, shadow=shadow)
    write_product_recommendations(conn, related, version, run_id, features_build=build, shadow=shadow)
    return {"customers": customers, "related": related, "eligible": len(eligible)}


def _score_for_you(conn, run_id: str, inputs: dict) -> dict:
    """The `for_you` lists (module doc), or why there are none."""
    from storeloop.recsys.scoring import discovery_recommendations, recommender_of
    from storeloop.recsys.training import FOR_YOU_ALIAS, load_champion
    from storeloop.warehouse.ml_tables import write_customer_recommendations

    try:
        model, version = load_champion(tracking_uri(), model_name(), alias=FOR_YOU_ALIAS)
    except LookupError:
        reason = ("no for_you model: no candidate has beaten popularity at discovery yet (recommender_train's "
                  "for_you decision), so no for_you list is scored or published")
        log.info(reason)
        write_customer_recommendations(conn, pd.DataFrame(columns=["customer_id", "product_id", "rank", "score"]),
                                       0, run_id, for_you=True)
        return {"for_you_version": None, "for_you_skipped": reason}
    recommender = recommender_of(model)
    lists = discovery_recommendations(recommender, inputs["order_lines"], inputs["eligible"], publish_k(),
                                      features=_features_for(conn, recommender, inputs))
    write_customer_recommendations(conn, lists, version, run_id, features_build=inputs["features_build"],
                                   for_you=True)
    log.info("for_you model v%s (%s) listed new products for %d customers", version,
             getattr(recommender, "name", "?"), lists["customer_id"].nunique())
    return {"for_you_version": int(version), "for_you_customers": int(lists["customer_id"].nunique()),
            "for_you_rows": len(lists)}


def current_features(conn):
    """The dbt feature models as the nightly build left them in `marts` (features as of that build)."""
    from storeloop.recsys.ranker import FEATURE_MODELS, FEATURE_READ_LIMITS, feature_tables
    from storeloop.warehouse.feature_tables import read_as_of, read_feature_models

    as_of = read_as_of(conn, "marts", "customer_features")
    if as_of is None:
        raise RuntimeError("marts.customer_features is empty: run shopify_features before recommender_score")
    return feature_tables(read_feature_models(conn, "marts", FEATURE_MODELS, FEATURE_READ_LIMITS), as_of,
                          {"schema": "marts"})


def _inputs(conn) -> dict:
    from storeloop.warehouse.marts import load_customers, load_model_builds, load_order_lines, load_product_eligibility

    order_lines = load_order_lines(conn)
    customers = load_customers(conn)
    builds = load_model_builds(conn, ("fct_order_lines",))
    products = load_product_eligibility(conn)
    products["recommendable"] = recommendable(products, admin_api(quiet=True) is not None)
    return {"order_lines": order_lines, "products": products,
            "customers": [] if customers is None else customers["customer_id"].tolist(),
            "features_build": builds.get("fct_order_lines", {}).get("invocation_id"),
            "eligible": products.loc[products["recommendable"], "product_id"]}


def recommendable(products: pd.DataFrame, writes_to_store: bool) -> pd.Series:
    """Which products scoring may put in a list: the eligible ones (`dim_products.is_eligible`); for a store Storeloop
    does not write to (no Admin API token: its lists stay in the warehouse and the products import CSV), also the
    products known only from its order lines (`unknown_to_shopify`), which may be all it has (an orders export
    alone). Every other reason (deleted, not active, unpublished, gift card, out of stock) holds either way."""
    extra = ~products["is_eligible"] & products["ineligible_reason"].eq("unknown_to_shopify") & (not writes_to_store)
    return products["is_eligible"] | extra


def score(run_id: str) -> dict:
    from storeloop.recsys.training import load_champion
    from storeloop.warehouse.migrations import migrate

    model, version = load_champion(tracking_uri(), model_name())
    conn = connections.warehouse().connect()
    try:
        migrate(conn)  # before the reads open a transaction: the writes then find their tables
        inputs = _inputs(conn)
        scored = _score_model(conn, model, run_id, version, shadow=False, inputs=inputs)
        for_you = _score_for_you(conn, run_id, inputs)
    finally:
        conn.close()
    customers, related = scored["customers"], scored["related"]
    by_source = customers.drop_duplicates("customer_id")["source"].value_counts().to_dict()
    related_sources = related["source"].value_counts().to_dict()
    log.info("model v%s scored %d customers (%s) and %d products over %d eligible products; related-product slots "
             "by source: %s", version, customers["customer_id"].nunique(), by_source, related["product_id"].nunique(),
             scored["eligible"], related_sources)
    return {"model_version": int(version), "customers_scored": int(customers["customer_id"].nunique()),
            "customers_by_source": {str(k): int(v) for k, v in by_source.items()},
            "recommendation_rows": len(customers), "products_scored": int(related["product_id"].nunique()),
            "related_slots_by_source": {str(k): int(v) for k, v in related_sources.items()},
            "eligible_products": int(scored["eligible"]), "features_build": inputs["features_build"], **for_you}


def unpromoted_challenger() -> tuple[int, str] | None:
    """(version, MLflow run id) of the `challenger` when the last training did not promote it, else None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri())
    try:
        challenger = client.get_model_version_by_alias(model_name(), "challenger")
        champion = client.get_model_version_by_alias(model_name(), "champion")
    except MlflowException:
        return None
    if challenger.version == champion.version or challenger.tags.get("decision") == "promoted":
        return None
    return int(challenger.version), challenger.run_id


def score_shadow(run_id: str, champion_version: int) -> dict:
    import mlflow
    from mlflow import MlflowClient

    from storeloop.recsys.scoring import list_overlap
    from storeloop.warehouse.ml_tables import read_run, write_shadow_agreement

    found = unpromoted_challenger()
    if found is None:
        log.info("no unpromoted challenger: nothing to score in shadow")
        return {"shadow_version": None}
    version, challenger_run = found
    mlflow.set_tracking_uri(tracking_uri())
    model = mlflow.pyfunc.load_model(f"models:/{model_name()}/{version}")
    conn = connections.warehouse().connect()
    try:
        inputs = _inputs(conn)
        scored = _score_model(conn, model, run_id, version, shadow=True, inputs=inputs)
        champion = read_run(conn, run_id)
        agreement = list_overlap(champion.loc[champion["source"] == "model"],
                                 scored["customers"].loc[scored["customers"]["source"] == "model"],
                                 "customer_id", "product_id", k=10)
        eligible = max(scored["eligible"], 1)
        figures = {"customers": agreement["owners"], "overlap_at_10": agreement["overlap"],
                   "lists_differ_share": agreement["differ_share"],
                   "champion_coverage": champion["product_id"].nunique() / eligible,
                   "challenger_coverage": scored["customers"]["product_id"].nunique() / eligible}
        write_shadow_agreement(conn, run_id, champion_version=champion_version, challenger_version=version, **figures)
    finally:
        conn.close()
    client = MlflowClient(tracking_uri=tracking_uri())
    for name, value in figures.items():
        client.log_metric(challenger_run, f"shadow.{name}", float(value))
    client.set_model_version_tag(model_name(), str(version), "shadow.last_run_id", run_id)
    log.info("shadow challenger v%s vs champion v%s: overlap@10 %.3f, %.1f%% of lists differ, coverage %.3f vs %.3f",
             version, champion_version, figures["overlap_at_10"], 100 * figures["lists_differ_share"],
             figures["challenger_coverage"], figures["champion_coverage"])
    return {"shadow_version": version, **{k: float(v) for k, v in figures.items()}}


def desired_lists(customers: pd.DataFrame, related: pd.DataFrame,
                  for_you: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The lists to publish and their entries (`owner_gid, key, item_id, rank, source`): related products of every product
    with a Shopify GID, and the `buy_again` (and `for_you`) lists of every customer with a GID whose list the model
    made (a customer with no history keeps the trending fallback in the warehouse only: it would be the same list for
    all of them and churn with the catalogue). Entries known only from CSV exports (no GID) cannot be referenced and
    are left out."""
    from storeloop.publish.metafields import BUY_AGAIN_KEY, FOR_YOU_KEY, RELATED_PRODUCTS_KEY, are_gids, metafield_lists

    rel = related.loc[are_gids(related["product_id"], "Product") & are_gids(related["related_product_id"], "Product")]
    skipped = {"related_rows_without_gid": len(related) - len(rel)}
    parts = [(rel, "product_id", "related_product_id", "Product", RELATED_PRODUCTS_KEY)]
    for frame, key, label in ((customers, BUY_AGAIN_KEY, "pick"), (for_you, FOR_YOU_KEY, "for_you")):
        if frame is None:
            continue
        kept = frame.loc[(frame["source"] == "model") & are_gids(frame["customer_id"], "Customer")
                         & are_gids(frame["product_id"], "Product")]
        skipped[f"{label}_rows_not_published"] = len(frame) - len(kept)
        parts.append((kept, "customer_id", "product_id", "Customer", key))
    lists = pd.concat([metafield_lists(frame, owner, item, resource, key) for frame, owner, item, resource, key in parts],
                      ignore_index=True)
    items = pd.concat([_list_items(frame, owner, item, resource, key) for frame, owner, item, resource, key in parts],
                      ignore_index=True)
    return lists, items, skipped


def _list_items(frame: pd.DataFrame, owner_col: str, item_col: str, resource: str, key: str) -> pd.DataFrame:
    from storeloop.publish.metafields import to_gids

    return pd.DataFrame({"owner_gid": to_gids(frame[owner_col], resource).to_numpy(), "key": key,
                         "item_id": frame[item_col].to_numpy(), "rank": frame["rank"].to_numpy(),
                         "source": frame["source"].to_numpy()})


def admin_api(quiet: bool = False):
    """The Admin API config to publish with, or None for a store without one: STORELOOP_INGEST_SOURCES without `api`
    and no usable `shopify` connection (host and access token). A store that pulls through the API must have it."""
    from storeloop.orchestration.ingest import enabled_sources

    try:
        return connections.shopify()
    except (RuntimeError, ValueError) as missing:
        if "api" in enabled_sources():
            raise RuntimeError(f"Cannot publish: {missing}") from missing
        if not quiet:
            log.info("no Admin API token (%s): an exports-only store", missing)
        return None


def csv_products_in_shopify(client, id_columns: list[pd.Series]) -> dict[str, str]:
    """`csv:product:<handle>` ids (products known from CSV exports) → their Shopify GIDs, looked up by handle; ids
    whose handle Shopify does not know are absent (they cannot be referenced, and are left out of the lists)."""
    from storeloop.shopify.products import product_gids_by_handle

    prefix = "csv:product:"
    ids = sorted({str(i) for col in id_columns for i in col.dropna().unique() if str(i).startswith(prefix)})
    if not ids:
        return {}
    by_handle = product_gids_by_handle(client, [i[len(prefix):] for i in ids])
    found = {i: by_handle[i[len(prefix):]] for i in ids if i[len(prefix):] in by_handle}
    log.info("%d of %d products known only from CSV exports found in Shopify by handle", len(found), len(ids))
    return found


def write_products_import(run_id: str, model_version: int) -> dict:
    """A store without Admin API access: the related products as a file for Shopify's products CSV import
    (docs/contracts.md, "Exports-only stores: products import CSV")."""
    from storeloop.orchestration.landing import landing_root, run_partition
    from storeloop.publish.products_import_csv import write_related_products_import
    from storeloop.warehouse.marts import load_product_eligibility
    from storeloop.warehouse.ml_tables import read_run

    conn = connections.warehouse().connect()
    try:
        related = read_run(conn, run_id, products=True)
        products = load_product_eligibility(conn)
    finally:
        conn.close()
    path = landing_root() / "publish" / run_partition(run_id) / "related_products_import.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = write_related_products_import(
        related, dict(zip(products["product_id"], products["handle"], strict=True)), path,
        titles=dict(zip(products["product_id"], products["title"], strict=True)))
    reason = ("no Admin API token: nothing was written to the store. Import the related products by hand: "
              f"{path} (Products → Import, overwrite products with matching handles; docs/contracts.md, "
              "\"Exports-only stores\"). The customer lists (buy_again, for_you) need the Admin API: they are in "
              "ml.customer_recommendations and ml.for_you_recommendations.")
    log.warning("not published through the Admin API: %s", reason)
    return {"metafields_written": 0, "publish_skipped": reason, "products_import_csv": str(path),
            "products_import_rows": rows, "published_model_version": int(model_version)}


def _alert(violations: list, run_id: str, version: int) -> None:
    from storeloop.orchestration.callbacks import notify_publish_aborted

    notify_publish_aborted([str(v) for v in violations], run_id=run_id, model_version=version)


def ensure_definitions(client) -> dict[str, str]:
    from storeloop.publish.metafields import DEFINITIONS
    from storeloop.shopify.metafield_admin import ensure_metafield_definition

    return {f"{d['owner_type']}.{d['key']}": ensure_metafield_definition(client, **d) for d in DEFINITIONS}


def publish(run_id: str, model_version: int, *, dry_run: bool = False, force: bool = False,
            for_you_version: int | None = None) -> dict:
    """Publish the run's lists (see the module doc). Returns counts; raises PublishAborted when a guardrail or the
    canary stopped it (after the Slack alert). `model_version` is the champion's (related products, buy again),
    `for_you_version` the `for_you` model's, recorded with the lists each one made."""
    from storeloop.publish import guardrails
    from storeloop.publish.metafields import FOR_YOU_KEY
    from storeloop.publish.plan import plan_publish
    from storeloop.publish.writer import canary_sample, delete_lists, read_back_mismatches, write_lists
    from storeloop.shopify.client import ShopifyClient
    from storeloop.warehouse import publish_state
    from storeloop.warehouse.marts import load_product_eligibility
    from storeloop.warehouse.ml_tables import read_run

    config = admin_api()
    if config is None:
        return write_products_import(run_id, model_version)
    limits = guardrails.GuardrailLimits.from_env()
    client = ShopifyClient(config)
    conn = connections.warehouse().connect()
    try:
        customers, related = read_run(conn, run_id), read_run(conn, run_id, products=True)
        for_you = read_run(conn, run_id, for_you=True)
        products = load_product_eligibility(conn)
        gids = csv_products_in_shopify(client, [customers["product_id"], for_you["product_id"],
                                                related["product_id"], related["related_product_id"]])
        if gids:
            customers = customers.replace({"product_id": gids})
            for_you = for_you.replace({"product_id": gids})
            related = related.replace({"product_id": gids, "related_product_id": gids})
            products = products.replace({"product_id": gids})
        lists, items, skipped = desired_lists(customers, related, for_you)
        state = publish_state.load_published(conn)
        plan = plan_publish(lists, state)
        counts = plan.counts()
        ineligible = dict(zip(products.loc[~products["is_eligible"], "product_id"],
                              products.loc[~products["is_eligible"], "ineligible_reason"], strict=True))
        eligible_count = int(products["is_eligible"].sum())
        cov = guardrails.coverage(items, eligible_count)
        violations = guardrails.check(items, plan, ineligible, eligible_count,
                                      publish_state.last_complete_coverage(conn, run_id), limits, force=force)
        log.info("publish plan for model v%s: %s; coverage %.1f%% of %d eligible products; first publish: %s",
                 model_version, counts, 100 * cov, eligible_count, plan.first_publish)
        for line in plan.sample():
            log.info("  %s", line)
        summary = {"published_model_version": int(model_version), "plan": counts, "coverage": round(cov, 4),
                   "dry_run": bool(dry_run), "forced": bool(force), **skipped}
        if dry_run:
            publish_state.start_publish(conn, run_id, model_version, counts, cov, force, status="dry_run",
                                        reason="; ".join(map(str, violations)) or None)
            log.info("dry run: nothing written to the store%s", "; the guardrails would abort: " +
                     "; ".join(map(str, violations)) if violations else "; the guardrails pass")
            return {**summary, "metafields_written": 0, "guardrails": [str(v) for v in violations]}
        if violations:
            reason = "; ".join(map(str, violations))
            publish_state.start_publish(conn, run_id, model_version, counts, cov, force, status="aborted",
                                        reason=reason)
            _alert(violations, run_id, model_version)
            raise PublishAborted(f"publish of model v{model_version} aborted by the guardrails, nothing was "
                                 f"written: {reason}")
        publish_state.start_publish(conn, run_id, model_version, counts, cov, force)
        definitions = ensure_definitions(client)
        sink = publish_state.PublishStateTable(conn, run_id, int(model_version), {} if for_you_version is None
                                               else {FOR_YOU_KEY: int(for_you_version)})
        canary = plan.to_set.loc[canary_sample(plan.to_set, canary_share())]
        first = write_lists(client, canary, sink, chunk=publish_chunk())
        mismatches = read_back_mismatches(client, canary.loc[~canary["owner_gid"].isin(
            [f.owner_gid for f in first.failures])])
        if mismatches:
            reason = f"canary: {len(mismatches)} of {len(canary)} lists read back differ: " + "; ".join(mismatches[:3])
            publish_state.finish_publish(conn, run_id, "canary_failed", reason=reason)
            _alert([reason], run_id, model_version)
            raise PublishAborted(f"publish of model v{model_version} stopped after the canary: {reason}")
        log.info("canary: %d lists written and read back identical; writing the other %d", first.written,
                 len(plan.to_set) - len(canary))
        rest = write_lists(client, plan.to_set.drop(index=canary.index), sink, chunk=publish_chunk())
        removed = delete_lists(client, plan.to_delete, sink)
        failures = first.failures + rest.failures + removed.failures
        status = "complete_with_failures" if failures else "complete"
        publish_state.finish_publish(conn, run_id, status)
    finally:
        conn.close()
    for failure in failures[:20]:
        log.warning("not published: %s %s (%s): %s", failure.owner_gid, failure.key, failure.action, failure.message)
    if len(failures) > 20:
        log.warning("... %d more failures: select * from ml.publish_failures where run_id = %r", len(failures) - 20,
                    run_id)
    written = first.written + rest.written
    log.info("published model v%s: %d lists written, %d deleted, %d unchanged, %d failed (%d Admin API requests); "
             "definitions: %s", model_version, written, removed.deleted, plan.unchanged, len(failures),
             first.requests + rest.requests + removed.requests, definitions)
    return {**summary, "metafields_written": written, "metafields_deleted": removed.deleted,
            "metafields_unchanged": plan.unchanged, "publish_failures": len(failures), "publish_status": status,
            "metafield_requests": first.requests + rest.requests + removed.requests}
