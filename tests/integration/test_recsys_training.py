"""train_and_register / load_champion against a file-backed MLflow (sqlite, no server)."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.pyfunc import model_input
from storeloop.recsys.scoring import score_customers
from storeloop.recsys.training import frame_digest, load_champion, train_and_register

MODEL_NAME = "storeloop_recommender_test"


@pytest.fixture(scope="module")
def workspace(mlflow_workspace):
    return mlflow_workspace


@pytest.fixture(scope="module")
def store():
    return make_store(n_customers=800, n_products=120, seed=11)


def train(workspace: Path, store, experiment: str):
    return train_and_register(
        store.order_lines,
        tracking_uri=f"sqlite:///{workspace}/mlflow.db",
        experiment_name=experiment,
        model_name=MODEL_NAME,
        holdout_days=30,
        k=10,
        seed=0,
        data_snapshot={"source": "synthetic", "store_seed": 11},
        code_version="test-sha",
        artifact_location=str(workspace / "artifacts" / experiment),
        margin=0.01,
        reason="unit test",
    )


@pytest.fixture(scope="module")
def first(workspace, store):
    return train(workspace, store, "recsys-a")


@pytest.fixture(scope="module")
def second(workspace, store, first):
    return train(workspace, store, "recsys-b")


def client(workspace) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{workspace}/mlflow.db")


def test_first_run_promotes_a_challenger_that_beats_both_baselines(workspace, first):
    assert set(first.metrics) == {"popularity", "repeat_purchase", "tifu_knn", "item_knn", "item_knn_bm25", "als",
                                  "hybrid"}
    assert first.decision == "promoted" and first.promoted
    assert first.champion_version == first.challenger_version
    assert first.previous_champion_version is None
    winner = first.metrics[first.challenger_candidate]
    for baseline in ("popularity", "repeat_purchase"):
        for setting in ("all", "new"):
            assert winner[f"{setting}.ndcg_at_10"] >= 1.01 * first.metrics[baseline][f"{setting}.ndcg_at_10"]
    version = client(workspace).get_model_version_by_alias(MODEL_NAME, "champion")
    assert int(version.version) == first.champion_version
    assert int(client(workspace).get_model_version_by_alias(MODEL_NAME, "challenger").version) == first.champion_version
    assert version.run_id == first.run_ids[first.challenger_candidate]
    assert version.tags["candidate"] == first.challenger_candidate
    assert version.tags["decision"] == "promoted"
    assert version.tags["decision_reason"].startswith("first champion")
    assert float(version.tags["baseline.repeat_purchase.all.ndcg_at_10"]) == pytest.approx(
        first.metrics["repeat_purchase"]["all.ndcg_at_10"]
    )
    assert "previous_champion_version" not in version.tags
    assert not version.current_stage or version.current_stage == "None"  # stages are never used


def test_runs_carry_params_metrics_snapshot_code_version_and_a_model_card(workspace, store, first):
    for name, run_id in first.run_ids.items():
        run = client(workspace).get_run(run_id)
        assert run.data.params["candidate"] == name
        assert run.data.params["holdout_days"] == "30"
        for setting in ("all", "new"):
            for metric in ("ndcg_at_10", "map_at_10", "hit_rate_at_10", "precision_at_10", "recall_at_10",
                           "coverage_at_10", "n_eval_customers"):
                key = f"{setting}.{metric}"
                assert run.data.metrics[key] == pytest.approx(first.metrics[name][key])
        cohorts = [key for key in run.data.metrics if key.startswith("segment.all.cohort.") and key.endswith(".n_customers")]
        assert cohorts and sum(run.data.metrics[key] for key in cohorts) == first.metrics[name]["all.n_eval_customers"]
        tags = run.data.tags
        assert tags["code_version"] == "test-sha"
        assert tags["data.source"] == "synthetic"
        assert tags["training_reason"] == "unit test"
        assert int(tags["data.n_rows"]) == len(store.order_lines)
        assert int(tags["data.n_train_rows"]) + int(tags["data.n_holdout_rows"]) == len(store.order_lines)
        assert len(tags["data.train_sha256"]) == len(tags["data.sha256"]) == 64
        assert tags["data.cutoff"] == first.cutoff.isoformat()
        card = mlflow.artifacts.load_text(f"runs:/{run_id}/model_card.md")
        assert f"# Model card: {name}" in card
        assert "repeat_purchase" in card and "popularity" in card and "Known limits" in card
        assert "**for_you list** (new items only" in card
    assert str(workspace / "artifacts" / "recsys-a") in mlflow.get_experiment_by_name("recsys-a").artifact_location


def test_same_data_and_seed_give_the_same_metrics_and_the_champion_stays(workspace, first, second):
    assert second.metrics == first.metrics
    assert second.data_tags["data.train_sha256"] == first.data_tags["data.train_sha256"]
    # the champion, re-evaluated through the registry, scores exactly what it scored as a candidate
    assert second.champion_before.version == first.champion_version
    assert second.champion_before.metrics == pytest.approx(first.metrics[first.challenger_candidate])
    # an identical challenger does not beat it by the margin: registered as challenger, not promoted
    assert second.decision == "rejected" and not second.promoted
    assert second.challenger_version == max(first.champion_version, first.for_you_version) + 1
    assert second.champion_version == first.champion_version
    c = client(workspace)
    assert int(c.get_model_version_by_alias(MODEL_NAME, "champion").version) == first.champion_version
    assert int(c.get_model_version_by_alias(MODEL_NAME, "challenger").version) == second.challenger_version
    challenger = c.get_model_version(MODEL_NAME, str(second.challenger_version))
    assert challenger.tags["decision"] == "rejected"
    assert "does not beat champion" in challenger.tags["decision_reason"]
    champion = c.get_model_version(MODEL_NAME, str(first.champion_version))
    assert champion.tags["decision"] == "promoted"  # its own tags are kept
    assert int(champion.tags["last_reevaluation.challenger_version"]) == second.challenger_version


def test_for_you_goes_to_the_best_new_items_candidate_and_stays_on_the_same_data(workspace, first, second):
    new = {name: m["new.ndcg_at_10"] for name, m in first.metrics.items()}
    qualified = {n: v for n, v in new.items() if n != "popularity" and v >= 1.01 * new["popularity"]}
    assert qualified, "the synthetic store should have a discovery list that beats popularity"
    best = max(qualified, key=lambda n: (qualified[n], first.metrics[n]["all.ndcg_at_10"], n))
    assert first.for_you_candidate == best and first.for_you_promoted
    c = client(workspace)
    version = c.get_model_version_by_alias(MODEL_NAME, "for_you")
    assert int(version.version) == first.for_you_version
    assert version.run_id == first.run_ids[first.for_you_candidate]
    assert version.tags["for_you.decision"] == "promoted"
    if first.for_you_candidate == first.challenger_candidate:  # one version holds both aliases
        assert first.for_you_version == first.champion_version
    # the same data again: the live for_you model is re-evaluated and not beaten by the margin, nothing moves
    assert not second.for_you_promoted and second.for_you_version == first.for_you_version
    assert "the live for_you" in second.for_you_reason and "stays" in second.for_you_reason
    assert int(c.get_model_version_by_alias(MODEL_NAME, "for_you").version) == first.for_you_version


def test_load_champion_predicts_top_k(workspace, store, first):
    model, version = load_champion(f"sqlite:///{workspace}/mlflow.db", MODEL_NAME)
    assert version == first.champion_version
    history = model_input(store.order_lines.head(200))
    recs = model.predict(history, params={"k": 5})
    assert list(recs.columns) == ["customer_id", "product_id", "rank", "score"]
    assert recs.groupby("customer_id").size().eq(5).all()
    assert set(recs["customer_id"]) == set(history["customer_id"])
    assert recs.groupby("customer_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    # the default k comes from the signature's params
    assert model.predict(history).groupby("customer_id").size().eq(10).all()
    related = model.unwrap_python_model().related_products(k=3)
    assert list(related.columns) == ["product_id", "related_product_id", "rank", "score"]
    assert related.groupby("product_id").size().eq(3).all()
    # the alias URI loads too
    by_alias = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    pd.testing.assert_frame_equal(by_alias.predict(history, params={"k": 5}), recs)


def test_score_customers_with_the_loaded_pyfunc(workspace, store, first):
    model, _ = load_champion(f"sqlite:///{workspace}/mlflow.db", MODEL_NAME)
    lines = store.order_lines.head(300).copy()
    lines.loc[lines.index[:5], "is_cancelled"] = True  # tz-aware timestamps and cancelled lines, as from the mart
    recs = score_customers(model, lines, k=4)
    assert set(recs["customer_id"]) == set(lines.loc[~lines["is_cancelled"], "customer_id"])
    assert recs.groupby("customer_id").size().eq(4).all()


def test_load_champion_without_a_registered_model_names_the_problem(workspace):
    with pytest.raises(LookupError, match="no alias 'champion'"):
        load_champion(f"sqlite:///{workspace}/mlflow.db", "no_such_model")


def test_frame_digest_ignores_row_and_column_order(store):
    df = store.order_lines.head(500)
    assert frame_digest(df) == frame_digest(df.sample(frac=1.0, random_state=0)[df.columns[::-1]])
    changed = df.copy()
    changed.loc[changed.index[0], "quantity"] += 1
    assert frame_digest(changed) != frame_digest(df)


def test_the_ranker_trains_on_the_feature_tables_and_explains_itself(workspace):
    """With the feature tables (hand-made here; dbt builds them in recommender_train), the learned ranker is a
    candidate: it wins the staples store (its next purchases are told by the product type, a product feature), is
    promoted, logs its importances and the ablation, says so in its model card, and is scored with features."""
    from support.ranker_tables import staples_store, tables_as_of

    from storeloop.recsys.models import PopularityRecommender, RepeatPurchaseRecommender
    from storeloop.recsys.ranker import FEATURE_GROUPS, LearnedRanker, RankerFeatures, training_cutoffs
    from storeloop.recsys.split import cutoff_of
    from storeloop.recsys.tifu_knn import TIFUKNNRecommender

    lines, types, _ = staples_store(seed=3)
    train_at, cutoff = training_cutoffs(cutoff_of(lines, 30), 30)
    features = RankerFeatures(tables_as_of(lines, types, train_at.tz_localize(None)),
                              tables_as_of(lines, types, cutoff.tz_localize(None)))
    result = train_and_register(
        lines, tracking_uri=f"sqlite:///{workspace}/mlflow.db", experiment_name="recsys-ranker",
        model_name="ranker_test", holdout_days=30, seed=0, data_snapshot={"source": "staples"},
        code_version="test-sha", artifact_location=str(workspace / "artifacts" / "recsys-ranker"), margin=0.01,
        candidates=[PopularityRecommender(), RepeatPurchaseRecommender(), TIFUKNNRecommender(),
                    LearnedRanker(n_estimators=30, min_child_samples=20)],
        features=features,
    )
    assert result.promoted and result.champion_candidate == "ranker"
    c = client(workspace)
    run = c.get_run(result.run_ids["ranker"])
    assert {*FEATURE_GROUPS, "none"} == {k.split(".")[1] for k in run.data.metrics if k.startswith("ablation.")}
    assert run.data.metrics["importance.product_type"] > 0
    artifacts = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                         tracking_uri=f"sqlite:///{workspace}/mlflow.db"))
    assert (artifacts / "feature_importance.csv").exists() and (artifacts / "ablation.csv").exists()
    assert "## What the ranker learned from" in (artifacts / "model_card.md").read_text()

    model, version = load_champion(f"sqlite:///{workspace}/mlflow.db", "ranker_test")
    with pytest.raises(ValueError, match="ranks on the dbt feature models"):
        model.predict(model_input(lines.head(5)), params={"k": 3})
    recs = score_customers(model, lines, k=3, features=features.at_cutoff)
    assert recs.groupby("customer_id").size().eq(3).all() and version == result.champion_version


def test_the_ablation_sample_is_seeded_and_restricts_every_part_of_the_evaluation(store):
    from storeloop.recsys.protocol import evaluation_data
    from storeloop.recsys.split import time_split
    from storeloop.recsys.training import sample_evaluation

    data = evaluation_data(time_split(store.order_lines, holdout_days=30))
    sample = sample_evaluation(data, 25, seed=1)
    kept = set(sample.history["customer_id"])
    assert len(kept) == 25 and kept == set(sample_evaluation(data, 25, seed=1).history["customer_id"])
    for frame in (*sample.relevant.values(), sample.bought):
        assert set(frame["customer_id"]) <= kept and len(frame) > 0
    assert sample_evaluation(data, 10**6, seed=1) is data
