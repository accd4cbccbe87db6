"""The demo's closing summary prints both customer lists (buy again, for you) or says why there is no for_you list."""

import pytest

from devstack.demo import print_summary


class Ports:
    def port(self, name: str) -> int:
        return {"airflow": 8080, "mlflow": 5000, "dbt_docs": 8081, "shopify": 8010, "slack": 8020}[name]


def summary(for_you: dict | None) -> dict:
    tags = {"decision": "promoted", "decision_reason": "first champion", "baseline.popularity.new.ndcg_at_10": "0.05",
            "baseline.popularity.all.ndcg_at_10": "0.06", "baseline.tifu_knn.all.ndcg_at_10": "0.2",
            "baseline.repeat_purchase.all.ndcg_at_10": "0.18"}
    return {
        "rows_ingested": {"orders": 10, "order_line_items": 20, "customers": 5, "products": 4, "product_variants": 4},
        "rows_quarantined": 0, "ingest_modes": {}, "interaction_rows": 12,
        "model": {"name": "storeloop_recommender", "version": "2", "candidate": "tifu_knn", "tags": tags,
                  "metrics": {"all.ndcg_at_10": 0.25, "new.ndcg_at_10": 0.11, "new_in_list.ndcg_at_10": 0.02}},
        "for_you_model": for_you,
        "recommendations": {"customers": 5, "rows": 50, "products": 4, "for_you_customers": 4 if for_you else 0},
        "publish": {"status": "complete", "written": 13, "deleted": 0, "unchanged": 0, "failed": 0, "reason": None},
        "store_metafields": 13, "drift": None, "slack_messages": 1, "slack_last": "loop done",
    }


@pytest.mark.parametrize("for_you", [None, {"version": "3", "candidate": "ranker",
                                            "metrics": {"new.ndcg_at_10": 0.1276}}])
def test_the_summary_names_both_lists(for_you, capsys):
    print_summary(Ports(), summary(for_you), 300)
    out = capsys.readouterr().out
    assert "storeloop.buy_again, storeloop.for_you" in out
    if for_you:
        assert "v3 @for_you (ranker): NDCG@10 0.1276 on new items (popularity 0.0500)" in out
        assert "4 → ml.for_you_recommendations" in out
    else:
        assert "no model beat popularity on new items: no for_you list" in out
