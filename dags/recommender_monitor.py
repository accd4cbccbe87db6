"""recommender_monitor: an Evidently data-drift report on the features (recent window vs reference), saved as HTML
and JSON and recorded in monitoring.drift_reports, with a summary posted to Slack. When the data drifted and the
champion is older than STORELOOP_RETRAIN_COOLDOWN_HOURS (24), it triggers recommender_train with the reason.
Scheduled on the recommendations Asset."""

from __future__ import annotations

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
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

    @task.short_circuit
    def needs_retraining(drift: dict) -> bool:
        from storeloop.orchestration.monitor import champion_age_hours, retrain_cooldown_hours, retrain_reason

        reason = retrain_reason(drift, champion_age_hours(), retrain_cooldown_hours())
        get_current_context()["ti"].xcom_push(key="retrain_reason", value=reason)
        return reason is not None

    drift = data_drift_report()
    notify_slack(drift)
    needs_retraining(drift) >> TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id="recommender_train",
        conf={"reason": "{{ ti.xcom_pull(task_ids='needs_retraining', key='retrain_reason') }}"},
    )


recommender_monitor()
