"""recommender_monitor: an Evidently data-drift report on the features (recent window vs reference), saved as HTML
and JSON and recorded in monitoring.drift_reports, with a summary posted to Slack. Scheduled on the recommendations
Asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from storeloop.orchestration.assets import RECOMMENDATIONS
from storeloop.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="recommender_monitor",
    schedule=[RECOMMENDATIONS],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["storeloop", "monitoring", "evidently"],
    doc_md=__doc__,
)
def recommender_monitor():
    @task
    def data_drift_report() -> dict:
        from storeloop.orchestration.monitor import drift_report

        return drift_report(get_current_context()["run_id"])

    @task
    def notify_slack(drift: dict) -> dict:
        from storeloop.orchestration.monitor import post_summary

        return post_summary(drift)

    notify_slack(data_drift_report())


recommender_monitor()
