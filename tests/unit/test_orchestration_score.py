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
