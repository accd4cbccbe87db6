"""Turning recommendations into Shopify `MetafieldsSetInput` objects for the `metafieldsSet` mutation.

Pure functions: the Shopify client sends each batch (at most 25 inputs, Shopify's limit per `metafieldsSet` call).

- related products -> a product metafield `storeloop.related_products` (`list.product_reference`)
- personal picks -> a customer metafield `storeloop.personal_picks` (`list.product_reference`)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TypeVar

import pandas as pd

NAMESPACE = "storeloop"
RELATED_PRODUCTS_KEY = "related_products"
PERSONAL_PICKS_KEY = "personal_picks"
PRODUCT_REFERENCE_LIST = "list.product_reference"
MAX_METAFIELDS_PER_CALL = 25  # Shopify's limit for metafieldsSet
MAX_LIST_ITEMS = 128  # Shopify's limit for list metafield values

T = TypeVar("T")


def to_gid(resource: str, id_: str | int) -> str:
    """`gid://shopify/{resource}/{id}` for a numeric id; a value that already is a GID is returned unchanged."""
    text = str(id_).strip()
    if text.startswith("gid://shopify/"):
        expected = f"gid://shopify/{resource}/"
        if not text.startswith(expected):
            raise ValueError(f"{text!r} is not a {resource} GID (expected it to start with {expected!r})")
        return text
    if not text.isdigit():
        raise ValueError(f"{text!r} is neither a Shopify {resource} GID nor a numeric id")
    return f"gid://shopify/{resource}/{text}"


def _are_gids(ids: pd.Series, resource: str) -> pd.Series:
    """Per id: `gid://shopify/<resource>/<n>` or a bare numeric id, i.e. something the Admin API can reference."""
    text = ids.astype(str).str.strip()
    return text.str.isdigit() | text.str.startswith(f"gid://shopify/{resource}/")


def publishable_related(related: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of a `product_id, related_product_id, rank` frame whose two products exist in Shopify's Admin API,
    and how many products were left out as owners. Products known only from CSV exports (`csv:product:<handle>`,
    `csv:sku:<sku>`, `csv:name:<name>`) have no GID: a metafield can neither sit on them nor reference them."""
    owners = _are_gids(related["product_id"], "Product")
    items = _are_gids(related["related_product_id"], "Product")
    kept = related.loc[owners & items]
    return kept, int(related.loc[~owners, "product_id"].nunique())


def _list_metafields(
    ranked: pd.DataFrame, owner_col: str, item_col: str, owner_resource: str, key: str, namespace: str
) -> list[dict[str, str]]:
    missing = {owner_col, item_col, "rank"} - set(ranked.columns)
    if missing:
        raise ValueError(f"frame lacks column(s) {sorted(missing)}")
    inputs = []
    ordered = ranked.sort_values([owner_col, "rank"], kind="stable")
    for owner, group in ordered.groupby(owner_col, sort=True):
        products = list(dict.fromkeys(to_gid("Product", p) for p in group[item_col]))[:MAX_LIST_ITEMS]
        inputs.append(
            {
                "ownerId": to_gid(owner_resource, owner),
                "namespace": namespace,
                "key": key,
                "type": PRODUCT_REFERENCE_LIST,
                "value": json.dumps(products),
            }
        )
    return inputs


def related_products_metafields(related: pd.DataFrame, namespace: str = NAMESPACE) -> list[dict[str, str]]:
    """One input per product from a `product_id, related_product_id, rank` frame; value lists products by rank."""
    return _list_metafields(related, "product_id", "related_product_id", "Product", RELATED_PRODUCTS_KEY, namespace)


def personal_picks_metafields(recommendations: pd.DataFrame, namespace: str = NAMESPACE) -> list[dict[str, str]]:
    """One input per customer from a `customer_id, product_id, rank` frame; value lists products by rank."""
    return _list_metafields(recommendations, "customer_id", "product_id", "Customer", PERSONAL_PICKS_KEY, namespace)


def chunk_metafields(items: Iterable[T], size: int = MAX_METAFIELDS_PER_CALL) -> list[list[T]]:
    """Consecutive batches of at most `size` items (for `metafieldsSet`, `size` must not exceed 25)."""
    if not 0 < size <= MAX_METAFIELDS_PER_CALL:
        raise ValueError(f"batch size must be between 1 and {MAX_METAFIELDS_PER_CALL}, got {size}")
    seq: Sequence[T] = list(items)
    return [list(seq[i : i + size]) for i in range(0, len(seq), size)]
