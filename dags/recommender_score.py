"""recommender_score: the champion scores every customer (top-10 into ml.customer_recommendations) and writes
related products back to the store as product metafields. Scheduled on the recommender_model Asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

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
)
def recommender_score():
    @task
    def score_customers() -> dict:
        from storeloop.orchestration.score import score

        return score(get_current_context()["run_id"])

    @task
    def publish_product_metafields(scores: dict) -> dict:
        from storeloop.orchestration.score import publish_related_products

        return publish_related_products(scores["model_version"])

    @task(outlets=[RECOMMENDATIONS])
    def publish_recommendations_asset(scores: dict, published: dict) -> dict:
        context = get_current_context()
        summary = {**scores, **published}
        context["outlet_events"][RECOMMENDATIONS].extra = summary
        return summary

    scores = score_customers()
    publish_recommendations_asset(scores, publish_product_metafields(scores))


recommender_score()
