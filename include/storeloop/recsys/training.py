"""Train the candidates, evaluate them on a time split, track them in MLflow, and promote only a winner.

One MLflow run per candidate: params, metrics in both settings (see `protocol`), segment metrics, the data snapshot
and code version as tags, the pyfunc model (signature + input example) and a model card. Then the best candidate is
registered under `model_name` with alias `challenger`; the live `champion` is loaded from the registry and
re-evaluated on the same holdout; `champion` moves only if the challenger wins under `promotion.decide` (it must beat
the champion and every baseline by the margin). The decision and its reason are version tags on the challenger; the
promoted version records `previous_champion_version`, which `storeloop.recsys.rollback` uses. The `for_you` alias
(the model whose new-items list is published as the discovery list) moves on its own rule,
`promotion.decide_for_you`, over the same runs; it may point at the champion's version. Registry stages are never
used.

The registered model is exactly the one that was evaluated, i.e. fitted on the data before the cutoff: it is not
refitted on all data, so what is promoted is what was measured. Recent purchases still count at scoring time, because
the model scores each customer's full purchase history passed as input; only the product similarities and the
popularity fallback lag by `holdout_days`.

This module sets the process-wide MLflow tracking URI (`mlflow.set_tracking_uri`) to the one it is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from storeloop.recsys.card import comparison_table, markdown_table, model_card
from storeloop.recsys.interactions import as_utc
from storeloop.recsys.models import (
    ALSRecommender,
    HybridRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    RelatedProductsModel,
    RepeatPurchaseRecommender,
)
from storeloop.recsys.promotion import (
    BASELINES,
    FALLBACK,
    Decision,
    ForYouDecision,
    decide,
    decide_for_you,
    promotion_margin,
)
from storeloop.recsys.protocol import (
    Evaluation,
    EvaluationData,
    customer_segments,
    evaluate_model,
    evaluate_related,
    evaluation_data,
)
from storeloop.recsys.pyfunc import DEFAULT_RELATED_K, log_recommender, model_input
from storeloop.recsys.ranker import FEATURE_GROUPS, LearnedRanker, RankerDataError, RankerFeatures, bound_recommend
from storeloop.recsys.split import TimeSplit, time_split
from storeloop.recsys.tifu_knn import TIFUKNNRecommender

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
FOR_YOU_ALIAS = "for_you"  # the model whose new-items list is published as `for_you` (promotion.decide_for_you)
RELATED_DEPTH = 30  # related products kept per product in the model artifact
CHAMPION_ROW = "champion"  # name of the re-evaluated champion in metric tables


@dataclass(frozen=True)
class CandidateResult:
    name: str
    run_id: str
    model_uri: str
    params: dict[str, Any]
    metrics: dict[str, float]  # "all.ndcg_at_10", "new.ndcg_at_10", ... (see protocol.evaluate_model)
    fit_seconds: float
    eval_seconds: float
    log_model_seconds: float


@dataclass(frozen=True)
class ChampionCheck:
    """The live champion as found before this run, re-evaluated on this run's holdout."""

    version: int | None
    candidate: str | None
    metrics: dict[str, float] | None
    error: str | None = None


@dataclass(frozen=True)
class TrainingResult:
    champion_version: int  # the champion after this run
    champion_candidate: str
    champion_run_id: str
    challenger_version: int
    challenger_candidate: str
    promoted: bool  # the challenger became champion
    decision: str  # promotion.PROMOTED / REJECTED / FALLBACK
    promotion_reason: str
    previous_champion_version: int | None
    run_ids: dict[str, str]  # candidate name -> MLflow run id
    metrics: dict[str, dict[str, float]]  # candidate name -> metrics (both settings)
    champion_before: ChampionCheck
    margin: float
    cutoff: pd.Timestamp
    related_metrics: dict[str, float] = field(default_factory=dict)
    data_tags: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, CandidateResult] = field(default_factory=dict)
    for_you_version: int | None = None  # the `for_you` model after this run (None: no for_you list)
    for_you_candidate: str | None = None
    for_you_promoted: bool = False
    for_you_reason: str = ""


def default_candidates(seed: int = 0, ranker: bool = False) -> list[Recommender]:
    """Baselines first, then the personalised candidates (parameters chosen on simulated stores of other seeds);
    with `ranker`, the learned ranker on the dbt features last (it needs them: `train_and_register(features=)`)."""
    candidates: list[Recommender] = [
        PopularityRecommender(window_days=30),
        RepeatPurchaseRecommender(half_life_days=60.0),
        TIFUKNNRecommender(),  # the paper's parameters (recsys/tifu_knn.py), not tuned here
        ItemKNNRecommender(n_neighbors=50, half_life_days=90.0),
        ItemKNNRecommender(n_neighbors=50, half_life_days=90.0, weighting="bm25"),
        ALSRecommender(factors=32, regularization=1.0, alpha=10.0, iterations=12, seed=seed),
        # buy-again first (the repeat part outweighs discovery 20:1, so a customer's own products lead and discovery
        # orders the rest); BM25 discovery, the stronger new-items model. Chosen on S seeds 3 and 7 and M seed 1
        # (all-items NDCG@10 +1.2 to +2.7 % over repeat purchase, new-items 1.8-2.2x popularity).
        HybridRecommender(
            discovery=ItemKNNRecommender(n_neighbors=50, half_life_days=90.0, weighting="bm25"), repeat_weight=20.0
        ),
    ]
    return [*candidates, LearnedRanker(seed=seed)] if ranker else candidates


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's content, independent of row and column order (pandas' stable per-row hash)."""
    cols = sorted(frame.columns)
    canonical = frame[cols].sort_values(cols, kind="stable", na_position="first").reset_index(drop=True)
    row_hashes = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(",".join(cols).encode() + row_hashes.tobytes()).hexdigest()


def data_snapshot_tags(order_lines: pd.DataFrame, split: TimeSplit, extra: dict[str, Any]) -> dict[str, str]:
    """What the run trained on: row counts, digests, the cutoff and the caller's snapshot description."""
    tags = {f"data.{key}": str(value) for key, value in extra.items()}
    ordered_at = pd.to_datetime(order_lines["ordered_at"], utc=True)
    tags.update(
        {
            "data.n_rows": str(len(order_lines)),
            "data.n_train_rows": str(len(split.train)),
            "data.n_holdout_rows": str(len(split.holdout)),
            "data.n_eval_customers": str(len(split.eval_customers)),
            "data.n_customers": str(order_lines["customer_id"].nunique()),
            "data.n_products_train": str(split.train["product_id"].nunique()),
            "data.first_ordered_at": ordered_at.min().isoformat(),
            "data.last_ordered_at": ordered_at.max().isoformat(),
            "data.sha256": frame_digest(order_lines),
            "data.train_sha256": frame_digest(split.train),
            "data.holdout_sha256": frame_digest(split.holdout),
            "data.cutoff": split.cutoff.isoformat(),
        }
    )
    return tags


def _input_example(recommender: Recommender, cutoff: pd.Timestamp) -> pd.DataFrame:
    """A made-up history of three popular products: no real customer data goes into the artifact store."""
    popularity = recommender.popularity()
    order = np.lexsort((popularity.index.to_numpy(dtype=str), -popularity.to_numpy()))
    top = popularity.index[order[:3]].tolist()
    return pd.DataFrame(
        {
            "customer_id": "gid://shopify/Customer/0",
            "product_id": top,
            "quantity": 1,
            "ordered_at": [cutoff - pd.Timedelta(days=i) for i in range(len(top))],
        }
    )


def _get_or_create_experiment(name: str, artifact_location: str | None) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow.create_experiment(name, artifact_location=artifact_location)


def _pyfunc_recommend(model: Any):
    def recommend(history: pd.DataFrame, k: int) -> pd.DataFrame:
        return model.predict(model_input(history), params={"k": int(k)})

    return recommend


def reevaluate_champion(client: MlflowClient, model_name: str, data: EvaluationData, k: int,
                        features: RankerFeatures | None = None, alias: str = CHAMPION_ALIAS) -> ChampionCheck:
    """Load the live model behind `alias` (the `champion`, or the `for_you` model) from the registry and evaluate it
    like the candidates (None if there is none); a model that ranks on the dbt features reads them as of this run's
    cutoff, like the candidates."""
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException:
        return ChampionCheck(version=None, candidate=None, metrics=None)
    number = int(version.version)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{model_name}/{number}")
        inner = model.unwrap_python_model().recommender
        recommend = (bound_recommend(inner, features.at_cutoff if features else None) if inner.needs_features
                     else _pyfunc_recommend(model))
        evaluation = evaluate_model(recommend, data, k)
    except Exception as exc:  # a champion the current code cannot load or score cannot serve either
        log.warning("%s version %s could not be re-evaluated: %r", alias, number, exc)
        return ChampionCheck(number, version.tags.get("candidate"), None, error=f"{type(exc).__name__}: {exc}"[:300])
    return ChampionCheck(number, version.tags.get("candidate"), evaluation.metrics)


def _check_feature_cutoff(features: RankerFeatures, cutoff: pd.Timestamp) -> None:
    """The features as of the evaluation cutoff must be as of this split's cutoff (to the second)."""
    c, at = as_utc(cutoff), as_utc(features.at_cutoff.as_of)
    if abs((at - c).total_seconds()) >= 1:
        raise ValueError(f"the feature tables are as of {at}, the holdout starts at {c}: build them as of the split's "
                         "cutoff (orchestration/train.py does)")


def _fit(recommender: Recommender, train: pd.DataFrame, features: RankerFeatures | None) -> None:
    if not recommender.needs_features:
        recommender.fit(train)
        return
    if features is None:
        raise ValueError(f"{recommender.name} learns from the dbt feature models: pass features=RankerFeatures(...)")
    recommender.fit(train, features.at_train)


ABLATION_CUSTOMERS = 5_000  # customers the ablation trains on and is evaluated on (seeded samples)
ABLATION_ENV = "STORELOOP_RANKER_ABLATION"  # "0" turns the ablation off
REFERENCE = "(none)"  # the ablation row of the ranker with every group, fitted and evaluated like the others


def ranker_ablation(ranker: LearnedRanker, train: pd.DataFrame, features: RankerFeatures, data: EvaluationData,
                    k: int) -> dict[str, dict[str, float]]:
    """The ranker refitted without each feature group (`FEATURE_GROUPS`), and once with all of them (`REFERENCE`),
    each on at most `ABLATION_CUSTOMERS` training customers and evaluated on the same seeded sample of at most
    `ABLATION_CUSTOMERS` evaluated customers: on the L store a full-size ablation would cost an estimated 17
    minutes (4 x the 53 s fit + 210 s evaluation measured there, bench/README.md). Empty when STORELOOP_RANKER_ABLATION=0."""
    if os.environ.get(ABLATION_ENV, "1").strip() == "0":
        log.info("ranker ablation off (%s=0)", ABLATION_ENV)
        return {}
    sample = sample_evaluation(data, ABLATION_CUSTOMERS, ranker.seed)
    out = {}
    for drop in ((), *((group,) for group in FEATURE_GROUPS)):
        variant = LearnedRanker(**{**_ranker_kwargs(ranker), "drop_groups": drop,
                                   "max_train_customers": min(ranker.max_train_customers, ABLATION_CUSTOMERS)})
        variant.fit(train, features.at_train)
        name = drop[0] if drop else REFERENCE
        out[name] = evaluate_model(bound_recommend(variant, features.at_cutoff), sample, k).metrics
        log.info("ranker without %s: all ndcg %.4f, new ndcg %.4f", name, out[name][f"all.ndcg_at_{k}"],
                 out[name][f"new.ndcg_at_{k}"])
    return out


def sample_evaluation(data: EvaluationData, n: int, seed: int) -> EvaluationData:
    """The evaluation restricted to a seeded sample of at most `n` of its customers."""
    customers = np.asarray(sorted(set(data.history["customer_id"].astype(str))), dtype=object)
    if len(customers) <= n:
        return data
    keep = set(np.random.default_rng(seed).choice(customers, n, replace=False))

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame["customer_id"].astype(str).isin(keep)].reset_index(drop=True)

    return EvaluationData(history=only(data.history), relevant={s: only(r) for s, r in data.relevant.items()},
                          bought=only(data.bought), n_catalogue=data.n_catalogue, segments=data.segments)


def _ranker_kwargs(ranker: LearnedRanker) -> dict[str, Any]:
    params = ranker.get_params()
    params.pop("drop_groups")
    return params


def _log_ranker_explanation(ranker: Recommender, ablation: dict[str, dict[str, float]], k: int) -> None:
    """Feature importances (gain share) and the ablation table on the ranker's MLflow run."""
    assert isinstance(ranker, LearnedRanker)
    importance = ranker.importance_ / max(float(ranker.importance_.sum()), 1e-12)
    mlflow.log_metrics({f"importance.{name}": float(v) for name, v in importance.items()})
    mlflow.log_text(importance.sort_values(ascending=False).rename("gain_share").to_frame().to_csv(),
                    "feature_importance.csv")
    if not ablation:
        return
    table = ablation_table(ablation, k)
    mlflow.log_metrics({f"ablation.{row.without.strip('()')}.{col}": float(getattr(row, col))
                        for row in table.itertuples(index=False) for col in ("all_ndcg", "new_ndcg")})
    mlflow.log_text(table.to_csv(index=False), "ablation.csv")


def ranker_explanation(ranker: LearnedRanker, ablation: dict[str, dict[str, float]], k: int) -> str:
    """The model card's section on what the ranker learned from: top importances and the ablation."""
    importance = (ranker.importance_ / max(float(ranker.importance_.sum()), 1e-12)).sort_values(ascending=False)
    top = pd.DataFrame({"feature": importance.index[:10], "gain share": importance.to_numpy()[:10]})
    text = (f"## What the ranker learned from\n\nFeature importance (LightGBM gain, share of the total; all in "
            f"`feature_importance.csv`):\n\n{markdown_table(top)}\n")
    if not ablation:
        return text + f"\nNo ablation in this run ({ABLATION_ENV}=0).\n"
    return (text + f"\nAblation: the ranker refitted without one feature group at a time, and once with all of them "
            f"(`{REFERENCE}`), each on at most {ABLATION_CUSTOMERS:,} training customers and evaluated on the same "
            f"sample of at most {ABLATION_CUSTOMERS:,} customers; NDCG@{k} and the change against `{REFERENCE}` "
            f"(`ablation.csv`):\n\n{markdown_table(ablation_table(ablation, k))}\n")


def ablation_table(ablation: dict[str, dict[str, float]], k: int) -> pd.DataFrame:
    """One row per ablation variant: its NDCG@k in both settings and the change against the reference variant."""
    ref = ablation[REFERENCE]
    rows = []
    for group, m in ablation.items():
        rows.append({"without": group, "all_ndcg": m[f"all.ndcg_at_{k}"], "new_ndcg": m[f"new.ndcg_at_{k}"],
                     "all_change": m[f"all.ndcg_at_{k}"] / max(ref[f"all.ndcg_at_{k}"], 1e-12) - 1,
                     "new_change": m[f"new.ndcg_at_{k}"] / max(ref[f"new.ndcg_at_{k}"], 1e-12) - 1})
    return pd.DataFrame(rows)


def _segment_metrics_for_mlflow(evaluation: Evaluation, k: int) -> dict[str, float]:
    out = {}
    for row in evaluation.segments.itertuples(index=False):
        prefix = f"segment.{row.setting}.{row.segment_type}.{row.segment}"
        out[f"{prefix}.ndcg_at_{k}"] = float(row.ndcg)
        out[f"{prefix}.n_customers"] = float(row.n_customers)
    return out


def _tag_version(client: MlflowClient, model_name: str, version: int, tags: dict[str, Any]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, str(value))


def train_and_register(
    order_lines: pd.DataFrame,
    *,
    tracking_uri: str,
    experiment_name: str,
    model_name: str,
    holdout_days: int = 30,
    k: int = 10,
    seed: int = 0,
    data_snapshot: dict[str, Any],
    code_version: str,
    artifact_location: str | None = None,
    candidates: list[Recommender] | None = None,
    customers: pd.DataFrame | None = None,
    margin: float | None = None,
    reason: str = "",
    features: RankerFeatures | None = None,
) -> TrainingResult:
    """Split, fit and evaluate the candidates, log one MLflow run each, register the challenger and promote it only
    if it wins (see `promotion.decide`).

    `order_lines` has the columns of `marts.fct_order_lines` (non-cancelled lines); `customers` those of
    `marts.dim_customers` (for segments; cohorts are computed from the order lines without it). `artifact_location` is
    used only when the experiment does not exist yet. `margin` defaults to STORELOOP_PROMOTION_MARGIN. `reason`
    (why this training run happens) is recorded on every run and on the registered versions. `features` are the dbt
    feature models as of the ranker's training cutoff and as of this split's cutoff (recsys/ranker.py); without them
    the learned ranker is not among the default candidates.
    """
    np.random.seed(seed)
    margin = promotion_margin(margin)
    split = time_split(order_lines, holdout_days=holdout_days)
    if len(split.eval_customers) == 0:
        raise ValueError(
            f"no customer bought both before and after the cutoff {split.cutoff}: nothing to evaluate on; "
            "load more history or change holdout_days"
        )
    data = evaluation_data(split, customer_segments(order_lines, customers))
    data_tags = data_snapshot_tags(order_lines, split, data_snapshot)
    run_tags = {**data_tags, "code_version": code_version, "training_reason": reason or "unspecified"}

    related_model = RelatedProductsModel().fit(split.train)
    # deeper than a published list: scoring drops ineligible products before it cuts to k (recsys/scoring.py), so
    # the model's own neighbours beyond rank 10 keep lists full; zero-score fill rows past rank 10 are not kept
    related = related_model.related_products(k=RELATED_DEPTH)
    related = related.loc[(related["rank"] <= DEFAULT_RELATED_K) | (related["score"] > 0)].reset_index(drop=True)
    related_metrics = evaluate_related(related, split.holdout, k=5)
    popular_related = evaluate_related(PopularityRecommender().fit(split.train).related_products(5), split.holdout, 5)
    related_metrics["related_hit_rate_at_5_popularity_baseline"] = popular_related["related_hit_rate_at_5"]

    if features is not None:
        _check_feature_cutoff(features, split.cutoff)
    fitted: dict[str, tuple[Recommender, Evaluation, float, float]] = {}
    skipped: dict[str, str] = {}
    ablations: dict[str, dict[str, dict[str, float]]] = {}
    for recommender in candidates if candidates is not None else default_candidates(seed, ranker=features is not None):
        if recommender.name in fitted:
            raise ValueError(f"two candidates are named {recommender.name!r}: names identify runs and must be unique")
        started = time.perf_counter()
        try:
            _fit(recommender, split.train, features)
        except RankerDataError as exc:
            log.warning("candidate %s skipped: %s", recommender.name, exc)
            skipped[recommender.name] = str(exc)
            continue
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        evaluation = evaluate_model(bound_recommend(recommender, features.at_cutoff if features else None), data, k)
        eval_seconds = time.perf_counter() - started
        fitted[recommender.name] = (recommender, evaluation, fit_seconds, eval_seconds)
        log.info("candidate %s: all ndcg %.4f, new ndcg %.4f (fit %.2fs, eval %.2fs)", recommender.name,
                 evaluation.metrics[f"all.ndcg_at_{k}"], evaluation.metrics[f"new.ndcg_at_{k}"], fit_seconds,
                 eval_seconds)
        if isinstance(recommender, LearnedRanker) and features is not None and not recommender.drop_groups:
            ablations[recommender.name] = ranker_ablation(recommender, split.train, features, data, k)
    metrics = {name: ev.metrics for name, (_, ev, _, _) in fitted.items()}

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    champion = reevaluate_champion(client, model_name, data, k, features)
    champion_label = f"{CHAMPION_ROW} v{champion.version}" if champion.version is not None else None
    decision = decide(metrics, k, margin, champion.metrics, champion_label or CHAMPION_ROW, champion.error)
    table_metrics = dict(metrics)
    if champion.metrics is not None and champion_label:
        table_metrics[champion_label] = champion.metrics
    log.info("decision: %s (%s): %s", decision.decision, decision.challenger, decision.reason)
    live_for_you = (champion if _alias_version(client, model_name, FOR_YOU_ALIAS) == champion.version
                    else reevaluate_champion(client, model_name, data, k, features, alias=FOR_YOU_ALIAS))
    for_you = decide_for_you(metrics, k, margin, live_for_you.metrics,
                             f"for_you v{live_for_you.version}" if live_for_you.version is not None else "for_you",
                             live_for_you.error)
    log.info("for_you: %s", for_you.reason)

    experiment_id = _get_or_create_experiment(experiment_name, artifact_location)
    results: dict[str, CandidateResult] = {}
    for name, (recommender, evaluation, fit_seconds, eval_seconds) in fitted.items():
        params = {**recommender.get_params(), "candidate": name, "holdout_days": holdout_days, "k": k}
        with mlflow.start_run(experiment_id=experiment_id, run_name=name) as run:
            mlflow.log_params({**params, "seed": seed, "promotion_margin": margin})
            mlflow.log_metrics({**evaluation.metrics, "fit_seconds": fit_seconds, "eval_seconds": eval_seconds})
            mlflow.log_metrics(_segment_metrics_for_mlflow(evaluation, k))
            mlflow.log_metrics(related_metrics)
            mlflow.set_tags({**run_tags, "candidate": name, "role": "baseline" if name in BASELINES else "candidate"})
            mlflow.log_text(
                model_card(candidate=name, params=params, k=k, metrics=table_metrics, segments=evaluation.segments,
                           data_tags=data_tags, code_version=code_version, decision=decision, margin=margin,
                           related_metrics=related_metrics, champion_label=champion_label
                           if champion.metrics is not None else None,
                           explanation=ranker_explanation(recommender, ablations[name], k)
                           if name in ablations and isinstance(recommender, LearnedRanker) else "",
                           for_you=for_you),
                "model_card.md",
            )
            mlflow.log_text(evaluation.segments.to_csv(index=False), "segments.csv")
            if skipped:
                mlflow.set_tags({f"skipped.{n}": why[:500] for n, why in skipped.items()})
            if name in ablations:
                _log_ranker_explanation(recommender, ablations[name], k)
            mlflow.log_text(comparison_table(table_metrics, k).to_csv(index=False), "comparison.csv")
            started = time.perf_counter()
            info = log_recommender(
                recommender, input_example=_input_example(recommender, split.cutoff), related=related
            )
            log_seconds = time.perf_counter() - started
            mlflow.log_metric("log_model_seconds", log_seconds)
        results[name] = CandidateResult(name, run.info.run_id, info.model_uri, params, evaluation.metrics,
                                        fit_seconds, eval_seconds, log_seconds)

    result = _register(client, model_name, results, decision, champion, margin, k, code_version, data_tags, reason,
                       split, related_metrics)
    return _register_for_you(client, model_name, result, for_you, live_for_you, k, code_version)


def _alias_version(client: MlflowClient, model_name: str, alias: str) -> int | None:
    try:
        return int(client.get_model_version_by_alias(model_name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def _register_for_you(client: MlflowClient, model_name: str, result: TrainingResult, decision: ForYouDecision,
                      live: ChampionCheck, k: int, code_version: str) -> TrainingResult:
    """Move the `for_you` alias when `decision` promotes a candidate (reusing the version this run registered for it,
    if any); record the decision on the version that holds the alias afterwards."""
    key_new = f"new.ndcg_at_{k}"
    version, candidate = live.version, live.candidate
    if decision.promote and decision.candidate is not None:
        candidate = decision.candidate
        registered = {result.challenger_candidate: result.challenger_version,
                      result.champion_candidate: result.champion_version}
        version = registered.get(candidate)
        if version is None or client.get_model_version(model_name, str(version)).run_id != \
                result.candidates[candidate].run_id:
            version = int(mlflow.register_model(result.candidates[candidate].model_uri, model_name).version)
            _tag_version(client, model_name, version, {"candidate": candidate, "code_version": code_version,
                                                       "data.cutoff": result.data_tags.get("data.cutoff", "")})
        client.set_registered_model_alias(model_name, FOR_YOU_ALIAS, str(version))
        _tag_version(client, model_name, version, {
            "for_you.decision": "promoted", f"for_you.{key_new}": repr(result.metrics[candidate][key_new]),
            "for_you.previous_version": live.version if live.version is not None else "none",
            "for_you.promoted_at": datetime.now(UTC).isoformat(timespec="seconds")})
        log.info("%s version %s is now @%s: %s", model_name, version, FOR_YOU_ALIAS, decision.reason)
    if version is not None:
        _tag_version(client, model_name, version, {"for_you.last_decision_reason": decision.reason[:4900]})
    return dataclasses.replace(result, for_you_version=version, for_you_candidate=candidate,
                               for_you_promoted=decision.promote, for_you_reason=decision.reason)


def _register(
    client: MlflowClient,
    model_name: str,
    results: dict[str, CandidateResult],
    decision: Decision,
    champion: ChampionCheck,
    margin: float,
    k: int,
    code_version: str,
    data_tags: dict[str, str],
    reason: str,
    split: TimeSplit,
    related_metrics: dict[str, float],
) -> TrainingResult:
    """Register the challenger (and the fallback baseline on a first run without a winner); move the aliases."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    key_all, key_new = f"all.ndcg_at_{k}", f"new.ndcg_at_{k}"
    common = {
        "code_version": code_version,
        "data.sha256": data_tags["data.sha256"],
        "data.train_sha256": data_tags["data.train_sha256"],
        "data.cutoff": data_tags["data.cutoff"],
        "training_reason": reason or "unspecified",
        "promotion_margin": margin,
        "decided_at": now,
    }
    for baseline in BASELINES:
        if baseline in results:
            common[f"baseline.{baseline}.{key_all}"] = repr(results[baseline].metrics[key_all])
            common[f"baseline.{baseline}.{key_new}"] = repr(results[baseline].metrics[key_new])
    if champion.version is not None:
        common["champion_before"] = champion.version
        if champion.metrics is not None:
            common[f"champion_before.{key_all}"] = repr(champion.metrics[key_all])
            common[f"champion_before.{key_new}"] = repr(champion.metrics[key_new])
        if champion.error:
            common["champion_before.error"] = champion.error

    challenger = results[decision.challenger]
    version = int(mlflow.register_model(challenger.model_uri, model_name).version)
    _tag_version(client, model_name, version, {
        **common,
        "candidate": challenger.name,
        f"candidate.{key_all}": repr(challenger.metrics[key_all]),
        f"candidate.{key_new}": repr(challenger.metrics[key_new]),
        "decision": decision.decision,
        "decision_reason": decision.reason[:4900],
    })
    client.set_registered_model_alias(model_name, CHALLENGER_ALIAS, str(version))
    champion_version, champion_result = champion.version, None
    if decision.promote:
        champion_version, champion_result = version, challenger
    elif decision.decision == FALLBACK and decision.fallback is not None:
        fallback = results[decision.fallback]
        champion_version = int(mlflow.register_model(fallback.model_uri, model_name).version)
        champion_result = fallback
        _tag_version(client, model_name, champion_version, {
            **common,
            "candidate": fallback.name,
            f"candidate.{key_all}": repr(fallback.metrics[key_all]),
            f"candidate.{key_new}": repr(fallback.metrics[key_new]),
            "decision": FALLBACK,
            "decision_reason": decision.reason[:4900],
        })
    if champion_result is not None and champion_version is not None:
        moves = {"promoted_at": now}
        if champion.version is not None:
            moves["previous_champion_version"] = champion.version
        _tag_version(client, model_name, champion_version, moves)
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, str(champion_version))
        log.info("%s version %s is now @%s: %s", model_name, champion_version, CHAMPION_ALIAS, decision.reason)
        champion_candidate, champion_run = champion_result.name, champion_result.run_id
    else:
        assert champion_version is not None  # REJECTED only happens when a champion exists
        _tag_version(client, model_name, champion_version, {
            "last_reevaluated_at": now,
            f"last_reevaluation.{key_all}": repr(champion.metrics[key_all]) if champion.metrics else "error",
            f"last_reevaluation.{key_new}": repr(champion.metrics[key_new]) if champion.metrics else "error",
            "last_reevaluation.challenger_version": version,
        })
        kept = client.get_model_version(model_name, str(champion_version))
        champion_candidate, champion_run = kept.tags.get("candidate", "unknown"), kept.run_id
        log.info("kept %s version %s as @%s: %s", model_name, champion_version, CHAMPION_ALIAS, decision.reason)
    return TrainingResult(
        champion_version=int(champion_version),
        champion_candidate=champion_candidate,
        champion_run_id=champion_run,
        challenger_version=version,
        challenger_candidate=challenger.name,
        promoted=decision.promote,
        decision=decision.decision,
        promotion_reason=decision.reason,
        previous_champion_version=champion.version,
        run_ids={name: r.run_id for name, r in results.items()},
        metrics={name: r.metrics for name, r in results.items()},
        champion_before=champion,
        margin=margin,
        cutoff=split.cutoff,
        related_metrics=related_metrics,
        data_tags=data_tags,
        candidates=results,
    )


def load_champion(tracking_uri: str, model_name: str, alias: str = CHAMPION_ALIAS) -> tuple[Any, int]:
    """The pyfunc model behind `models:/{model_name}@{alias}` and its version number.

    The alias is resolved once and the version is loaded by number, so the pair is consistent even if the alias
    moves meanwhile.
    """
    mlflow.set_tracking_uri(tracking_uri)
    try:
        version = MlflowClient(tracking_uri=tracking_uri).get_model_version_by_alias(model_name, alias)
    except mlflow.exceptions.MlflowException as exc:
        raise LookupError(
            f"registered model {model_name!r} has no alias {alias!r} at {tracking_uri}: has recommender_train run?"
        ) from exc
    return mlflow.pyfunc.load_model(f"models:/{model_name}/{version.version}"), int(version.version)
