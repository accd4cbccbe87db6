"""Train the candidates, evaluate them on a time split, track them in MLflow and promote the better one.

One MLflow run per candidate (params, metrics, data snapshot and code version as tags, the pyfunc model). The
candidate with the higher NDCG@k is registered under `model_name` and gets the alias `champion`; the personalised
model must beat the popularity baseline strictly, a tie keeps the baseline. The version is tagged with the decision
and its reason. Registry stages are never used.

The registered model is exactly the one that was evaluated, i.e. fitted on the data before the cutoff: it is not
refitted on all data, so what is promoted is what was measured. Recent purchases still count at scoring time, because
the model scores each customer's full purchase history passed as input; only the product similarities and the
popularity fallback lag by `holdout_days`.

This module sets the process-wide MLflow tracking URI (`mlflow.set_tracking_uri`) to the one it is given.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from storeloop.recsys.evaluate import evaluate_recommendations
from storeloop.recsys.models import ItemKNNRecommender, PopularityRecommender, Recommender
from storeloop.recsys.pyfunc import log_recommender
from storeloop.recsys.split import TimeSplit, time_split

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
BASELINE = "popularity"
PERSONALISED = "item_knn"


@dataclass(frozen=True)
class CandidateResult:
    name: str
    run_id: str
    model_uri: str
    params: dict[str, Any]
    metrics: dict[str, float]  # hit_rate_at_k, precision_at_k, recall_at_k, ndcg_at_k, n_eval_customers
    fit_seconds: float
    log_model_seconds: float


@dataclass(frozen=True)
class TrainingResult:
    champion_version: int
    champion_candidate: str  # "popularity" or "item_knn"
    champion_run_id: str
    run_ids: dict[str, str]  # candidate name -> MLflow run id
    metrics: dict[str, dict[str, float]]  # candidate name -> metrics
    personalised_beat_baseline: bool
    promotion_reason: str
    cutoff: pd.Timestamp
    data_tags: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, CandidateResult] = field(default_factory=dict)


def default_candidates() -> list[Recommender]:
    return [PopularityRecommender(window_days=30), ItemKNNRecommender(n_neighbors=50, half_life_days=90.0)]


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a frame's content, independent of row and column order (pandas' stable per-row hash)."""
    cols = sorted(frame.columns)
    canonical = frame[cols].sort_values(cols, kind="stable", na_position="first").reset_index(drop=True)
    row_hashes = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    return hashlib.sha256(",".join(cols).encode() + row_hashes.tobytes()).hexdigest()


def data_snapshot_tags(order_lines: pd.DataFrame, split: TimeSplit, extra: dict[str, Any]) -> dict[str, str]:
    """What the run trained on: row counts, digests, the cutoff and the caller's snapshot description."""
    tags = {f"data.{key}": str(value) for key, value in extra.items()}
    tags.update(
        {
            "data.n_rows": str(len(order_lines)),
            "data.n_train_rows": str(len(split.train)),
            "data.n_holdout_rows": str(len(split.holdout)),
            "data.n_eval_customers": str(len(split.eval_customers)),
            "data.n_products_train": str(split.train["product_id"].nunique()),
            "data.train_sha256": frame_digest(split.train),
            "data.holdout_sha256": frame_digest(split.holdout),
            "data.cutoff": split.cutoff.isoformat(),
        }
    )
    return tags


def _input_example(recommender: Recommender, cutoff: pd.Timestamp) -> pd.DataFrame:
    """A made-up history of three popular products: no real customer data goes into the artifact store."""
    top = recommender.recommend(
        pd.DataFrame({"customer_id": ["example"], "product_id": ["example"], "quantity": [1], "ordered_at": [cutoff]}),
        k=3,
    )["product_id"].tolist()
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
) -> TrainingResult:
    """Split, fit and evaluate the candidates, log one MLflow run each, register the better one as `champion`.

    `order_lines` has the columns of `marts.fct_order_lines` (non-cancelled lines). `artifact_location` is used only
    when the experiment does not exist yet. The models are deterministic; `seed` seeds numpy and is logged.
    """
    np.random.seed(seed)
    split = time_split(order_lines, holdout_days=holdout_days)
    if len(split.eval_customers) == 0:
        raise ValueError(
            f"no customer bought both before and after the cutoff {split.cutoff}: nothing to evaluate on; "
            "load more history or change holdout_days"
        )
    eval_history = split.train.loc[split.train["customer_id"].isin(split.eval_customers)]
    data_tags = data_snapshot_tags(order_lines, split, data_snapshot)
    ndcg_key = f"ndcg_at_{k}"

    mlflow.set_tracking_uri(tracking_uri)
    experiment_id = _get_or_create_experiment(experiment_name, artifact_location)
    results: dict[str, CandidateResult] = {}
    for recommender in candidates if candidates is not None else default_candidates():
        started = time.perf_counter()
        recommender.fit(split.train)
        fit_seconds = time.perf_counter() - started
        metrics = evaluate_recommendations(
            recommender.recommend(eval_history, k=k), split.holdout, k=k, customers=split.eval_customers
        )
        params = {**recommender.get_params(), "candidate": recommender.name, "holdout_days": holdout_days, "k": k}
        with mlflow.start_run(experiment_id=experiment_id, run_name=recommender.name) as run:
            mlflow.log_params({**params, "seed": seed})
            mlflow.log_metrics({**metrics, "fit_seconds": fit_seconds})
            mlflow.set_tags({**data_tags, "code_version": code_version, "candidate": recommender.name})
            started = time.perf_counter()
            info = log_recommender(recommender, input_example=_input_example(recommender, split.cutoff))
            log_seconds = time.perf_counter() - started
            mlflow.log_metric("log_model_seconds", log_seconds)
        results[recommender.name] = CandidateResult(
            name=recommender.name,
            run_id=run.info.run_id,
            model_uri=info.model_uri,
            params=params,
            metrics=metrics,
            fit_seconds=fit_seconds,
            log_model_seconds=log_seconds,
        )
        log.info("candidate %s: %s (fit %.2fs, log_model %.2fs)", recommender.name, metrics, fit_seconds, log_seconds)

    winner, reason, beat = _choose(results, ndcg_key)
    client = MlflowClient(tracking_uri=tracking_uri)
    version = mlflow.register_model(winner.model_uri, model_name)
    baseline = results.get(BASELINE)
    version_tags = {
        "candidate": winner.name,
        "decision": "promoted_to_champion",
        "promotion_reason": reason,
        f"candidate_{ndcg_key}": repr(winner.metrics[ndcg_key]),
        "code_version": code_version,
        "data.train_sha256": data_tags["data.train_sha256"],
        "data.cutoff": data_tags["data.cutoff"],
    }
    if baseline is not None:
        version_tags[f"baseline_{ndcg_key}"] = repr(baseline.metrics[ndcg_key])
    for key, value in version_tags.items():
        client.set_model_version_tag(model_name, version.version, key, value)
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version.version)
    log.info("registered %s version %s as @%s: %s", model_name, version.version, CHAMPION_ALIAS, reason)
    return TrainingResult(
        champion_version=int(version.version),
        champion_candidate=winner.name,
        champion_run_id=winner.run_id,
        run_ids={name: r.run_id for name, r in results.items()},
        metrics={name: r.metrics for name, r in results.items()},
        personalised_beat_baseline=beat,
        promotion_reason=reason,
        cutoff=split.cutoff,
        data_tags=data_tags,
        candidates=results,
    )


def _choose(results: dict[str, CandidateResult], ndcg_key: str) -> tuple[CandidateResult, str, bool]:
    """Best NDCG wins; a candidate must beat the baseline strictly (ties keep the simpler baseline)."""
    baseline = results.get(BASELINE)
    if baseline is None:
        best = max(results.values(), key=lambda r: r.metrics[ndcg_key])
        return best, f"best {ndcg_key} among {sorted(results)} without a baseline", False
    best = baseline
    for name, result in results.items():
        if name != BASELINE and result.metrics[ndcg_key] > best.metrics[ndcg_key]:
            best = result
    b, w = baseline.metrics[ndcg_key], best.metrics[ndcg_key]
    if best is baseline:
        return baseline, f"no candidate beat the popularity baseline on {ndcg_key} ({b:.4f})", False
    return best, f"{best.name} {ndcg_key} {w:.4f} > popularity baseline {b:.4f}", best.name == PERSONALISED


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
