"""shopify_features: build the feature tables with dbt (rendered by Cosmos: each model a task, its tests after it),
publish dbt docs, and emit the features Asset. Scheduled on the raw_shopify Asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, LoadMode, ProfileConfig, ProjectConfig, RenderConfig
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
        # a test with two parents (relationships) runs after both are built, not after whichever finished first
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, should_detach_multiple_parents_tests=True),
        operator_args={"install_deps": False},
    )

    @task
    def generate_dbt_docs() -> str:
        from storeloop.orchestration.features import generate_docs

        return generate_docs()

    @task(outlets=[FEATURES])
    def publish_features_asset(docs_dir: str) -> dict:
        context = get_current_context()
        summary = {"run_id": context["run_id"], "dbt_docs": docs_dir}
        context["outlet_events"][FEATURES].extra = summary
        return summary

    docs = generate_dbt_docs()
    dbt_build >> docs
    publish_features_asset(docs)


shopify_features()
