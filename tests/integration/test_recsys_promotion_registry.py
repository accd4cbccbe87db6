"""The registry scenarios the promotion rule drives, against a file-backed MLflow: a worse challenger is not promoted
and the champion stays; a first run without a winner promotes the best baseline; rollback restores the previous
champion. The rule itself: tests/unit/test_recsys_promotion.py."""

import pytest
from mlflow import MlflowClient

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.models import (
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RepeatPurchaseRecommender,
)
from storeloop.recsys.promotion import FALLBACK
from storeloop.recsys.rollback import main as rollback_main
from storeloop.recsys.rollback import rollback
from storeloop.recsys.training import train_and_register


@pytest.fixture(scope="module")
def tracking(mlflow_workspace):
    return f"sqlite:///{mlflow_workspace}/mlflow.db", mlflow_workspace


@pytest.fixture(scope="module")
def store():
    return make_store(n_customers=600, n_products=100, seed=4)


def baselines():
    return [PopularityRecommender(), RepeatPurchaseRecommender()]


class CrippledKNN(ItemKNNRecommender):
    """Deliberately worse: one neighbour per product, purchases older than a day barely count."""

    name = "crippled_knn"

    def __init__(self) -> None:
        super().__init__(n_neighbors=1, half_life_days=0.5)
        self.name = "crippled_knn"


def run(tracking, store, model_name: str, candidates, experiment: str):
    uri, root = tracking
    return train_and_register(
        store.order_lines, tracking_uri=uri, experiment_name=experiment, model_name=model_name, holdout_days=30,
        seed=0, data_snapshot={"source": "synthetic"}, code_version="test-sha",
        artifact_location=str(root / "artifacts" / experiment), candidates=candidates, margin=0.01,
        reason="promotion test",
    )


def test_a_worse_challenger_is_not_promoted_and_the_champion_stays(tracking, store):
    good = run(tracking, store, "promo", [*baselines(), HybridRecommender(repeat_weight=2.0)], "promo-1")
    assert good.promoted and good.champion_candidate == "hybrid"
    worse = run(tracking, store, "promo", [*baselines(), CrippledKNN()], "promo-2")
    assert worse.metrics["crippled_knn"]["all.ndcg_at_10"] < worse.champion_before.metrics["all.ndcg_at_10"]
    assert (worse.decision, worse.promoted) == ("rejected", False)
    assert worse.champion_version == good.champion_version
    client = MlflowClient(tracking_uri=tracking[0])
    assert int(client.get_model_version_by_alias("promo", "champion").version) == good.champion_version
    challenger = client.get_model_version_by_alias("promo", "challenger")
    assert int(challenger.version) == worse.challenger_version != good.champion_version
    assert challenger.tags["candidate"] == "crippled_knn"
    assert challenger.tags["decision"] == "rejected"
    assert "kept the champion" in challenger.tags["decision_reason"]
    assert int(challenger.tags["champion_before"]) == good.champion_version


def test_first_run_without_a_winner_makes_the_best_baseline_champion(tracking, store):
    result = run(tracking, store, "fallback", [*baselines(), CrippledKNN()], "fallback-1")
    assert result.decision == FALLBACK and not result.promoted
    assert result.champion_candidate == "repeat_purchase"
    client = MlflowClient(tracking_uri=tracking[0])
    champion = client.get_model_version_by_alias("fallback", "champion")
    assert champion.tags["candidate"] == "repeat_purchase" and champion.tags["decision"] == FALLBACK
    challenger = client.get_model_version_by_alias("fallback", "challenger")
    assert challenger.tags["candidate"] == "crippled_knn" and int(challenger.version) != int(champion.version)


def test_rollback_restores_the_previous_champion(tracking, store, capsys):
    uri = tracking[0]
    v1 = run(tracking, store, "roll", [*baselines(), ItemKNNRecommender()], "roll-1")
    v2 = run(tracking, store, "roll", [*baselines(), HybridRecommender(repeat_weight=2.0)], "roll-2")
    assert v1.promoted and v2.promoted and v2.previous_champion_version == v1.champion_version
    client = MlflowClient(tracking_uri=uri)
    assert client.get_model_version("roll", str(v2.champion_version)).tags["previous_champion_version"] == str(
        v1.champion_version
    )
    dry = rollback(uri, "roll", dry_run=True)
    assert (dry.from_version, dry.to_version, dry.applied) == (v2.champion_version, v1.champion_version, False)
    assert int(client.get_model_version_by_alias("roll", "champion").version) == v2.champion_version

    assert rollback_main(["--tracking-uri", uri, "--model-name", "roll", "--reason", "bad CTR"]) == 0
    assert f"from version {v2.champion_version} to {v1.champion_version}" in capsys.readouterr().out
    assert int(client.get_model_version_by_alias("roll", "champion").version) == v1.champion_version
    rolled = client.get_model_version("roll", str(v2.champion_version))
    assert rolled.tags["rollback_reason"] == "bad CTR" and rolled.tags["rolled_back_to"] == str(v1.champion_version)
    assert client.get_model_version("roll", str(v1.champion_version)).tags["restored_from_version"] == str(
        v2.champion_version
    )
    # v1 was the first champion: nothing further back, and the CLI says so
    assert rollback_main(["--tracking-uri", uri, "--model-name", "roll"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    # the for_you list's model rolls back on its own alias; the champion does not move
    current = v2.for_you_version
    assert current is not None
    target = next(v for v in (v1.champion_version, v2.champion_version) if v != current)
    assert rollback_main(["--tracking-uri", uri, "--model-name", "roll", "--alias", "for_you", "--to", str(target),
                          "--reason", "for_you CTR"]) == 0
    assert f"@for_you from version {current} to {target}" in capsys.readouterr().out
    assert int(client.get_model_version_by_alias("roll", "for_you").version) == target
    assert int(client.get_model_version_by_alias("roll", "champion").version) == v1.champion_version
    assert client.get_model_version("roll", str(current)).tags["for_you.rollback_reason"] == "for_you CTR"
