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


def training_reason(run_type: str, param_reason: str | None, features_events: list[dict]) -> str:
    """Why this recommender_train run happens: the `reason` param of a manual/monitor trigger, else the trigger."""
    if param_reason and param_reason.strip():
        return param_reason.strip()[:500]
    if features_events:
        return "new features (features Asset updated)"
    if run_type == "scheduled":
        return "weekly schedule"
    return f"{run_type or 'manual'} run without a reason"


def train(run_id: str, reason: str = "", features_events: list[dict] | None = None) -> dict:
    """Train, evaluate, register the challenger and promote it if it wins. `features_events` are the extras of the
    features Asset events that triggered the run (they carry the shopify_features run id, i.e. the dbt build)."""
    from storeloop.recsys.data import load_customers, load_model_builds, load_order_lines
    from storeloop.recsys.training import train_and_register

    conn = connections.warehouse().connect()
    try:
        order_lines = load_order_lines(conn)
        customers = load_customers(conn)
        builds = load_model_builds(conn)
    finally:
        conn.close()
    log.info("training on %d order lines from marts.fct_order_lines; dim_customers: %s", len(order_lines),
             "absent (cohorts from order lines)" if customers is None else f"{len(customers)} customers")
    features_runs = sorted({str(e.get("run_id")) for e in features_events or [] if e.get("run_id")})
    result = train_and_register(
        order_lines,
        tracking_uri=tracking_uri(),
        experiment_name=EXPERIMENT,
        model_name=model_name(),
        holdout_days=int(os.environ.get("STORELOOP_HOLDOUT_DAYS", "30")),
        data_snapshot={
            "source": "marts.fct_order_lines",
            "airflow_run_id": run_id,
            "features_run_id": ",".join(features_runs) or "none (not triggered by the features Asset)",
            "dim_customers": "absent" if customers is None else str(len(customers)),
            **{f"dbt.{model}.{key}": value for model, build in builds.items() for key, value in build.items()},
        },
        code_version=code_version(),
        artifact_location=os.environ.get("MLFLOW_ARTIFACTS_DIR"),
        customers=customers,
        reason=reason,
    )
    for name, metrics in result.metrics.items():
        log.info("%-16s %s", name, {k: round(v, 4) for k, v in metrics.items()})
    log.info("%s: challenger v%s (%s); champion v%s (%s): %s", result.decision, result.challenger_version,
             result.challenger_candidate, result.champion_version, result.champion_candidate,
             result.promotion_reason)
    return {
        "model_name": model_name(),
        "model_version": int(result.champion_version),
        "champion_candidate": result.champion_candidate,
        "challenger_version": int(result.challenger_version),
        "challenger_candidate": result.challenger_candidate,
        "promoted": bool(result.promoted),
        "decision": result.decision,
        "promotion_reason": result.promotion_reason,
        "previous_champion_version": result.previous_champion_version,
        "training_reason": reason,
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
