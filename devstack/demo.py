"""`make demo`: start the stack, run the whole loop once through the scheduler, print what happened and where to look."""

from __future__ import annotations

import json
import time
import urllib.request

from devstack.airflow_api import AirflowAPI
from devstack.loop import LoopFailed, run_loop, wait_for_dags
from devstack.settings import Settings, load_settings


def airflow_api(settings: Settings) -> AirflowAPI:
    return AirflowAPI(f"http://127.0.0.1:{settings.port('airflow')}", "admin",
                      settings["STORELOOP_AIRFLOW_ADMIN_PASSWORD"])


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def collect_summary(settings: Settings, runs: dict[str, dict]) -> dict:
    """What the loop did, read back from where it wrote: the warehouse, MLflow, the emulator, the Slack sink."""
    import psycopg2

    env = settings.process_env()
    summary: dict = {}
    with psycopg2.connect(settings.warehouse_url) as conn, conn.cursor() as cur:
        ingest_run = runs["shopify_ingest"]["dag_run_id"]
        rows = {}
        for table in ("products", "product_variants", "customers", "orders", "order_line_items"):
            cur.execute(f"select count(*) from raw_shopify.{table} where _run_id = %s", (ingest_run,))
            rows[table] = cur.fetchone()[0]
        cur.execute("select count(*) from raw_shopify._quarantine where run_id = %s", (ingest_run,))
        summary["rows_ingested"] = rows
        summary["rows_quarantined"] = cur.fetchone()[0]
        cur.execute("select resource, mode, max_updated_at from raw_shopify._ingest_batches where run_id = %s and "
                    "source = 'api_bulk' order by resource", (ingest_run,))
        summary["ingest_modes"] = {r: (mode, mark) for r, mode, mark in cur.fetchall()}
        cur.execute("select count(*) from marts.fct_customer_product_interactions")
        summary["interaction_rows"] = cur.fetchone()[0]
        score_run = runs["recommender_score"]["dag_run_id"]
        cur.execute("select count(*), count(distinct customer_id), max(model_version) from ml.customer_recommendations "
                    "where run_id = %s", (score_run,))
        n, customers, version = cur.fetchone()
        summary["recommendations"] = {"rows": n, "customers": customers, "model_version": version}
        cur.execute("select count(distinct product_id) from ml.product_recommendations where run_id = %s",
                    (score_run,))
        summary["recommendations"]["products"] = cur.fetchone()[0]
        cur.execute("select count(distinct customer_id), max(model_version) from ml.for_you_recommendations "
                    "where run_id = %s", (score_run,))
        summary["recommendations"]["for_you_customers"], summary["recommendations"]["for_you_version"] = cur.fetchone()
        cur.execute("select status, written, deleted, unchanged, failed, reason from ml.publish_runs "
                    "where run_id = %s", (score_run,))
        row = cur.fetchone()
        summary["publish"] = dict(zip(("status", "written", "deleted", "unchanged", "failed", "reason"), row,
                                      strict=True)) if row else None
        monitor_run = runs["recommender_monitor"]["dag_run_id"]
        cur.execute("select * from monitoring.drift_reports where run_id = %s", (monitor_run,))
        cols = [d.name for d in cur.description]
        row = cur.fetchone()
        summary["drift"] = {k: v for k, v in zip(cols, row, strict=True)} if row else None
        if row and "/drift/" in (summary["drift"].get("html_path") or ""):
            summary["drift"]["report_url"] = (env["STORELOOP_REPORTS_BASE_URL"] + "/drift/"
                                              + summary["drift"]["html_path"].split("/drift/", 1)[1])
    summary["model"] = champion_summary(env["MLFLOW_TRACKING_URI"], settings["STORELOOP_MODEL_NAME"])
    summary["for_you_model"] = champion_summary(env["MLFLOW_TRACKING_URI"], settings["STORELOOP_MODEL_NAME"],
                                                alias="for_you")
    stats = _get_json(f"http://127.0.0.1:{settings.port('shopify')}/_sandbox/stats")
    summary["store_metafields"] = stats.get("metafields")
    messages = _get_json(f"http://127.0.0.1:{settings.port('slack')}/_sandbox/messages")
    summary["slack_messages"] = len(messages)
    summary["slack_last"] = messages[-1]["text"] if messages else None
    return summary


def champion_summary(tracking_uri: str, model_name: str, alias: str = "champion") -> dict | None:
    """The model behind `alias`; None for a `for_you` alias training has not set (no discovery list beat popularity)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    try:
        mv = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        if alias == "champion":
            raise
        return None
    run = client.get_run(mv.run_id)
    return {"name": model_name, "version": mv.version, "run_id": mv.run_id,
            "candidate": run.data.tags.get("candidate") or run.data.params.get("model"),
            "metrics": run.data.metrics, "tags": mv.tags, "run_tags": run.data.tags}


def print_summary(settings: Settings, summary: dict, seconds: float) -> None:
    p = print
    rows = summary["rows_ingested"]
    model = summary["model"]
    m = model["metrics"]
    tags = model["tags"]
    p("")
    p("═" * 78)
    p(f" Storeloop: the nightly loop ran end to end in {seconds / 60:.1f} min")
    p("═" * 78)
    p(f" Ingested   {rows['orders']:,} orders, {rows['order_line_items']:,} line items, {rows['customers']:,} customers, "
      f"{rows['products']:,} products ({rows['product_variants']:,} variants); "
      f"{summary['rows_quarantined']} lines quarantined")
    modes = summary.get("ingest_modes") or {}
    if modes:
        p("            " + ", ".join(f"{r}: {mode}" for r, (mode, _) in modes.items())
          + f"; orders watermark now {modes.get('orders', (None, None))[1]}")
    p(f" Features   marts.fct_customer_product_interactions: {summary['interaction_rows']:,} rows (dbt, tests passed)")
    def tag(key: str) -> str:
        value = tags.get(key)
        return f"{float(value):.4f}" if value not in (None, "") else "?"

    p(f" Model      {model['name']} v{model['version']} @champion ({model.get('candidate') or '?'}): NDCG@10 "
      f"{m.get('all.ndcg_at_10', float('nan')):.4f} all items (TIFU-KNN {tag('baseline.tifu_knn.all.ndcg_at_10')}, "
      f"repeat-purchase {tag('baseline.repeat_purchase.all.ndcg_at_10')}, "
      f"popularity {tag('baseline.popularity.all.ndcg_at_10')}), "
      f"{m.get('new.ndcg_at_10', float('nan')):.4f} new items (popularity {tag('baseline.popularity.new.ndcg_at_10')})")
    if tags.get("decision_reason"):
        p(f"            {tags.get('decision')}: {tags['decision_reason'][:300]}")
    for_you = summary.get("for_you_model")
    if for_you:
        fm = for_you["metrics"]
        p(f" For you    v{for_you['version']} @for_you ({for_you.get('candidate') or '?'}): NDCG@10 "
          f"{fm.get('new.ndcg_at_10', float('nan')):.4f} on new items (popularity "
          f"{tag('baseline.popularity.new.ndcg_at_10')}); the buy-again list as published: "
          f"{m.get('new_in_list.ndcg_at_10', float('nan')):.4f}")
    else:
        p(" For you    no model beat popularity on new items: no for_you list (recommender_train's log says why)")
    rec = summary["recommendations"]
    p(f" Scored     {rec['customers']:,} customers ({rec['rows']:,} rows) → ml.customer_recommendations, "
      f"{rec.get('for_you_customers') or 0:,} → ml.for_you_recommendations, "
      f"{rec.get('products') or 0:,} products → ml.product_recommendations")
    pub = summary.get("publish")
    if pub:
        p(f" Published  {pub['status']}: {pub['written']:,} lists written, {pub['deleted']:,} deleted, "
          f"{pub['unchanged']:,} unchanged, {pub['failed']:,} failed (ml.publish_runs); the store holds "
          f"{summary['store_metafields']:,} metafields (storeloop.related_products, storeloop.buy_again, storeloop.for_you)")
        if pub.get("reason"):
            p(f"            {pub['reason'][:300]}")
    else:
        p(" Published  nothing (no publish record for this run: see the recommender_score log)")
    drift = summary["drift"] or {}
    if drift:
        p(f" Drift      dataset drift: {'YES' if drift.get('dataset_drift') else 'no'} "
          f"({drift.get('drifted_columns')} of {drift.get('n_columns', '?')} columns drifted)")
    p(f" Slack      {summary['slack_messages']} message(s) in the sink; last: "
      f"{(summary['slack_last'] or '').splitlines()[0][:90] if summary['slack_last'] else '-'}")
    p("─" * 78)
    p(" Where to look")
    p(f"  Airflow UI   http://127.0.0.1:{settings.port('airflow')}   login: admin / the password in .env "
      "(STORELOOP_AIRFLOW_ADMIN_PASSWORD)")
    p(f"  MLflow UI    http://127.0.0.1:{settings.port('mlflow')}/#/models/{model['name']}")
    p(f"  dbt docs     http://127.0.0.1:{settings.port('dbt_docs')}/dbt/index.html")
    if drift.get("report_url"):
        p(f"  Drift report {drift['report_url']}")
    p(f"  Store        http://127.0.0.1:{settings.port('shopify')}/   (the emulated shop with its metafields)")
    p(f"  Slack sink   http://127.0.0.1:{settings.port('slack')}/_sandbox/messages")
    p(" The services keep running: `make down` stops them all; `make demo` again reuses them and runs another loop.")
    p("═" * 78)


def run_demo(timeout: float = 1800) -> int:
    from devstack.__main__ import cmd_up

    t0 = time.monotonic()
    cmd_up()
    settings = load_settings()
    api = airflow_api(settings)
    try:
        wait_for_dags(api)
        result = run_loop(api, timeout=timeout)
    except LoopFailed as exc:
        print(f"\n✗ {exc}")
        print(f"  Logs: {settings.state_dir / 'logs'} and {settings.airflow_home / 'logs'}")
        return 1
    summary = collect_summary(settings, result.runs)
    print_summary(settings, summary, time.monotonic() - t0)
    return 0
