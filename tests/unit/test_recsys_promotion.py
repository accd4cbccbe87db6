"""The promotion rule (pure) and the registry scenarios it drives: a worse challenger is not promoted and the
champion stays; a first run without a winner promotes the best baseline; rollback restores the previous champion."""

import tempfile

import pytest
from mlflow import MlflowClient

from sandbox.synthetic_order_lines import make_store
from storeloop.recsys.models import (
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    RepeatPurchaseRecommender,
)
from storeloop.recsys.promotion import FALLBACK, PROMOTED, REJECTED, decide, promotion_margin
from storeloop.recsys.rollback import main as rollback_main
from storeloop.recsys.rollback import rollback
from storeloop.recsys.training import train_and_register


def m(all_ndcg: float, new_ndcg: float) -> dict[str, float]:
    return {"all.ndcg_at_10": all_ndcg, "new.ndcg_at_10": new_ndcg}


BASE = {"popularity": m(0.10, 0.05), "repeat_purchase": m(0.20, 0.05)}


def test_a_candidate_must_beat_every_baseline_in_both_settings_by_the_margin():
    d = decide({**BASE, "cf": m(0.25, 0.08)}, 10, 0.01, champion=None)
    assert (d.challenger, d.promote, d.decision) == ("cf", True, PROMOTED)
    # 0.5 % better than repeat purchase is not enough with a 1 % margin, but is with none
    close = {**BASE, "cf": m(0.201, 0.08)}
    assert not decide(close, 10, 0.01, champion=None).promote
    assert decide(close, 10, 0.0, champion=None).promote
    # beating repeat purchase overall but not popularity on new items fails
    d = decide({**BASE, "cf": m(0.30, 0.04)}, 10, 0.0, champion=None)
    assert not d.promote and "new.ndcg_at_10 0.0400 does not beat popularity" in d.reason


def test_the_challenger_is_the_best_candidate_that_clears_the_baselines():
    metrics = {**BASE, "als": m(0.30, 0.04), "cf": m(0.25, 0.08)}
    assert decide(metrics, 10, 0.0, champion=None).challenger == "cf"


def test_a_champion_is_replaced_only_by_a_better_challenger():
    metrics = {**BASE, "cf": m(0.25, 0.08)}
    assert decide(metrics, 10, 0.01, champion=m(0.24, 0.08)).promote
    worse = decide(metrics, 10, 0.01, champion=m(0.26, 0.08))
    assert (worse.promote, worse.decision) == (False, REJECTED)
    assert "does not beat champion" in worse.reason
    tie = decide(metrics, 10, 0.0, champion=m(0.25, 0.08))
    assert not tie.promote  # margin 0 means strictly better
    assert not decide(metrics, 10, 0.0, champion=m(0.20, 0.09)).promote  # no worse at discovery


def test_a_champion_that_cannot_be_scored_is_replaced_by_a_challenger_that_clears_the_baselines():
    d = decide({**BASE, "cf": m(0.25, 0.08)}, 10, 0.01, champion=None, champion_error="AttributeError: x")
    assert d.promote and "could not be evaluated" in d.reason
    d = decide({**BASE, "cf": m(0.15, 0.08)}, 10, 0.01, champion=None, champion_error="AttributeError: x")
    assert not d.promote and d.decision == REJECTED


def test_first_run_without_a_winner_promotes_the_best_baseline():
    d = decide({**BASE, "cf": m(0.15, 0.08)}, 10, 0.01, champion=None)
    assert (d.challenger, d.promote, d.decision, d.fallback) == ("cf", False, FALLBACK, "repeat_purchase")
    assert "repeat_purchase" in d.reason and "first run" in d.reason


def test_margin_from_the_environment(monkeypatch):
    monkeypatch.delenv("STORELOOP_PROMOTION_MARGIN", raising=False)
    assert promotion_margin() == 0.01
    monkeypatch.setenv("STORELOOP_PROMOTION_MARGIN", "0.05")
    assert promotion_margin() == 0.05
    assert promotion_margin(0.0) == 0.0
    monkeypatch.setenv("STORELOOP_PROMOTION_MARGIN", "five")
    with pytest.raises(ValueError, match="STORELOOP_PROMOTION_MARGIN"):
        promotion_margin()


# ------------------------------------------------------------------------------------- against a sqlite MLflow


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-promotion")
    tmp = root / "tmp"
    tmp.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp))
        mp.setattr(tempfile, "tempdir", str(tmp))
        yield f"sqlite:///{root}/mlflow.db", root


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
