"""recommender_train task body: the marts (warehouse) → recsys training and evaluation → MLflow runs and registry."""

from __future__ import annotations

import logging
import os

from storeloop.orchestration import connections
from storeloop.orchestration.mlflow_settings import EXPERIMENT, code_version, model_name, tracking_uri

log = logging.getLogger(__name__)


def training_reason(run_type: str, param_reason: str | None, features_events: list[dict]) -> str:
    """Why this recommender_train run happens: the `reason` param of a manual/monitor trigger, else the trigger."""
    if param_reason and param_reason.strip():
        return param_reason.strip()[:500]
    if features_events:
        return "new features (features Asset updated)"
    if run_type == "scheduled":
        return "weekly schedule"
    return f"{run_type or 'manual'} run without a reason"


def require_customers(order_lines) -> None:
    """Personal recommendations learn from customers' histories: with no order line tied to a customer (every order a
    guest checkout, or orders exports without the Email column) there is nothing to train or evaluate them on."""
    if len(order_lines) and order_lines["customer_id"].notna().any():
        return
    what = ("marts.fct_order_lines has no order lines" if not len(order_lines) else
            f"none of the {len(order_lines)} order lines in marts.fct_order_lines has a customer")
    raise RuntimeError(
        f"Cannot train the recommender: {what}. Personal recommendations need to know who "
        "bought what: load orders (the Admin API pull, or orders_export*.csv files) that carry the customer, i.e. "
        "exports with their Email column (a spreadsheet may have dropped it), then rerun shopify_ingest.")


def point_in_time_features(params, order_lines, holdout_days: int):
    """The ranker's feature tables as of T = C - LABEL_DAYS (examples) and C (evaluation), C the holdout's start:
    built by dbt into their own schemas (orchestration/feature_snapshots.py) and read back."""
    from storeloop.orchestration.feature_snapshots import CUTOFF_SCHEMA, TRAIN_SCHEMA, build_snapshot
    from storeloop.recsys.ranker import (
        FEATURE_MODELS,
        FEATURE_READ_LIMITS,
        LABEL_DAYS,
        RankerFeatures,
        feature_tables,
        training_cutoffs,
    )
    from storeloop.recsys.split import cutoff_of
    from storeloop.warehouse.feature_tables import read_feature_models

    train_at, cutoff = training_cutoffs(cutoff_of(order_lines, holdout_days), LABEL_DAYS)
    snapshots, tables = {}, {}
    for name, schema, as_of in (("at_train", TRAIN_SCHEMA, train_at), ("at_cutoff", CUTOFF_SCHEMA, cutoff)):
        snapshots[name] = build_snapshot(params, schema, as_of, list(FEATURE_MODELS))
        conn = params.connect()
        try:
            frames = read_feature_models(conn, schema, FEATURE_MODELS, FEATURE_READ_LIMITS)
        finally:
            conn.close()
        tables[name] = feature_tables(frames, as_of, snapshots[name])
    return RankerFeatures(at_train=tables["at_train"], at_cutoff=tables["at_cutoff"]), snapshots


def train(run_id: str, reason: str = "", features_events: list[dict] | None = None) -> dict:
    """Train, evaluate, register the challenger and promote it if it wins. `features_events` are the extras of the
    features Asset events that triggered the run (they carry the shopify_features run id, i.e. the dbt build)."""
    from storeloop.recsys.training import train_and_register
    from storeloop.warehouse.marts import load_customers, load_model_builds, load_order_lines

    params = connections.warehouse()
    conn = params.connect()
    try:
        order_lines = load_order_lines(conn)
        customers = load_customers(conn)
        builds = load_model_builds(conn)
    finally:
        conn.close()
    require_customers(order_lines)
    holdout_days = int(os.environ.get("STORELOOP_HOLDOUT_DAYS", "30"))
    features, snapshots = point_in_time_features(params, order_lines, holdout_days)
    log.info("training on %d order lines from marts.fct_order_lines; dim_customers: %s", len(order_lines),
             "absent (cohorts from order lines)" if customers is None else f"{len(customers)} customers")
    features_runs = sorted({str(e.get("run_id")) for e in features_events or [] if e.get("run_id")})
    result = train_and_register(
        order_lines,
        tracking_uri=tracking_uri(),
        experiment_name=EXPERIMENT,
        model_name=model_name(),
        holdout_days=holdout_days,
        data_snapshot={
            "source": "marts.fct_order_lines",
            "airflow_run_id": run_id,
            "features_run_id": ",".join(features_runs) or "none (not triggered by the features Asset)",
            "dim_customers": "absent" if customers is None else str(len(customers)),
            **{f"dbt.{model}.{key}": value for model, build in builds.items() for key, value in build.items()},
            **{f"features.{name}.{key}": value for name, snap in snapshots.items() for key, value in snap.items()},
        },
        code_version=code_version(),
        artifact_location=os.environ.get("MLFLOW_ARTIFACTS_DIR"),
        customers=customers,
        reason=reason,
        features=features,
    )
    for name, metrics in result.metrics.items():
        log.info("%-16s %s", name, {k: round(v, 4) for k, v in metrics.items()})
    log.info("%s: challenger v%s (%s); champion v%s (%s): %s", result.decision, result.challenger_version,
             result.challenger_candidate, result.champion_version, result.champion_candidate,
             result.promotion_reason)
    log.info("for_you v%s (%s): %s", result.for_you_version, result.for_you_candidate, result.for_you_reason)
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
        "for_you_version": result.for_you_version,
        "for_you_candidate": result.for_you_candidate,
        "for_you_promoted": bool(result.for_you_promoted),
        "for_you_reason": result.for_you_reason,
        "training_reason": reason,
        "metrics": {name: {k: float(v) for k, v in m.items()} for name, m in result.metrics.items()},
        "run_ids": result.run_ids,
    }
