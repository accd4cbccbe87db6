"""recommender_score: the champion scores every customer and every product over the products the store can sell
(ml.customer_recommendations, ml.product_recommendations), the `for_you` model lists each customer's new products
(ml.for_you_recommendations); an unpromoted challenger is scored in shadow; the lists are published to the store as
metafields (related products, buy again, for you) — only what changed, after the guardrails and a canary. Scheduled on the recommender_model Asset.

Params: `dry_run` (compute and log the diff, write nothing to the store), `force` (accept a mass change of lists).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from storeloop.orchestration.assets import RECOMMENDATIONS, RECOMMENDER_MODEL
from storeloop.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="recommender_score",
    schedule=[RECOMMENDER_MODEL],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["storeloop", "ml", "shopify"],
    doc_md=__doc__,
    params={
        "dry_run": Param(False, type="boolean", description="compute and log the diff; write nothing to the store"),
        "force": Param(False, type="boolean", description="publish even when more lists change than the limit"),
    },
)
def recommender_score():
    @task
    def score_customers() -> dict:
        from storeloop.orchestration.score import score

        return score(get_current_context()["run_id"])

    @task
    def score_shadow_challenger(scores: dict) -> dict:
        from storeloop.orchestration.score import score_shadow

        return score_shadow(get_current_context()["run_id"], scores["model_version"])

    @task
    def publish_metafields(scores: dict) -> dict:
        from airflow.exceptions import AirflowFailException

        from storeloop.orchestration.score import PublishAborted, publish

        context = get_current_context()
        params = context["params"]
        try:
            return publish(context["run_id"], scores["model_version"], dry_run=bool(params.get("dry_run")),
                           force=bool(params.get("force")), for_you_version=scores.get("for_you_version"))
        except PublishAborted as stopped:  # no retry: the store and the lists are as they were
            failure = AirflowFailException(str(stopped))
            failure.already_alerted = True
            raise failure from stopped

    @task(outlets=[RECOMMENDATIONS])
    def publish_recommendations_asset(scores: dict, published: dict, shadow: dict) -> dict:
        context = get_current_context()
        summary = {**scores, **published, **shadow}
        context["outlet_events"][RECOMMENDATIONS].extra = summary
        return summary

    scores = score_customers()
    publish_recommendations_asset(scores, publish_metafields(scores), score_shadow_challenger(scores))


recommender_score()
