"""recommender_score task bodies: the champion (MLflow) scores the marts' customers → ml.customer_recommendations
(warehouse), and related products → product metafields (Shopify)."""

from __future__ import annotations

import logging

from storeloop.orchestration import connections
from storeloop.orchestration.mlflow_settings import model_name, tracking_uri

log = logging.getLogger(__name__)


def score(run_id: str, k: int = 10) -> dict:
    from storeloop.recsys.scoring import score_customers
    from storeloop.recsys.training import load_champion
    from storeloop.warehouse.marts import load_order_lines
    from storeloop.warehouse.migrations import migrate
    from storeloop.warehouse.ml_tables import write_customer_recommendations

    model, version = load_champion(tracking_uri(), model_name())
    conn = connections.warehouse().connect()
    try:
        migrate(conn)  # before the read opens a transaction: the write below then finds its table
        order_lines = load_order_lines(conn)
        recs = score_customers(model, order_lines, k=k)
        written = write_customer_recommendations(conn, recs, model_version=version, run_id=run_id)
    finally:
        conn.close()
    log.info("model v%s scored %d customers: %d rows in ml.customer_recommendations", version,
             recs["customer_id"].nunique(), written)
    return {"model_version": int(version), "customers_scored": int(recs["customer_id"].nunique()),
            "recommendation_rows": int(written)}


def publish_related_products(model_version: int, k: int = 5) -> dict:
    """Write each product's related products, from the model version that scored, to the store as a
    `storeloop.related_products` metafield (the champion alias may have moved meanwhile: not our version then)."""
    import mlflow

    from storeloop.orchestration.ingest import enabled_sources
    from storeloop.publish.metafields import publishable_related, related_products_metafields
    from storeloop.shopify.bulk_mutation import write_metafields
    from storeloop.shopify.client import ShopifyClient

    if "api" not in enabled_sources():
        reason = ("STORELOOP_INGEST_SOURCES has no api: this store is fed by CSV exports only and Storeloop has no "
                  "Admin API access to write metafields with; the recommendations are in "
                  "ml.customer_recommendations")
        log.warning("related products not published: %s", reason)
        return {"metafields_written": 0, "publish_skipped": reason, "published_model_version": int(model_version)}
    mlflow.set_tracking_uri(tracking_uri())
    model = mlflow.pyfunc.load_model(f"models:/{model_name()}/{model_version}")
    related, unpublishable = publishable_related(model.unwrap_python_model().related_products(k))
    if unpublishable:
        log.warning("%d products known only from CSV exports (no Shopify GID) get no related-products metafield, "
                    "and are left out of the other products' lists", unpublishable)
    inputs = related_products_metafields(related)
    # metafieldsSet batches of 25 for a small catalogue, one bulk mutation (staged upload) for a large one
    report = write_metafields(ShopifyClient(connections.shopify()), inputs)
    log.info("metafields: %d of %d written by %s in %d requests (%.1fs)", report.metafields_written, len(inputs),
             report.method, report.requests, report.seconds)
    report.raise_for_errors()
    return {"metafields_written": report.metafields_written, "metafield_requests": report.requests,
            "metafield_write_method": report.method, "published_model_version": int(model_version),
            "products_not_in_shopify": unpublishable}
