"""The promotion rule, pure. The registry scenarios it drives are in tests/integration/test_recsys_promotion_registry.py."""

import pytest

from storeloop.recsys.promotion import FALLBACK, PROMOTED, REJECTED, decide, promotion_margin


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


def test_for_you_goes_to_the_best_discovery_list_that_beats_popularity_on_new_items():
    from storeloop.recsys.promotion import decide_for_you

    metrics = {**BASE, "tifu_knn": m(0.30, 0.06), "ranker": m(0.31, 0.09), "cf": m(0.20, 0.10)}
    d = decide_for_you(metrics, 10, 0.01, live=None)
    # judged on new items only: cf lists worse overall but discovers best
    assert (d.candidate, d.promote) == ("cf", True) and d.reason.startswith("first for_you model")
    # popularity is the floor: 0.0504 is not 1 % better than 0.05; repeat purchase's new list is popularity's
    d = decide_for_you({**BASE, "cf": m(0.20, 0.0504)}, 10, 0.01, live=None)
    assert (d.candidate, d.promote) == (None, False) and "no for_you list is published" in d.reason
    assert "popularity new.ndcg_at_10 0.0500" in d.reason


def test_for_you_replaces_the_live_model_only_when_it_discovers_better_by_the_margin():
    from storeloop.recsys.promotion import decide_for_you

    metrics = {**BASE, "cf": m(0.20, 0.08)}
    assert decide_for_you(metrics, 10, 0.01, live=m(0.30, 0.07)).promote
    kept = decide_for_you(metrics, 10, 0.01, live=m(0.10, 0.0795), live_label="for_you v3")
    assert (kept.candidate, kept.promote) == (None, False) and "the live for_you v3 stays" in kept.reason
    none_qualify = decide_for_you({**BASE, "cf": m(0.3, 0.01)}, 10, 0.01, live=m(0.1, 0.08))
    assert not none_qualify.promote and "the live for_you stays" in none_qualify.reason
    broken = decide_for_you(metrics, 10, 0.01, live=None, live_error="ValueError: x")
    assert broken.promote and "could not be evaluated" in broken.reason
