"""Related products as a products CSV the merchant imports by hand (stores without an Admin API token).

A store known only from the Shopify admin's CSV exports has no token, so Storeloop cannot write metafields. Instead
it writes a file in the format of Shopify's product CSV import that sets the product metafield
`storeloop.related_products` (type `list.product_reference`) of every product that has a related list; the merchant
imports it in the admin (Products → Import, "Overwrite products with matching handles"). docs/contracts.md,
"Exports-only stores: products import CSV", is the merchant's side of it. Pure: no database, no Airflow, no network.

The file, one row per product (sorted by handle), UTF-8, comma-separated, quoted where needed (Python's csv module):

    Handle,Title,Related products (product.metafields.storeloop.related_products)
    oak-bowl,Oak bowl,walnut-spoon; linen-napkin; oak-board

- `Handle` identifies the product to update; `Title` is written when `titles` is given (see below); the metafield
  column's header is `<name> (product.metafields.<namespace>.<key>)`.
- The value lists the related products' handles in rank order, separated by `; `, at most 128 (Shopify's limit on a
  list metafield's values; the same cap as the Admin API path, `publish.metafields.MAX_LIST_ITEMS`), duplicates
  dropped (the best rank kept).
- Products without a related list are not written. A product id whose handle is unknown (neither in `handles` nor
  derivable from a `csv:product:<handle>` id) is left out, as an owner (its row is not written) or as an item (it is
  dropped from the lists it is in); both are counted (`RelatedProductsImport`) and logged.

Sources, and what they settle:

- Shopify Help Center, "Using CSV files to import and export products",
  https://help.shopify.com/en/manual/products/import-export/using-csv (current text read in its ko/ja/zh-CN
  versions, same path; an older version at https://beta.help.shopify.com/ko/manual/products/import-export/using-csv):
  "When you update products using a CSV file, the required columns are [URL] handle and Title"; columns whose data
  depends on others (variant columns need `Option1 Name`/`Option1 Value`) must come with them — this file has none;
  "Metafields in CSV columns": product metafields can be imported and exported with a CSV file once the metafield
  has a definition, the column header format being `<name> (product.metafields.<namespace>.<key>)`.
- The header format is also what real exports carry: tests/fixtures/shopify/products_export_catalogue.csv (a real
  store's export) has `Product rating count (product.metafields.reviews.rating_count)`,
  `Color (product.metafields.shopify.color-pattern)`, ...
- Overwriting: an older version of the same help page (as translated at https://cnblogs.com/ytkah/p/15065734.html)
  says that with "Overwrite products with matching handles" the values in the file's columns replace the product's,
  a column the file does not have keeps the product's value, and an empty cell in a required column blanks it.

Not confirmed (the current English page could only be read in part, and no import could be run):

- How a `list.product_reference` value is written in an import. Handles separated by `; ` is a choice: an
  exports-only store knows its products only by handle (no GID exists here), and list metafields in Shopify's
  exports appear as values separated by `; `; whether the importer accepts handles for product references (rather
  than GIDs) and this separator is not confirmed by Shopify's documentation.
- Whether an update may leave `Title` out. The documentation says it is required, so pass `titles` (the warehouse's
  `dim_products.title`); without it the file has no `Title` column. With it, the import sets each title to the one
  given: a product renamed since the export Storeloop read would get its old title back.
- The column name of the handle: Shopify's current template says `URL handle`; the exports in this repository (and
  `shopify.csv_exports`) use `Handle`, which is what this file writes (`HANDLE_COLUMN`).
- Whether the import sets a metafield that has no definition: the merchant should create the definition
  (namespace `storeloop`, key `related_products`, type "Product" list) before importing.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from storeloop.publish.metafields import MAX_LIST_ITEMS, NAMESPACE, RELATED_PRODUCTS_KEY

log = logging.getLogger(__name__)

HANDLE_COLUMN = "Handle"
TITLE_COLUMN = "Title"
RELATED_PRODUCTS_COLUMN = f"Related products (product.metafields.{NAMESPACE}.{RELATED_PRODUCTS_KEY})"
VALUE_SEPARATOR = "; "
CSV_PRODUCT_PREFIX = "csv:product:"
PRODUCT_GID_PREFIX = "gid://shopify/Product/"


@dataclass(frozen=True)
class RelatedProductsImport:
    """The rows of the import file and what was left out of it.

    rows: (handle, title or None, related handles by rank), sorted by handle.
    products_without_handle: distinct product ids with a related list that were not written for want of a handle.
    references_without_handle: distinct related product ids dropped from lists for want of a handle.
    products_without_title: products with a handle and a list not written because `titles` had no title for them.
    """

    rows: list[tuple[str, str | None, list[str]]]
    products_without_handle: int
    references_without_handle: int
    products_without_title: int


def write_related_products_import(related: pd.DataFrame, handles: Mapping[str, str], path: Any, *,
                                  titles: Mapping[str, str] | None = None) -> int:
    """Write the products import CSV of `related` (`product_id, related_product_id, rank`) to `path` (a local path,
    or anything with `.open("wb")`, e.g. an Airflow ObjectStoragePath); returns the number of product rows written.
    `handles` maps product id → handle (GIDs, numeric ids and `csv:product:<handle>` ids; the handle of the last is
    also read from the id itself). `titles` maps product id → title; given, a `Title` column is written and
    products without a title are left out (an empty Title would blank the product's). A file with no product row
    still has its header."""
    result = related_products_import(related, handles, titles=titles)
    header = [HANDLE_COLUMN, *([TITLE_COLUMN] if titles is not None else []), RELATED_PRODUCTS_COLUMN]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for handle, title, items in result.rows:
        writer.writerow([handle, *([title] if titles is not None else []), VALUE_SEPARATOR.join(items)])
    target = Path(path) if isinstance(path, (str, os.PathLike)) else path
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        fh.write(buffer.getvalue().encode("utf-8"))
    if result.products_without_handle or result.references_without_handle or result.products_without_title:
        log.warning("Products import CSV %s: %d product(s) left out for want of a handle, %d related product(s) "
                    "dropped from lists for want of a handle, %d product(s) left out for want of a title",
                    path, result.products_without_handle, result.references_without_handle,
                    result.products_without_title)
    log.info("Products import CSV %s: %d product row(s)", path, len(result.rows))
    return len(result.rows)


def related_products_import(related: pd.DataFrame, handles: Mapping[str, str], *,
                            titles: Mapping[str, str] | None = None) -> RelatedProductsImport:
    """The rows `write_related_products_import` writes, and the counts of what it leaves out."""
    missing = {"product_id", "related_product_id", "rank"} - set(related.columns)
    if missing:
        raise ValueError(f"related lacks column(s) {sorted(missing)}")
    handle_of = {_normal_id(k): _usable_handle(v) for k, v in handles.items()}
    title_of = None if titles is None else {_normal_id(k): v for k, v in titles.items()}
    frame = pd.DataFrame({
        "owner": related["product_id"].map(_normal_id).to_numpy(),
        "item": related["related_product_id"].map(_normal_id).to_numpy(),
        "rank": related["rank"].to_numpy(),
    })
    frame["owner_handle"] = frame["owner"].map(lambda i: _handle(i, handle_of))
    frame["item_handle"] = frame["item"].map(lambda i: _handle(i, handle_of))
    no_owner = frame["owner_handle"].isna()
    owners_without = set(frame.loc[no_owner, "owner"])
    no_item = frame["item_handle"].isna() & ~no_owner
    items_without = set(frame.loc[no_item, "item"])
    frame = frame.loc[~no_owner & ~no_item]

    products_without_title = 0
    titled: dict[str, str | None] = {}
    if title_of is not None:
        owner_titles = frame.drop_duplicates("owner_handle").set_index("owner_handle")["owner"].map(
            lambda i: _usable_title(title_of.get(i)))
        products_without_title = int(owner_titles.isna().sum())
        frame = frame.loc[frame["owner_handle"].map(owner_titles).notna()]
        titled = owner_titles.dropna().to_dict()

    frame = frame.sort_values(["owner_handle", "rank"], kind="stable")
    frame = frame.drop_duplicates(["owner_handle", "item_handle"])
    frame = frame.loc[frame.groupby("owner_handle", sort=False).cumcount() < MAX_LIST_ITEMS]
    rows = [(handle, titled.get(handle), list(group))
            for handle, group in frame.groupby("owner_handle", sort=True)["item_handle"]]
    return RelatedProductsImport(rows=rows, products_without_handle=len(owners_without),
                                 references_without_handle=len(items_without),
                                 products_without_title=products_without_title)


def _normal_id(id_: Any) -> str:
    """A product id as text, a bare numeric id as its GID (so `123` and `gid://shopify/Product/123` are one)."""
    text = str(id_).strip()
    return PRODUCT_GID_PREFIX + text if text.isdigit() else text


def _usable_handle(handle: Any) -> str | None:
    """A handle that can stand in the file: not empty, and without the list separator (a real Shopify handle has
    neither `;` nor a comma)."""
    if not isinstance(handle, str):
        return None
    text = handle.strip()
    return text if text and ";" not in text and "," not in text else None


def _usable_title(title: Any) -> str | None:
    if not isinstance(title, str) or not title.strip():
        return None
    return title


def _handle(product_id: str, handle_of: Mapping[str, str | None]) -> str | None:
    handle = handle_of.get(product_id)
    if handle is None and product_id.startswith(CSV_PRODUCT_PREFIX):
        handle = _usable_handle(product_id[len(CSV_PRODUCT_PREFIX):])
    return handle
