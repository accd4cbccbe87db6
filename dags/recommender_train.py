"""recommender_train: fit the baselines (popularity, repeat purchase) and the candidates (item-to-item CF, ALS, hybrid)
on the feature tables, evaluate them on a time-based holdout, log one MLflow run each, register the best as
`challenger`, re-evaluate the live `champion` on the same holdout and move `champion` only if the challenger beats
it and every baseline by the margin (docs/recommender.md).

Runs when the features Asset is updated, weekly (Sunday 03:00 UTC), and on demand with a `reason` (the monitor
triggers it with one: `{"reason": "drift: ..."}`)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from storeloop.orchestration.assets import FEATURES, RECOMMENDER_MODEL
from storeloop.orchestration.defaults import DEFAULT_ARGS


@dag(
    dag_id="recommender_train",
    # features Asset OR weekly; no start_date and run_immediately=timedelta(0): unpausing does not start a missed slot
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * 0", timezone="UTC", run_immediately=timedelta(0)),
        assets=[FEATURES],
    ),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"reason": Param("", type="string", description="why retrain now (recorded on the MLflow runs)")},
    tags=["storeloop", "ml", "mlflow"],
    doc_md=__doc__,
)
def recommender_train():
    @task(outlets=[RECOMMENDER_MODEL])
    def train_and_register() -> dict:
        from storeloop.orchestration.train import train, training_reason

        context = get_current_context()
        events = [dict(event.extra or {}) for evs in context["triggering_asset_events"].values() for event in evs]
        dag_run = context["dag_run"]
        run_type = str(getattr(dag_run.run_type, "value", dag_run.run_type))
        reason = training_reason(run_type, context["params"].get("reason"), events)
        result = train(context["run_id"], reason=reason, features_events=events)
        context["outlet_events"][RECOMMENDER_MODEL].extra = result
        return result

    train_and_register()


recommender_train()
