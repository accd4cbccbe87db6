"""Scoring and publishing to the store end to end below Airflow: the score and publish task bodies against real
PostgreSQL, a file-backed MLflow registry, the Shopify emulator and the Slack sink over real HTTP.

What a merchant must be able to trust: a rerun publishes nothing; a degenerate model is stopped before anything is
written, with one Slack alert naming the rule; an ineligible product never reaches a list; a product deleted in
Shopify is skipped with its reason while every other list is written; a publish killed mid-way and rerun leaves every
list from one model version and the publish state equal to the store; a dry run writes nothing; a rollback leaves the
store holding the previous champion's lists."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest
import requests
from support.export_drops import sink_messages, slack_connection
from support.publish_store import (
    published_state,
    query,
    register,
    shop_catalogue,
    store_lists,
    synthetic_lines,
    write_marts,
)
from support.shopify_admin import delete_product, set_product, shopify_connection

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.slack_sink import start_slack_sink, stop_slack_sink
from storeloop.orchestration import score as score_task
from storeloop.publish.metafields import to_gids, value_digest
from storeloop.recsys.models import ItemKNNRecommender, PopularityRecommender, RepeatPurchaseRecommender
from storeloop.recsys.rollback import rollback
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig

pytestmark = pytest.mark.integration

TOKEN = "shpat_publish_tests"
SLACK_TOKEN = "xoxb-publish-tests"
END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path, warehouse_db, mlflow_workspace, monkeypatch):
    server, _thread, base_url = start_emulator(tmp_path / "shop", TOKEN, seed=42, size="XS", end=END)
    sink, _sink_thread, sink_url = start_slack_sink(tmp_path / "slack", token=SLACK_TOKEN)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", warehouse_db)
    monkeypatch.setenv("AIRFLOW_CONN_SHOPIFY", shopify_connection(base_url, TOKEN))
    monkeypatch.setenv("AIRFLOW_CONN_SLACK", slack_connection(sink_url, SLACK_TOKEN))
    monkeypatch.setenv("STORELOOP_INGEST_SOURCES", "api,exports")
    monkeypatch.setenv("STORELOOP_MODEL_NAME", f"publish_test_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("STORELOOP_PUBLISH_CANARY_SHARE", "0.1")
    client = ShopifyClient(ShopifyConfig(base_url, TOKEN), backoff_s=0.05)
    products, customers = shop_catalogue(client)
    lines = synthetic_lines(products["product_id"].tolist(), customers)
    write_marts(warehouse_db, products, customers, lines)
    yield {"url": base_url, "db": warehouse_db, "products": products, "customers": customers, "lines": lines,
           "slack": sink_url, "client": client}
    stop_slack_sink(sink)
    stop_emulator(server)


def _run(run_id: str, **publish_kw) -> tuple[dict, dict]:
    scores = score_task.score(run_id)
    return scores, score_task.publish(run_id, scores["model_version"], for_you_version=scores["for_you_version"],
                                      **publish_kw)


def _desired(db: str, run_id: str) -> dict[tuple[str, str], list[str]]:
    """The lists a run would publish, from its scores in the warehouse."""
    import psycopg2

    from storeloop.warehouse.ml_tables import read_run

    with psycopg2.connect(db) as conn:
        lists, _, _ = score_task.desired_lists(read_run(conn, run_id), read_run(conn, run_id, products=True),
                                               read_run(conn, run_id, for_you=True))
    return {(r.owner_gid, r.key): json.loads(r.value) for r in lists.itertuples()}


def _state_matches_store(s: dict) -> None:
    held = store_lists(s["url"])
    state = published_state(s["db"])
    assert set(held) == set(state)
    digests = value_digest(pd.Series([json.dumps(v) for v in held.values()])).tolist()
    assert dict(zip(held, digests, strict=True)) == {k: d for k, (d, _) in state.items()}


def test_first_publish_writes_the_three_metafields_with_definitions_and_a_rerun_publishes_nothing(store):
    champion = register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    for_you = register(ItemKNNRecommender(), store["lines"], score_task.model_name(), champion=False, for_you=True)
    scores, first = _run("run-1")
    assert scores["for_you_version"] == for_you != champion
    assert first["publish_status"] == "complete" and first["plan"]["new"] == first["metafields_written"] > 0
    held = store_lists(store["url"])
    keys = {k for _, k in held}
    assert keys == {"related_products", "buy_again", "for_you"}
    assert held == _desired(store["db"], "run-1")
    _state_matches_store(store)
    related = [v for (o, k), v in held.items() if k == "related_products"]
    assert len(related) == len(store["products"]) and all(len(v) == 10 for v in related)
    # for_you lists only products the customer never bought, and its lists record the for_you model's version
    lines = store["lines"]
    bought = pd.DataFrame({"owner": to_gids(lines["customer_id"], "Customer"),
                           "item": to_gids(lines["product_id"], "Product")}).groupby("owner")["item"].agg(set)
    for_you_lists = {o: v for (o, k), v in held.items() if k == "for_you"}
    assert for_you_lists and all(not set(v) & bought[o] for o, v in for_you_lists.items())
    versions = dict(query(store["db"], "select key, max(model_version) from ml.published_lists group by key"))
    assert versions == {"related_products": champion, "buy_again": champion, "for_you": for_you}
    stats = requests.get(f"{store['url']}/_sandbox/stats", timeout=10).json()
    assert stats["metafield_definitions"] == 3
    # customers without history keep the trending fallback in the warehouse, not in the store
    fallback = query(store["db"], "select count(distinct customer_id) from ml.customer_recommendations "
                                  "where run_id = 'run-1' and source = 'trending'")[0][0]
    assert fallback == len(store["customers"]) - store["lines"]["customer_id"].nunique() > 0
    before = requests.get(f"{store['url']}/_sandbox/stats", timeout=10).json()["requests"]

    _, again = _run("run-1")  # a rerun of the run
    assert again["metafields_written"] == 0 and again["metafields_deleted"] == 0
    assert again["plan"]["unchanged"] == first["plan"]["desired"]
    _, next_night = _run("run-2")  # the next night, same champion, same history
    assert next_night["metafields_written"] == 0
    after = requests.get(f"{store['url']}/_sandbox/stats", timeout=10).json()["requests"]
    assert after - before <= 2 * 3  # only the three definition checks per run reached Shopify's Admin API


def test_a_model_that_recommends_one_product_to_everyone_is_stopped_and_nothing_is_written(store):
    register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    _run("run-good")
    written = store_lists(store["url"])
    requests.delete(f"{store['slack']}/_sandbox/messages", timeout=10)
    degenerate = PopularityRecommender(window_days=3650)  # the same list for every customer
    register(degenerate, store["lines"], score_task.model_name())
    with pytest.raises(score_task.PublishAborted, match="product_concentration"):
        _run("run-bad", force=True)
    assert store_lists(store["url"]) == written
    messages = sink_messages(store["slack"])
    assert len(messages) == 1 and "product_concentration" in messages[0]["text"]
    status, reason = query(store["db"], "select status, reason from ml.publish_runs where run_id = 'run-bad'")[0]
    assert status == "aborted" and "product_concentration" in reason


def test_ineligible_products_never_reach_a_list(store):
    products = store["products"]["product_id"].tolist()
    lines = store["lines"]
    top = lines["product_id"].value_counts().index[:4].tolist()  # the products every model likes best
    reasons = dict(zip(top, ["not_active", "unpublished", "gift_card", "out_of_stock"], strict=True))
    set_product(store["url"], top[0], status="ARCHIVED")
    set_product(store["url"], top[1], publishedAt=None)
    set_product(store["url"], top[2], isGiftCard=True)
    set_product(store["url"], top[3], inventoryQuantity=0, inventoryPolicy="DENY")
    write_marts(store["db"], store["products"], store["customers"], lines, ineligible=reasons)
    register(ItemKNNRecommender(), lines, score_task.model_name())
    _, published = _run("run-1")
    assert published["publish_status"] == "complete"
    held = store_lists(store["url"])
    assert held and not {p for items in held.values() for p in items} & set(top)
    assert all(len(items) == 10 for (owner, key), items in held.items() if key == "related_products")
    # ineligible products still own their related-products list (their page may be visible)
    assert {o for o, k in held if k == "related_products"} == set(products)


def test_a_deleted_product_is_skipped_with_its_reason_and_every_other_list_is_written(store):
    register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    unsold = sorted(set(store["products"]["product_id"]) - set(store["lines"]["product_id"]))
    gone = unsold[0] if unsold else store["lines"]["product_id"].value_counts().index[-1]
    delete_product(store["url"], gone).raise_for_status()  # deleted in Shopify; the warehouse does not know yet
    scores, published = _run("run-1")
    assert published["publish_status"] == "complete_with_failures"
    failures = query(store["db"], "select owner_gid, key, action, message from ml.publish_failures "
                                  "where run_id = 'run-1'")
    assert failures == [(gone, "related_products", "set", "Owner does not exist.")]
    desired = _desired(store["db"], "run-1")
    held = store_lists(store["url"])
    naming_it = [k for k, v in desired.items() if gone in v and k[0] != gone]
    assert naming_it, "no list recommends the deleted product: the test proves less than it says"
    # every other owner has its list; the lists that named the deleted product hold the rest of it
    assert held == {k: [p for p in v if p != gone] for k, v in desired.items() if k[0] != gone}
    _state_matches_store(store)


def test_a_publish_killed_midway_then_rerun_leaves_one_model_version_in_the_store(store, monkeypatch):
    name = score_task.model_name()
    register(RepeatPurchaseRecommender(), store["lines"], name)
    _run("night-1")
    v2 = register(ItemKNNRecommender(), store["lines"], name)
    score_task.score("night-2")
    total = len(_desired(store["db"], "night-2"))
    monkeypatch.setenv("STORELOOP_PUBLISH_CHUNK", "5")
    requests.post(f"{store['url']}/_sandbox/faults", json={"slow_ms": 150}, timeout=10).raise_for_status()
    code = ("from storeloop.orchestration import score; "
            f"score.publish('night-2', {v2}, force=True)")
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = query(store["db"], "select count(*) from ml.published_lists where run_id = 'night-2'")[0][0]
        if done >= 10:
            break
        time.sleep(0.05)
    child.kill()
    child.wait()
    assert 10 <= done < total, "the publish was not caught mid-way"
    requests.delete(f"{store['url']}/_sandbox/faults", timeout=10)
    versions = {v for _, v in published_state(store["db"]).values()}
    assert len(versions) == 2  # a mix of two model versions, as the store holds after the kill

    _, finished = score_task.score("night-2"), score_task.publish("night-2", v2, force=True)
    assert finished["publish_status"] == "complete"
    assert store_lists(store["url"]) == _desired(store["db"], "night-2")
    _state_matches_store(store)


def test_a_dry_run_writes_nothing(store):
    register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    _, dry = _run("run-1", dry_run=True)
    assert dry["dry_run"] and dry["metafields_written"] == 0 and dry["plan"]["new"] > 0
    assert store_lists(store["url"]) == {} and published_state(store["db"]) == {}
    assert query(store["db"], "select status from ml.publish_runs where run_id = 'run-1'") == [("dry_run",)]


def test_rollback_republishes_the_previous_champions_lists_through_the_diff(store, monkeypatch):
    name = score_task.model_name()
    register(RepeatPurchaseRecommender(), store["lines"], name)
    _run("night-1")
    v1_lists = store_lists(store["url"])
    v2 = register(ItemKNNRecommender(), store["lines"], name)
    mlflow_client = __import__("mlflow").MlflowClient()
    mlflow_client.set_model_version_tag(name, str(v2), "previous_champion_version", "1")
    _, second = _run("night-2", force=True)
    assert second["metafields_written"] > 0 and store_lists(store["url"]) != v1_lists

    done = rollback(score_task.tracking_uri(), name, reason="test")
    assert (done.from_version, done.to_version) == (v2, 1)
    _, restored = _run("rollback", force=True)
    assert store_lists(store["url"]) == v1_lists
    assert restored["metafields_written"] == second["metafields_written"]  # only what v2 had changed


def test_an_unpromoted_challenger_is_scored_in_shadow_and_never_published(store):
    import mlflow

    name = score_task.model_name()
    champion = register(RepeatPurchaseRecommender(), store["lines"], name)
    challenger = register(ItemKNNRecommender(), store["lines"], name, champion=False)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "challenger", str(challenger))
    client.set_model_version_tag(name, str(challenger), "decision", "rejected")
    scores, published = _run("night-1")
    held = store_lists(store["url"])
    shadow = score_task.score_shadow("night-1", scores["model_version"])
    assert shadow["shadow_version"] == challenger and 0 <= shadow["overlap_at_10"] <= 1
    assert store_lists(store["url"]) == held == _desired(store["db"], "night-1")
    rows = query(store["db"], "select count(distinct customer_id), min(model_version), max(model_version) "
                              "from ml.shadow_customer_recommendations where run_id = 'night-1'")[0]
    assert rows == (len(store["customers"]), challenger, challenger)
    assert query(store["db"], "select count(*) from ml.shadow_product_recommendations where run_id = 'night-1'"
                 )[0][0] == 10 * len(store["products"])
    agreement = query(store["db"], "select champion_version, challenger_version, overlap_at_10, lists_differ_share "
                                   "from ml.shadow_agreement where run_id = 'night-1'")
    assert agreement == [(champion, challenger, pytest.approx(shadow["overlap_at_10"]),
                          pytest.approx(shadow["lists_differ_share"]))]
    run = client.get_run(client.get_model_version(name, str(challenger)).run_id)
    assert run.data.metrics["shadow.overlap_at_10"] == pytest.approx(shadow["overlap_at_10"])
    # once the challenger is promoted (or is the champion), there is nothing to shadow
    client.set_registered_model_alias(name, "challenger", str(champion))
    assert score_task.score_shadow("night-2", champion) == {"shadow_version": None}


def _as_csv_products(s: dict, n: int) -> dict[str, str]:
    """Rewrite the marts as if the first `n` products were known only from CSV exports (`csv:product:<handle>`)."""
    products = s["products"].copy()
    renamed = {r.product_id: f"csv:product:{r.handle}" for r in products.head(n).itertuples()}
    products["product_id"] = products["product_id"].replace(renamed)
    lines = s["lines"].assign(product_id=s["lines"]["product_id"].replace(renamed))
    write_marts(s["db"], products, s["customers"], lines)
    s["lines"] = lines
    return renamed


def test_an_exports_only_store_with_a_token_publishes_csv_products_found_by_handle(store, monkeypatch):
    monkeypatch.setenv("STORELOOP_INGEST_SOURCES", "exports")
    renamed = _as_csv_products(store, 10)
    register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    _, published = _run("run-1")
    assert published["publish_status"] == "complete"
    held = store_lists(store["url"])
    owners = {o for o, k in held if k == "related_products"}
    assert set(renamed) <= owners  # their GIDs, found by handle, own lists
    assert {p for items in held.values() for p in items} & set(renamed)
    assert not any(p.startswith("csv:") for items in held.values() for p in items)


def test_an_exports_only_store_without_a_token_gets_a_products_import_csv(store, monkeypatch, tmp_path):
    import csv

    monkeypatch.setenv("STORELOOP_INGEST_SOURCES", "exports")
    monkeypatch.setenv("AIRFLOW_CONN_SHOPIFY", "")
    monkeypatch.setenv("STORELOOP_LANDING_URL", (tmp_path / "landing").as_uri())
    _as_csv_products(store, len(store["products"]))
    register(RepeatPurchaseRecommender(), store["lines"], score_task.model_name())
    _, published = _run("run-1")
    assert published["metafields_written"] == 0 and "no Admin API token" in published["publish_skipped"]
    assert store_lists(store["url"]) == {}
    path = tmp_path / "landing" / "publish" / "run=run-1" / "related_products_import.csv"
    assert published["products_import_csv"].endswith("publish/run=run-1/related_products_import.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == published["products_import_rows"] == len(store["products"])
    column = "Related products (product.metafields.storeloop.related_products)"
    handles = set(store["products"]["handle"])
    assert all(row["Handle"] in handles and len(row[column].split("; ")) == 10 for row in rows)
    assert all(set(row[column].split("; ")) <= handles - {row["Handle"]} for row in rows)
