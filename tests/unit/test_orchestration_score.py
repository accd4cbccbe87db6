"""The score task's own rules (storeloop.orchestration.score): which products may be listed, and the settings."""

import pandas as pd
import pytest

from storeloop.orchestration import score


def test_products_known_only_from_order_lines_are_listed_only_when_nothing_is_written_to_the_store():
    products = pd.DataFrame({
        "product_id": ["a", "b", "csv:sku:X", "c"],
        "is_eligible": [True, False, False, False],
        "ineligible_reason": [None, "out_of_stock", "unknown_to_shopify", "deleted"],
    })
    assert score.recommendable(products, writes_to_store=True).tolist() == [True, False, False, False]
    assert score.recommendable(products, writes_to_store=False).tolist() == [True, False, True, False]


def test_publish_settings_say_what_is_wrong(monkeypatch):
    monkeypatch.setenv("STORELOOP_PUBLISH_K", "200")
    with pytest.raises(ValueError, match="between 1 and 128"):
        score.publish_k()
    monkeypatch.setenv("STORELOOP_PUBLISH_CANARY_SHARE", "half")
    with pytest.raises(ValueError, match="not a share"):
        score.canary_share()
    monkeypatch.setenv("STORELOOP_PUBLISH_CHUNK", "0")
    with pytest.raises(ValueError, match="positive number"):
        score.publish_chunk()


def test_a_stopped_publish_alerts_once_naming_the_rule(monkeypatch):
    from storeloop.orchestration import callbacks

    posted = []
    monkeypatch.setattr(callbacks, "_post", lambda text, what: posted.append(text) or True)
    callbacks.notify_publish_aborted(["product_concentration: the model put gid://shopify/Product/1 first in 100%"],
                                     run_id="r1", model_version=7)
    stopped = score.PublishAborted("publish of model v7 aborted by the guardrails")
    callbacks.notify_failure({"exception": stopped, "run_id": "r1"})  # the task's failure callback stays quiet
    callbacks.notify_failure({"exception": RuntimeError("boom"), "run_id": "r2"})
    assert len(posted) == 2
    assert "product_concentration" in posted[0] and "model v7" in posted[0] and "dry_run" in posted[0]
    assert "boom" in posted[1]


def test_desired_lists_carry_for_you_as_its_own_key_and_only_model_lists_with_gids():
    customers = pd.DataFrame({"customer_id": ["1", "1", "2"], "product_id": ["10", "11", "10"], "rank": [1, 2, 1],
                              "score": [1.0, 0.5, 1.0], "source": ["model", "model", "trending"]})
    for_you = pd.DataFrame({"customer_id": ["1", "csv:customer:x"], "product_id": ["12", "12"], "rank": [1, 1],
                            "score": [0.3, 0.3], "source": ["model", "model"]})
    related = pd.DataFrame({"product_id": ["10"], "related_product_id": ["11"], "rank": [1], "score": [1.0],
                            "source": ["model"]})
    lists, items, skipped = score.desired_lists(customers, related, for_you)
    values = dict(zip(zip(lists["owner_gid"], lists["key"], strict=True), lists["value"], strict=True))
    assert values == {
        ("gid://shopify/Product/10", "related_products"): '["gid://shopify/Product/11"]',
        ("gid://shopify/Customer/1", "buy_again"): '["gid://shopify/Product/10", "gid://shopify/Product/11"]',
        ("gid://shopify/Customer/1", "for_you"): '["gid://shopify/Product/12"]',
    }
    assert skipped == {"related_rows_without_gid": 0, "pick_rows_not_published": 1, "for_you_rows_not_published": 1}
    assert sorted(items["key"].unique()) == ["buy_again", "for_you", "related_products"]
