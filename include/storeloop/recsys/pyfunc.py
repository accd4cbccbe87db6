"""The recommender as an MLflow pyfunc model (input/output per docs/contracts.md, 'Recommender (MLflow)').

The fitted recommender is pickled into the artifact `recommender.pkl`; the related-products table (from the
product-to-product model, or the recommender itself) is saved beside it
as `related_products.csv` so the publish step can read it without scoring. Loading needs the `storeloop` package
importable (the pickle refers to the model classes in `storeloop.recsys`), which holds wherever the DAGs run.

    loaded = mlflow.pyfunc.load_model("models:/storeloop_recommender@champion")
    recs = loaded.predict(history_df, params={"k": 10})
    related = loaded.unwrap_python_model().related_products()
"""

from __future__ import annotations

import importlib.metadata
import pickle
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from storeloop.recsys.interactions import HISTORY_COLUMNS, RELATED_COLUMNS, to_utc_naive
from storeloop.recsys.models import Recommender

DEFAULT_K = 10
DEFAULT_RELATED_K = 10
RECOMMENDER_ARTIFACT = "recommender"
RELATED_ARTIFACT = "related_products"
PINNED_PACKAGES: tuple[str, ...] = ("pandas", "numpy", "scipy", "scikit-learn")

SIGNATURE = ModelSignature(
    inputs=Schema(
        [
            ColSpec("string", "customer_id"),
            ColSpec("string", "product_id"),
            ColSpec("long", "quantity"),
            ColSpec("datetime", "ordered_at"),
        ]
    ),
    outputs=Schema(
        [
            ColSpec("string", "customer_id"),
            ColSpec("string", "product_id"),
            ColSpec("long", "rank"),
            ColSpec("double", "score"),
        ]
    ),
    params=ParamSchema([ParamSpec("k", "long", DEFAULT_K)]),
)


def pip_requirements() -> list[str]:
    """The model's runtime requirements pinned to the installed versions (explicit, so MLflow does not infer)."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in PINNED_PACKAGES]


def model_input(history: pd.DataFrame) -> pd.DataFrame:
    """Shape a purchase history as the model's input: the four contract columns, naive-UTC timestamps, int quantity."""
    df = history.loc[history["customer_id"].notna() & history["product_id"].notna()]
    return pd.DataFrame(
        {
            "customer_id": df["customer_id"].astype(str).to_numpy(),
            "product_id": df["product_id"].astype(str).to_numpy(),
            "quantity": pd.to_numeric(df["quantity"], errors="coerce").fillna(1).astype(np.int64).to_numpy(),
            "ordered_at": to_utc_naive(df["ordered_at"]).to_numpy(),
        },
        columns=list(HISTORY_COLUMNS),
    )


class RecommenderPythonModel(mlflow.pyfunc.PythonModel):
    """Serves `recommend` through `predict`; `related_products()` is reachable via `unwrap_python_model()`."""

    def __init__(self) -> None:
        self._recommender: Recommender | None = None
        self._related: pd.DataFrame | None = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[RECOMMENDER_ARTIFACT], "rb") as fh:
            self._recommender = pickle.load(fh)
        self._related = pd.read_csv(
            context.artifacts[RELATED_ARTIFACT], dtype={"product_id": object, "related_product_id": object}
        )

    @property
    def recommender(self) -> Recommender:
        if self._recommender is None:
            raise RuntimeError("the model's context is not loaded: load it with mlflow.pyfunc.load_model(uri)")
        return self._recommender

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        k = int((params or {}).get("k", DEFAULT_K))
        if k <= 0:
            raise ValueError(f"param k must be a positive integer, got {k}")
        if self.recommender.needs_features:
            raise ValueError(f"{self.recommender.name} ranks on the dbt feature models, which predict() does not "
                             "receive: score it with storeloop.recsys.scoring.score_customers(..., features=) as "
                             "recommender_score does (docs/contracts.md, 'Recommender (MLflow)')")
        return self.recommender.recommend(model_input, k=k)

    def related_products(self, k: int | None = None) -> pd.DataFrame:
        """Related products saved at logging time (`product_id, related_product_id, rank, score`), top `k` each."""
        if self._related is None:
            raise RuntimeError("the model's context is not loaded: load it with mlflow.pyfunc.load_model(uri)")
        return self._related if k is None else self._related.loc[self._related["rank"] <= k].reset_index(drop=True)


def log_recommender(
    recommender: Recommender,
    *,
    input_example: pd.DataFrame,
    name: str = "model",
    related_k: int = DEFAULT_RELATED_K,
    tags: dict[str, str] | None = None,
    related: pd.DataFrame | None = None,
) -> ModelInfo:
    """Log a fitted recommender as a pyfunc model in the active MLflow run; returns MLflow's ModelInfo.

    `related` is the related-products table to ship with the model (from the product-to-product model); without it
    the recommender's own `related_products(related_k)` is used.
    """
    if related is None:
        related = recommender.related_products(k=related_k)
    with tempfile.TemporaryDirectory(prefix="storeloop-model-") as tmp:
        recommender_path = Path(tmp) / "recommender.pkl"
        related_path = Path(tmp) / "related_products.csv"
        with open(recommender_path, "wb") as fh:
            pickle.dump(recommender, fh, protocol=pickle.HIGHEST_PROTOCOL)
        related[list(RELATED_COLUMNS)].to_csv(related_path, index=False)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=RecommenderPythonModel(),
            artifacts={RECOMMENDER_ARTIFACT: str(recommender_path), RELATED_ARTIFACT: str(related_path)},
            signature=SIGNATURE,
            input_example=(model_input(input_example), {"k": DEFAULT_K}),
            pip_requirements=pip_requirements(),
            tags=tags,
        )
