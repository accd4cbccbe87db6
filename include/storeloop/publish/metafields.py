"""Turning ranked recommendations into the metafield lists a publish writes, and their `MetafieldsSetInput`s.

- related products -> a product metafield `storeloop.related_products` (`list.product_reference`)
- the champion's list per customer ("buy again") -> a customer metafield `storeloop.buy_again`
- the `for_you` model's list of products the customer never bought -> a customer metafield `storeloop.for_you`
  (both `list.product_reference`; docs/recommender.md, "Two lists")

Only ids the Admin API can reference become metafields (`are_gids`): products and customers known only from CSV
exports (`csv:...` ids) have no GID. Pure functions; the writes are storeloop.publish.writer's.
"""

from __future__ import annotations

import hashlib

import pandas as pd

NAMESPACE = "storeloop"
RELATED_PRODUCTS_KEY = "related_products"
BUY_AGAIN_KEY = "buy_again"
FOR_YOU_KEY = "for_you"
PRODUCT_REFERENCE_LIST = "list.product_reference"
MAX_LIST_ITEMS = 128  # Shopify's limit for list metafield values

# the metafield definitions a publish creates (idempotently) so that themes can read the metafields: product lists are
# readable by the Storefront API too; customer metafields reach the theme's Liquid for the logged-in customer
DEFINITIONS = (
    {"owner_type": "PRODUCT", "namespace": NAMESPACE, "key": RELATED_PRODUCTS_KEY, "name": "Related products",
     "type_": PRODUCT_REFERENCE_LIST, "storefront": "PUBLIC_READ",
     "description": "Products bought together with this one, best first (written nightly by Storeloop)"},
    {"owner_type": "CUSTOMER", "namespace": NAMESPACE, "key": BUY_AGAIN_KEY, "name": "Buy again",
     "type_": PRODUCT_REFERENCE_LIST, "storefront": "NONE",
     "description": "Products recommended to this customer, best first (written nightly by Storeloop)"},
    {"owner_type": "CUSTOMER", "namespace": NAMESPACE, "key": FOR_YOU_KEY, "name": "For you",
     "type_": PRODUCT_REFERENCE_LIST, "storefront": "NONE",
     "description": "Products this customer has never bought, best first (written nightly by Storeloop)"},
)


def are_gids(ids: pd.Series, resource: str) -> pd.Series:
    """Per id: `gid://shopify/<resource>/<n>` or a bare numeric id, i.e. something the Admin API can reference."""
    text = ids.astype(str).str.strip()
    return text.str.isdigit() | text.str.startswith(f"gid://shopify/{resource}/")


def to_gids(ids: pd.Series, resource: str) -> pd.Series:
    """Vectorised `to_gid`: ids must already pass `are_gids` (bare numeric ids get the GID prefix)."""
    text = ids.astype(str).str.strip()
    return text.where(text.str.startswith("gid://"), f"gid://shopify/{resource}/" + text)


def value_digest(values: pd.Series) -> pd.Series:
    """md5 hex of each metafield value as written: what `ml.published_lists.value_digest` compares."""
    return values.map(lambda v: hashlib.md5(v.encode("utf-8")).hexdigest())


def metafield_lists(ranked: pd.DataFrame, owner_col: str, item_col: str, owner_resource: str, key: str) -> pd.DataFrame:
    """One row per owner: `owner_gid, key, value, digest, items`; `value` is the JSON list of product GIDs by rank
    (duplicates dropped, at most `MAX_LIST_ITEMS`), exactly the `list.product_reference` value written."""
    missing = {owner_col, item_col, "rank"} - set(ranked.columns)
    if missing:
        raise ValueError(f"frame lacks column(s) {sorted(missing)}")
    if ranked.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in ("owner_gid", "key", "value", "digest")}
                            ).assign(items=pd.Series([], dtype="int64"))
    frame = pd.DataFrame({"owner_gid": to_gids(ranked[owner_col], owner_resource).to_numpy(),
                          "item": to_gids(ranked[item_col], "Product").to_numpy(), "rank": ranked["rank"].to_numpy()})
    frame = frame.sort_values(["owner_gid", "rank"], kind="stable").drop_duplicates(["owner_gid", "item"])
    frame = frame.loc[frame.groupby("owner_gid", sort=False).cumcount() < MAX_LIST_ITEMS]
    grouped = frame.groupby("owner_gid", sort=True)["item"]
    # GIDs hold no character JSON escapes, so joining them is json.dumps of the list
    lists = pd.DataFrame({"value": '["' + grouped.agg('", "'.join) + '"]', "items": grouped.size()})
    lists = lists.reset_index()
    lists.insert(1, "key", key)
    lists["digest"] = value_digest(lists["value"])
    return lists[["owner_gid", "key", "value", "digest", "items"]]


def metafield_inputs(lists: pd.DataFrame, namespace: str = NAMESPACE) -> list[dict[str, str]]:
    """`MetafieldsSetInput`s of `metafield_lists` rows."""
    return [{"ownerId": owner, "namespace": namespace, "key": key, "type": PRODUCT_REFERENCE_LIST, "value": value}
            for owner, key, value in zip(lists["owner_gid"], lists["key"], lists["value"], strict=True)]
