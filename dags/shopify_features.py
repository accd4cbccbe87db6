"""shopify_features: build the feature store with dbt, rendered by Cosmos from the prebuilt manifest
(dbt_project/target/manifest.json, written by `make setup`'s `dbt parse`): a freshness check per raw_shopify source,
then each model a task with its tests right after it, so a failing test (a duplicated order, a null key, revenue that
does not reconcile) stops everything downstream. Then publish dbt docs and emit the features Asset that
recommender_train schedules on. Scheduled on the raw_shopify Asset.

A scheduled run tests the big order tables on what was loaded since their tests last passed (docs/features.md,
"Nightly tests"). Param `full_tests`: trigger with it true (weekly, or after fixing old data) to test every row."""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, LoadMode, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import SourceRenderingBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from storeloop.orchestration.assets import FEATURES, RAW_SHOPIFY
from storeloop.orchestration.defaults import DEFAULT_ARGS, START_DATE
from storeloop.orchestration.features import dbt_executable, dbt_project_dir

DBT_PROJECT = dbt_project_dir()


@dag(
    dag_id="shopify_features",
    schedule=[RAW_SHOPIFY],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["storeloop", "features", "dbt"],
    doc_md=__doc__,
    params={"full_tests": Param(False, type="boolean",
                                description="Test every row, not only what was loaded since the tests last passed.")},
)
def shopify_features():
    dbt_build = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT,
            manifest_path=DBT_PROJECT / "target" / "manifest.json",
            project_name="storeloop",
        ),
        profile_config=ProfileConfig(
            profile_name="storeloop",
            target_name="airflow",
            profile_mapping=PostgresUserPasswordProfileMapping(conn_id="warehouse",
                                                               profile_args={"schema": "analytics"}),
        ),
        execution_config=ExecutionConfig(dbt_executable_path=dbt_executable()),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # a test with two parents (relationships) runs after both are built, not after whichever finished first
            should_detach_multiple_parents_tests=True,
            # each raw_shopify table with a freshness check becomes a `dbt source freshness` task upstream of its model
            source_rendering_behavior=SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS,
        ),
        operator_args={"install_deps": False, "vars": {"full_tests": "{{ params.full_tests }}"}},
    )

    @task
    def generate_dbt_docs() -> str:
        from storeloop.orchestration.features import generate_docs

        return generate_docs()

    @task(outlets=[FEATURES])
    def publish_features_asset(docs_dir: str) -> dict:
        from storeloop.orchestration.features import features_summary

        context = get_current_context()
        summary = features_summary(context["run_id"], docs_dir)
        context["outlet_events"][FEATURES].extra = summary
        return summary

    docs = generate_dbt_docs()
    dbt_build >> docs
    publish_features_asset(docs)


shopify_features()
