"""The promotion rule: which candidate becomes the challenger, and whether it replaces the champion.

Pure functions over metric dictionaries (no MLflow here), so the rule is easy to test and to read:

1. Primary metric: NDCG@k in the all-items setting (`all.ndcg_at_k`); the new-items NDCG@k (`new.ndcg_at_k`) is the
   discovery check.
2. A candidate *clears the baselines* when, for every baseline (popularity, repeat purchase,
   TIFU-KNN) other than itself,
   `all.ndcg >= (1 + margin) * baseline all.ndcg` and `new.ndcg >= (1 + margin) * baseline new.ndcg`, strictly
   better when the margin is 0.
3. The challenger is the best non-baseline candidate (by `all.ndcg`) among those that clear the baselines, else the
   best non-baseline candidate (which will not be promoted), else, with baselines only, the best baseline.
4. The challenger replaces the champion when it clears the baselines AND beats the champion re-evaluated on the same
   holdout: `all.ndcg >= (1 + margin) * champion all.ndcg` (strictly better when margin is 0) and
   `new.ndcg >= champion new.ndcg` (no worse at discovery). A champion that cannot be loaded or scored by the
   current code cannot serve either; the challenger then only has to clear the baselines.
5. First run (no champion): the challenger is promoted if it clears the baselines; otherwise the best baseline is
   registered and becomes champion (scoring needs a champion), and the tags say why.

`margin` is relative (0.01 = 1 %); default from `STORELOOP_PROMOTION_MARGIN`, else `DEFAULT_MARGIN`.

The rule above chooses the `champion`, whose all-items list is published as `buy_again`. A second list, `for_you`,
shows only products the customer never bought (the `new` setting's list, exactly as measured), and has its own rule
(`decide_for_you`), because a list judged on all items is mostly re-purchases and carries little discovery
(`new_in_list.*`, docs/recommender.md "Two lists"):

1. Metric: `new.ndcg_at_k`. Every candidate except the popularity baseline competes (TIFU-KNN's and the ranker's
   new-items lists are real discovery lists; repeat purchase falls back to popularity on new items).
2. A candidate qualifies when `new.ndcg >= (1 + margin) * popularity new.ndcg` (strictly better when the margin is
   0): a discovery list that does not beat "what sells" is not worth a second list.
3. The best qualifying candidate (by `new.ndcg`, then `all.ndcg`) replaces the live `for_you` model when it beats it
   re-evaluated on the same holdout by the margin; a live model that cannot be evaluated counts as absent.
4. When no candidate qualifies, the live `for_you` model (if any) stays; without one, no `for_you` list is published
   and the reason says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

BASELINES: tuple[str, ...] = ("popularity", "repeat_purchase", "tifu_knn")
DEFAULT_MARGIN = 0.01
MARGIN_ENV = "STORELOOP_PROMOTION_MARGIN"

PROMOTED = "promoted"
REJECTED = "rejected"
FALLBACK = "baseline_promoted_no_champion"


def promotion_margin(value: float | str | None = None) -> float:
    """The relative margin: the argument, else STORELOOP_PROMOTION_MARGIN, else DEFAULT_MARGIN."""
    raw = value if value is not None else os.environ.get(MARGIN_ENV)
    if raw is None or raw == "":
        return DEFAULT_MARGIN
    try:
        margin = float(raw)
    except ValueError as exc:
        raise ValueError(f"{MARGIN_ENV} must be a number such as 0.01 (1 %), got {raw!r}") from exc
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"the promotion margin must be in [0, 1), got {margin}")
    return margin


def _beats(value: float, reference: float, margin: float) -> bool:
    return value > reference if margin == 0 else value >= (1.0 + margin) * reference


@dataclass(frozen=True)
class Decision:
    challenger: str  # candidate registered with alias `challenger`
    promote: bool  # challenger becomes champion
    decision: str  # PROMOTED, REJECTED or FALLBACK
    reason: str
    fallback: str | None = None  # baseline registered as champion on a first run without a winner
    cleared_baselines: bool = False


def baseline_failures(name: str, metrics: dict[str, dict[str, float]], k: int, margin: float) -> list[str]:
    """Why `name` does not clear the baselines (empty when it does)."""
    failures = []
    for baseline in BASELINES:
        if baseline == name or baseline not in metrics:
            continue
        for setting in ("all", "new"):
            key = f"{setting}.ndcg_at_{k}"
            mine, theirs = metrics[name][key], metrics[baseline][key]
            if not _beats(mine, theirs, margin):
                failures.append(f"{key} {mine:.4f} does not beat {baseline} {theirs:.4f} by {margin:.1%}")
    return failures


def decide(
    metrics: dict[str, dict[str, float]],
    k: int,
    margin: float,
    champion: dict[str, float] | None,
    champion_label: str = "champion",
    champion_error: str | None = None,
) -> Decision:
    """Apply the promotion rule (module docstring) to the candidates' metrics and the re-evaluated champion's.

    `champion` is None when there is no champion; `champion_error` says why an existing champion could not be
    evaluated (it then counts as absent for the comparison, and the reason says so).
    """
    if not metrics:
        raise ValueError("no candidate metrics to decide on")
    key_all, key_new = f"all.ndcg_at_{k}", f"new.ndcg_at_{k}"
    personal = [n for n in metrics if n not in BASELINES]
    failures = {n: baseline_failures(n, metrics, k, margin) for n in metrics}
    cleared = [n for n in personal if not failures[n]]
    pool = cleared or personal or list(metrics)
    challenger = max(pool, key=lambda n: (metrics[n][key_all], metrics[n][key_new], n))
    mine = metrics[challenger]
    ok = not failures[challenger]
    vs_baselines = (
        f"{challenger} {key_all} {mine[key_all]:.4f} / {key_new} {mine[key_new]:.4f} beats every baseline by "
        f"{margin:.1%}" if ok else f"{challenger} does not clear the baselines: " + "; ".join(failures[challenger])
    )
    existing = champion is not None or champion_error is not None
    if champion is not None:
        better_all = _beats(mine[key_all], champion[key_all], margin)
        no_worse_new = mine[key_new] >= champion[key_new]
        vs_champion = (
            f"{champion_label} on the same holdout: {key_all} {champion[key_all]:.4f}, {key_new} "
            f"{champion[key_new]:.4f}"
        )
        if ok and better_all and no_worse_new:
            return Decision(challenger, True, PROMOTED, f"{vs_baselines}; beats {vs_champion}", cleared_baselines=True)
        why = [] if ok else [vs_baselines]
        if not better_all:
            why.append(f"{key_all} {mine[key_all]:.4f} does not beat {vs_champion} by {margin:.1%}")
        if not no_worse_new:
            why.append(f"{key_new} {mine[key_new]:.4f} is worse than {vs_champion}")
        return Decision(challenger, False, REJECTED, "kept the champion: " + "; ".join(why), cleared_baselines=ok)
    if existing:
        if ok:
            reason = f"{vs_baselines}; the {champion_label} could not be evaluated ({champion_error}): replaced"
            return Decision(challenger, True, PROMOTED, reason, cleared_baselines=True)
        return Decision(
            challenger, False, REJECTED,
            f"kept the champion: {vs_baselines} (the {champion_label} could not be evaluated: {champion_error})",
        )
    if ok:
        return Decision(challenger, True, PROMOTED, f"first champion: {vs_baselines}", cleared_baselines=True)
    baselines = [b for b in BASELINES if b in metrics]
    if not baselines:
        return Decision(challenger, True, PROMOTED, f"first champion without baselines to compare: {vs_baselines}")
    fallback = max(baselines, key=lambda n: (metrics[n][key_all], metrics[n][key_new], n))
    reason = (
        f"first run and no candidate cleared the baselines ({vs_baselines}): the best baseline {fallback} "
        f"({key_all} {metrics[fallback][key_all]:.4f}) becomes champion so that scoring has a model"
    )
    return Decision(challenger, False, FALLBACK, reason, fallback=fallback)


DISCOVERY_BASELINE = "popularity"


@dataclass(frozen=True)
class ForYouDecision:
    candidate: str | None  # the candidate that becomes the `for_you` model (None: keep the live one, or none)
    promote: bool
    reason: str


def decide_for_you(metrics: dict[str, dict[str, float]], k: int, margin: float, live: dict[str, float] | None,
                   live_label: str = "for_you", live_error: str | None = None) -> ForYouDecision:
    """The `for_you` rule (module docstring) over the candidates' metrics and the live `for_you` model's."""
    key_all, key_new = f"all.ndcg_at_{k}", f"new.ndcg_at_{k}"
    pool = [n for n in metrics if n != DISCOVERY_BASELINE]
    if DISCOVERY_BASELINE in metrics:
        floor = metrics[DISCOVERY_BASELINE][key_new]
        qualified = [n for n in pool if _beats(metrics[n][key_new], floor, margin)]
        versus = f"{DISCOVERY_BASELINE} {key_new} {floor:.4f}"
    else:
        qualified, versus = pool, "no popularity baseline to compare"
    keep = (f"the live {live_label} stays" if live is not None or live_error is not None
            else "no for_you list is published")
    if not qualified:
        best = max(pool, key=lambda n: (metrics[n][key_new], n)) if pool else None
        told = f"{best} {key_new} {metrics[best][key_new]:.4f}" if best else "no candidate"
        return ForYouDecision(None, False, f"{keep}: no candidate beats {versus} by {margin:.1%} ({told})")
    best = max(qualified, key=lambda n: (metrics[n][key_new], metrics[n][key_all], n))
    mine = f"{best} {key_new} {metrics[best][key_new]:.4f} beats {versus} by {margin:.1%}"
    if live is not None:
        theirs = f"{live_label} on the same holdout: {key_new} {live[key_new]:.4f}"
        if _beats(metrics[best][key_new], live[key_new], margin):
            return ForYouDecision(best, True, f"{mine}; beats {theirs}")
        return ForYouDecision(None, False, f"the live {live_label} stays: {mine} but does not beat {theirs} by "
                                           f"{margin:.1%}")
    if live_error is not None:
        return ForYouDecision(best, True, f"{mine}; the live {live_label} could not be evaluated ({live_error})")
    return ForYouDecision(best, True, f"first for_you model: {mine}")
