"""shopify_ingest: pull products, customers and orders (with line items) from the Shopify Admin API with bulk
queries, incrementally by `updated_at` watermark; ingest the Shopify admin CSV exports dropped into
`<landing>/exports/`; land every file unchanged; load them into raw_shopify.*; emit the raw_shopify Asset. An export
that cannot be ingested is moved to `<landing>/exports/rejected/` with its reason, alerted once in Slack and named in
the Asset event's `rejected`; the other files load.

Params: `full_refresh` re-pulls every record; `updated_from`/`updated_to` pull a window of `updated_at` (a backfill;
never moves the watermark). `airflow backfill create --dag-id shopify_ingest --from-date … --to-date …` pulls one day
of `updated_at` per run. Watermarks and batches: `raw_shopify._ingest_batches`; rejected lines: `raw_shopify._quarantine`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from storeloop.orchestration.assets import RAW_SHOPIFY
from storeloop.orchestration.defaults import DEFAULT_ARGS


@dag(
    dag_id="shopify_ingest",
    # Nightly at 02:00 UTC; each slot's data interval is the day before it (what a backfill run pulls). The first run
    # waits for the next 02:00: no start_date (with one, unpausing starts the latest missed slot at once) and
    # run_immediately=timedelta(0) (False still runs the missed slot when the DAG appears within 10% of the interval
    # after it, i.e. until 04:24).
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", interval=timedelta(days=1),
                                  run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "full_refresh": Param(False, type="boolean", description="Re-pull every record, ignoring the watermark."),
        "updated_from": Param(None, type=["null", "string"],
                              description="Backfill: pull records updated at or after this ISO date/time (UTC)."),
        "updated_to": Param(None, type=["null", "string"],
                            description="Backfill: pull records updated before this ISO date/time (UTC)."),
    },
    tags=["storeloop", "ingest"],
    doc_md=__doc__,
)
def shopify_ingest():
    @task
    def extract_load(resource: str) -> dict:
        from airflow.exceptions import AirflowSkipException

        from storeloop.orchestration.ingest import enabled_sources, extract_and_load, requested_bounds

        if "api" not in enabled_sources():
            raise AirflowSkipException("STORELOOP_INGEST_SOURCES does not include api: no Admin API pull")
        context = get_current_context()
        updated_from, updated_to = requested_bounds(
            context["params"], run_type=context["dag_run"].run_type,
            interval_start=context.get("data_interval_start"), interval_end=context.get("data_interval_end"))
        return extract_and_load(resource, context["run_id"], full_refresh=context["params"]["full_refresh"],
                                updated_from=updated_from, updated_to=updated_to)

    @task
    def ingest_exports() -> list[dict]:
        """Loaded files' reports, then the files set aside in <landing>/exports/rejected/ (one Slack alert each)."""
        from airflow.exceptions import AirflowSkipException

        from storeloop.orchestration.callbacks import notify_rejected_exports
        from storeloop.orchestration.ingest import enabled_sources, ingest_exports

        if "exports" not in enabled_sources():
            raise AirflowSkipException("STORELOOP_INGEST_SOURCES does not include exports")
        context = get_current_context()
        return ingest_exports(context["run_id"], on_reject=lambda rejected: notify_rejected_exports([rejected], context))

    @task(outlets=[RAW_SHOPIFY], trigger_rule="none_failed")
    def publish_raw_asset(products: dict | None, customers: dict | None, orders: dict | None,
                          exports: list[dict] | None) -> dict:
        from storeloop.orchestration.ingest import current_watermarks, require_something_ingested, summarize

        context = get_current_context()
        reports = [r for r in (products, customers, orders) if r] + list(exports or [])
        require_something_ingested(reports)
        summary = {**summarize(reports, current_watermarks()), "run_id": context["run_id"]}
        context["outlet_events"][RAW_SHOPIFY].extra = summary
        return summary

    # Shopify runs one bulk query per shop at a time: the three resources go one after another.
    products = extract_load.override(task_id="extract_load_products")("products")
    customers = extract_load.override(task_id="extract_load_customers")("customers")
    orders = extract_load.override(task_id="extract_load_orders")("orders")
    products >> customers >> orders
    publish_raw_asset(products, customers, orders, ingest_exports())


shopify_ingest()
