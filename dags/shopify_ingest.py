"""shopify_ingest: pull products, customers and orders (with line items) from the Shopify Admin API with bulk
queries, land the files unchanged, load them into raw_shopify.*, and emit the raw_shopify Asset."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from storeloop.orchestration.assets import RAW_SHOPIFY
from storeloop.orchestration.defaults import DEFAULT_ARGS


@dag(
    dag_id="shopify_ingest",
    # Nightly at 02:00 UTC. The first run waits for the next 02:00: no start_date (with one, unpausing starts the
    # latest missed slot at once) and run_immediately=timedelta(0) (False still runs the missed slot when the DAG
    # appears within 10% of the interval after it, i.e. until 04:24).
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["storeloop", "ingest"],
    doc_md=__doc__,
)
def shopify_ingest():
    @task
    def extract_load(resource: str) -> dict:
        from storeloop.orchestration.ingest import extract_and_load

        return extract_and_load(resource, get_current_context()["run_id"])

    @task(outlets=[RAW_SHOPIFY])
    def publish_raw_asset(products: dict, customers: dict, orders: dict) -> dict:
        from storeloop.orchestration.ingest import summarize

        context = get_current_context()
        summary = {**summarize([products, customers, orders]), "run_id": context["run_id"]}
        context["outlet_events"][RAW_SHOPIFY].extra = summary
        return summary

    # Shopify runs one bulk query per shop at a time: the three resources go one after another.
    products = extract_load.override(task_id="extract_load_products")("products")
    customers = extract_load.override(task_id="extract_load_customers")("customers")
    orders = extract_load.override(task_id="extract_load_orders")("orders")
    products >> customers >> orders
    publish_raw_asset(products, customers, orders)


shopify_ingest()
