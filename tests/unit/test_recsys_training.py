"""train_and_register / load_champion against a file-backed MLflow (sqlite, no server)."""

import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from storeloop.recsys.pyfunc import model_input
from storeloop.recsys.scoring import score_customers
from storeloop.recsys.synthetic import make_store
from storeloop.recsys.training import frame_digest, load_champion, train_and_register

MODEL_NAME = "storeloop_recommender_test"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    tmp = root / "tmp"
    tmp.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        # MLflow writes lock files to the temp dir: keep them in the test's folder
        mp.setenv("TMPDIR", str(tmp))
        mp.setattr(tempfile, "tempdir", str(tmp))
        yield root


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
    )


@pytest.fixture(scope="module")
def first(workspace, store):
    return train(workspace, store, "recsys-a")


@pytest.fixture(scope="module")
def second(workspace, store, first):
    return train(workspace, store, "recsys-b")


def test_registers_the_better_candidate_as_champion(workspace, first):
    assert set(first.metrics) == {"popularity", "item_knn"}
    assert first.personalised_beat_baseline
    assert first.champion_candidate == "item_knn"
    assert first.metrics["item_knn"]["ndcg_at_10"] > first.metrics["popularity"]["ndcg_at_10"]
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace}/mlflow.db")
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert int(version.version) == first.champion_version
    assert version.run_id == first.run_ids["item_knn"]
    assert version.tags["candidate"] == "item_knn"
    assert float(version.tags["baseline_ndcg_at_10"]) == pytest.approx(first.metrics["popularity"]["ndcg_at_10"])
    assert "item_knn ndcg_at_10" in version.tags["promotion_reason"]
    assert not version.current_stage or version.current_stage == "None"  # stages are never used


def test_runs_carry_params_metrics_snapshot_and_code_version(workspace, store, first):
    client = MlflowClient(tracking_uri=f"sqlite:///{workspace}/mlflow.db")
    for name, run_id in first.run_ids.items():
        run = client.get_run(run_id)
        assert run.data.params["candidate"] == name
        assert run.data.params["holdout_days"] == "30"
        for metric in ("ndcg_at_10", "hit_rate_at_10", "precision_at_10", "recall_at_10", "n_eval_customers"):
            assert run.data.metrics[metric] == pytest.approx(first.metrics[name][metric])
        tags = run.data.tags
        assert tags["code_version"] == "test-sha"
        assert tags["data.source"] == "synthetic"
        assert int(tags["data.n_rows"]) == len(store.order_lines)
        assert int(tags["data.n_train_rows"]) + int(tags["data.n_holdout_rows"]) == len(store.order_lines)
        assert len(tags["data.train_sha256"]) == 64
        assert tags["data.cutoff"] == first.cutoff.isoformat()
    assert str(workspace / "artifacts" / "recsys-a") in mlflow.get_experiment_by_name("recsys-a").artifact_location


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


def test_same_data_and_seed_give_the_same_metrics_and_a_new_champion_version(first, second):
    assert second.metrics == first.metrics
    assert second.data_tags["data.train_sha256"] == first.data_tags["data.train_sha256"]
    assert second.champion_version == first.champion_version + 1


def test_load_champion_without_a_registered_model_names_the_problem(workspace):
    with pytest.raises(LookupError, match="no alias 'champion'"):
        load_champion(f"sqlite:///{workspace}/mlflow.db", "no_such_model")


def test_frame_digest_ignores_row_and_column_order(store):
    df = store.order_lines.head(500)
    assert frame_digest(df) == frame_digest(df.sample(frac=1.0, random_state=0)[df.columns[::-1]])
    changed = df.copy()
    changed.loc[changed.index[0], "quantity"] += 1
    assert frame_digest(changed) != frame_digest(df)
