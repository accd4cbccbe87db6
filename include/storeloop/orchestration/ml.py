"""recommender_train / recommender_score task bodies: warehouse ↔ recsys library ↔ MLflow ↔ Shopify."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

from storeloop.orchestration import connections

log = logging.getLogger(__name__)

EXPERIMENT = "storeloop_recommender"


def model_name() -> str:
    return os.environ.get("STORELOOP_MODEL_NAME", "storeloop_recommender")


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise RuntimeError("MLFLOW_TRACKING_URI is not set: set it in .env to your MLflow tracking server.")
    return uri


def code_version() -> str:
    """The git commit the code runs from (plus '-dirty' when it has uncommitted changes), else 'unknown'."""
    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("STORELOOP_CODE_VERSION", "unknown")


def train(run_id: str) -> dict:
    from storeloop.recsys.data import load_order_lines
    from storeloop.recsys.training import train_and_register

    conn = connections.warehouse().connect()
    try:
        order_lines = load_order_lines(conn)
    finally:
        conn.close()
    log.info("training on %d order lines from marts.fct_order_lines", len(order_lines))
    result = train_and_register(
        order_lines,
        tracking_uri=tracking_uri(),
        experiment_name=EXPERIMENT,
        model_name=model_name(),
        data_snapshot={"source": "marts.fct_order_lines", "airflow_run_id": run_id},
        code_version=code_version(),
        artifact_location=os.environ.get("MLFLOW_ARTIFACTS_DIR"),
    )
    for name, metrics in result.metrics.items():
        log.info("%-12s %s", name, {k: round(v, 4) for k, v in metrics.items()})
    log.info("champion: version %s (%s): %s", result.champion_version, result.champion_candidate,
             result.promotion_reason)
    return {
        "model_name": model_name(),
        "model_version": int(result.champion_version),
        "champion_candidate": result.champion_candidate,
        "promotion_reason": result.promotion_reason,
        "personalised_beat_baseline": bool(result.personalised_beat_baseline),
        "metrics": {name: {k: float(v) for k, v in m.items()} for name, m in result.metrics.items()},
        "run_ids": result.run_ids,
    }


def score(run_id: str, k: int = 10) -> dict:
    from storeloop.recsys.data import load_order_lines
    from storeloop.recsys.scoring import score_customers, write_customer_recommendations
    from storeloop.recsys.training import load_champion

    model, version = load_champion(tracking_uri(), model_name())
    conn = connections.warehouse().connect()
    try:
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

    from storeloop.publish.metafields import related_products_metafields
    from storeloop.shopify.bulk_mutation import write_metafields
    from storeloop.shopify.client import ShopifyClient

    mlflow.set_tracking_uri(tracking_uri())
    model = mlflow.pyfunc.load_model(f"models:/{model_name()}/{model_version}")
    related = model.unwrap_python_model().related_products(k)
    inputs = related_products_metafields(related)
    # metafieldsSet batches of 25 for a small catalogue, one bulk mutation (staged upload) for a large one
    report = write_metafields(ShopifyClient(connections.shopify()), inputs)
    log.info("metafields: %d of %d written by %s in %d requests (%.1fs)", report.metafields_written, len(inputs),
             report.method, report.requests, report.seconds)
    report.raise_for_errors()
    return {"metafields_written": report.metafields_written, "metafield_requests": report.requests,
            "metafield_write_method": report.method, "published_model_version": int(model_version)}
