"""recommender_train: train the popularity baseline and a personalised model on the feature tables, log both to
MLflow, register the better one and point alias `champion` at it. Scheduled on the features Asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from storeloop.orchestration.assets import FEATURES, RECOMMENDER_MODEL
from storeloop.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="recommender_train",
    schedule=[FEATURES],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["storeloop", "ml", "mlflow"],
    doc_md=__doc__,
)
def recommender_train():
    @task(outlets=[RECOMMENDER_MODEL])
    def train_and_register() -> dict:
        from storeloop.orchestration.ml import train

        context = get_current_context()
        result = train(context["run_id"])
        context["outlet_events"][RECOMMENDER_MODEL].extra = result
        return result

    train_and_register()


recommender_train()
