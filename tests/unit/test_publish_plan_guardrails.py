"""The diff against what the store holds, and the guardrails that can stop a publish (storeloop.publish)."""

import pandas as pd
import pytest

from storeloop.publish.guardrails import GuardrailLimits, check, coverage
from storeloop.publish.metafields import metafield_lists
from storeloop.publish.plan import plan_publish

EMPTY_STATE = pd.DataFrame({"owner_gid": [], "key": [], "value_digest": []}, dtype=object)


def picks(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(c, p, r) for c, items in lists.items() for r, p in enumerate(items, start=1)]
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "rank"]).assign(source="model")


def desired(lists: dict[str, list[str]]) -> pd.DataFrame:
    return metafield_lists(picks(lists), "customer_id", "product_id", "Customer", "buy_again")


def items_of(lists: dict[str, list[str]], source: str = "model") -> pd.DataFrame:
    frame = picks(lists)
    return pd.DataFrame({"owner_gid": "gid://shopify/Customer/" + frame["customer_id"], "key": "buy_again",
                         "item_id": frame["product_id"], "rank": frame["rank"], "source": source})


def state_of(lists: pd.DataFrame) -> pd.DataFrame:
    return lists.rename(columns={"digest": "value_digest"})[["owner_gid", "key", "value_digest"]]


def test_a_first_publish_writes_every_list_and_a_rerun_writes_nothing():
    lists = desired({"1": ["10", "11"], "2": ["11", "12"]})
    first = plan_publish(lists, EMPTY_STATE)
    assert first.first_publish and first.counts()["new"] == 2 and first.to_delete.empty
    again = plan_publish(lists, state_of(lists))
    assert again.to_set.empty and again.to_delete.empty and again.unchanged == 2
    assert again.changed_share() == 0


def test_only_changed_lists_are_written_and_owners_without_a_list_are_deleted():
    before = desired({"1": ["10", "11"], "2": ["11", "12"], "3": ["10"]})
    after = desired({"1": ["10", "11"], "2": ["12", "11"], "4": ["10"]})  # 2 reordered, 3 gone, 4 new
    plan = plan_publish(after, state_of(before))
    changes = dict(zip(plan.to_set["owner_gid"], plan.to_set["change"], strict=True))
    assert changes == {"gid://shopify/Customer/2": "changed", "gid://shopify/Customer/4": "new"}
    assert plan.to_delete["owner_gid"].tolist() == ["gid://shopify/Customer/3"]
    assert plan.counts() == {"desired": 3, "new": 1, "changed": 1, "delete": 1, "unchanged": 1,
                             "set.buy_again": 2, "delete.buy_again": 1}
    assert plan.changed_share() == pytest.approx(1.0)


LIMITS = GuardrailLimits(max_coverage_drop=0.5, max_product_share=0.5, max_changed_share=0.5)


def test_one_product_for_everyone_is_stopped_and_names_the_rule():
    lists = {str(c): ["10", str(20 + c)] for c in range(10)}
    violations = check(items_of(lists), plan_publish(desired(lists), EMPTY_STATE), {}, 50, None, LIMITS)
    assert [v.rule for v in violations] == ["product_concentration"]
    assert "put 10 first in 100%" in violations[0].message


def test_a_popular_product_further_down_many_lists_is_not_concentration():
    lists = {str(c): [str(20 + c), "10"] for c in range(10)}  # 10 in every list, never first
    assert check(items_of(lists), plan_publish(desired(lists), EMPTY_STATE), {}, 50, None, LIMITS) == []


def test_fallback_entries_do_not_count_towards_concentration():
    lists = {str(c): ["10", str(20 + c)] for c in range(10)}
    assert check(items_of(lists, source="trending"), plan_publish(desired(lists), EMPTY_STATE), {}, 50, None,
                 LIMITS) == []


def test_an_ineligible_product_in_any_list_stops_the_publish_with_its_reason():
    lists = {"1": ["10", "11"], "2": ["12", "13"]}
    violations = check(items_of(lists), plan_publish(desired(lists), EMPTY_STATE), {"13": "gift_card"}, 4, None,
                       LIMITS)
    assert [v.rule for v in violations] == ["ineligible_product"] and "13 (gift_card)" in violations[0].message


def test_coverage_collapse_against_the_last_publish():
    lists = {"1": ["10", "11"], "2": ["12", "13"], "3": ["14", "15"]}
    items = items_of(lists)
    assert coverage(items, 16) == 6 / 16
    plan = plan_publish(desired(lists), EMPTY_STATE)
    assert [v.rule for v in check(items, plan, {}, 16, 0.8, LIMITS)] == ["coverage_collapse"]  # 37.5% < 40%
    assert check(items, plan, {}, 16, 0.7, LIMITS) == []


def test_a_mass_change_is_stopped_unless_first_publish_or_forced():
    before = desired({str(c): ["10", "11"] for c in range(4)})
    lists = {str(c): ["11", "12"] for c in range(4)}
    plan = plan_publish(desired(lists), state_of(before))
    limits = GuardrailLimits(max_product_share=1.0)
    assert [v.rule for v in check(items_of(lists), plan, {}, 3, None, limits)] == ["mass_change"]
    assert check(items_of(lists), plan, {}, 3, None, limits, force=True) == []
    assert check(items_of(lists), plan_publish(desired(lists), EMPTY_STATE), {}, 3, None, limits) == []


def test_limits_come_from_the_environment_with_clear_errors():
    assert GuardrailLimits.from_env({}) == GuardrailLimits()
    assert GuardrailLimits.from_env({"STORELOOP_GUARD_MAX_PRODUCT_SHARE": "0.3"}).max_product_share == 0.3
    with pytest.raises(ValueError, match="STORELOOP_GUARD_MAX_CHANGED_SHARE='lots' is not a number"):
        GuardrailLimits.from_env({"STORELOOP_GUARD_MAX_CHANGED_SHARE": "lots"})
    with pytest.raises(ValueError, match=r"must be a share in \(0, 1\]"):
        GuardrailLimits.from_env({"STORELOOP_GUARD_MAX_COVERAGE_DROP": "2"})


def test_the_canary_is_a_share_of_the_lists_spread_over_owners_and_capped():
    from storeloop.publish.writer import canary_sample

    lists = desired({str(c): ["10"] for c in range(400)})
    picked = canary_sample(lists, 0.05)
    assert len(picked) == 20 and list(picked) != list(range(20))
    assert len(canary_sample(lists, 0.05, most=7)) == 7
    assert len(canary_sample(lists.head(3), 0.05)) == 1 and len(canary_sample(lists, 0)) == 0
