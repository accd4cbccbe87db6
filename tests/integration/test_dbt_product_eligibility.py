"""Which products may be recommended: marts.dim_products' is_eligible / ineligible_reason (the rule: docs/features.md,
"Eligibility") on the hand-made store of tests/support/dbt_store.py plus products in every state — archived, draft,
unpublished, a gift card, out of stock under deny and out of stock but still selling (continue), rows loaded before
the eligibility columns existed, products a full pull found deleted (and one a later load brought back), a handle
reused after a deletion, CSV-only products judged by their export, and a product known only from order lines."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.dbt_store import (
    LOADED_1,
    LOADED_2,
    NOW,
    P_MUG,
    P_POSTER,
    P_TEE,
    P_UNSOLD,
    RUN_1,
    RUN_2,
    days_ago,
    gid,
    seed_store,
)
from support.dbt_store import product as base_product
from support.dbt_store import variant as base_variant
from support.dbt_warehouse import RawRow, Warehouse, run_dbt, run_results

pytestmark = pytest.mark.integration

RUN_FULL = "manual__full_refresh"  # a full pull between run 1 and run 2
LOADED_FULL = NOW - timedelta(days=1)
RUN_CSV = "manual__csv_import"
LOADED_CSV = NOW - timedelta(minutes=30)
CSV_PRODUCTS = "csv_export:products_export_1.csv"
CSV_ORDERS = "csv_export:orders_export_1.csv"

(P_ARCHIVED, P_DRAFT, P_UNPUBLISHED, P_GIFT_CARD, P_OUT_DENY, P_OUT_CONTINUE, P_MIXED_STOCK, P_UNTRACKED,
 P_DELETED, P_BACK, P_REUSED_HANDLE, P_GIFT_OUT) = (gid("Product", n) for n in range(101, 113))


def product(id_: str, title: str, *, status: str = "ACTIVE", published: bool = True, gift_card: bool = False,
            **kw: Any) -> dict[str, Any]:
    """An API product as loaded since migration 0005 (publish fields known)."""
    return {**base_product(id_, title, days_ago(3), status=status), "is_published": published,
            "published_at": days_ago(100) if published else None, "is_gift_card": gift_card,
            "total_inventory": kw.get("total_inventory", 10), "tracks_inventory": kw.get("tracks_inventory", True),
            **{k: v for k, v in kw.items() if k not in ("total_inventory", "tracks_inventory")}}


def variant(n: int, product_id: str, *, quantity: int = 5, policy: str = "DENY", tracked: bool = True) -> dict:
    """An API variant with its stock and Shopify's availableForSale verdict."""
    return {**base_variant(n, product_id, "10.00", days_ago(3)), "inventory_quantity": quantity,
            "inventory_policy": policy, "inventory_tracked": tracked,
            "available_for_sale": (not tracked) or policy == "CONTINUE" or quantity > 0}


def csv_product(handle: str, *, status: str | None, published: bool | None, gift_card: bool | None = False) -> dict:
    return {"id": f"csv:product:{handle}", "handle": handle, "title": handle.title(), "product_type": "Apparel",
            "vendor": "Storeloop Test Co", "status": status, "created_at": None, "updated_at": None,
            "is_published": published, "is_gift_card": gift_card, "Handle": handle}


def csv_variant(handle: str, sku: str, *, quantity: int | None, policy: str | None, tracked: bool | None) -> dict:
    return {"id": f"csv:variant:{handle}:1", "product_id": f"csv:product:{handle}", "sku": sku, "title": "Default",
            "price": Decimal("9.00"), "created_at": None, "updated_at": None, "inventory_quantity": quantity,
            "inventory_policy": policy, "inventory_tracked": tracked, "available_for_sale": None}


def eligibility_rows() -> list[RawRow]:
    r2 = (RUN_2, "api_bulk", LOADED_2)
    r1 = (RUN_1, "api_bulk", LOADED_1)
    csv = (RUN_CSV, CSV_PRODUCTS, LOADED_CSV)
    rows: list[tuple[str, tuple, dict]] = [
        ("products", r2, product(P_ARCHIVED, "Old Lamp", status="ARCHIVED")),
        ("product_variants", r2, variant(201, P_ARCHIVED)),
        ("products", r2, product(P_DRAFT, "Next Season Coat", status="DRAFT", published=False)),
        ("product_variants", r2, variant(202, P_DRAFT)),
        ("products", r2, product(P_UNPUBLISHED, "Backroom Box", published=False)),
        ("product_variants", r2, variant(203, P_UNPUBLISHED)),
        ("products", r2, product(P_GIFT_CARD, "Gift Card", gift_card=True, tracks_inventory=False)),
        ("product_variants", r2, variant(204, P_GIFT_CARD, tracked=False, quantity=0)),
        # out of stock, not sold when out of stock -> out_of_stock
        ("products", r2, product(P_OUT_DENY, "Sold Out Scarf", total_inventory=0)),
        ("product_variants", r2, variant(205, P_OUT_DENY, quantity=0, policy="DENY")),
        # out of stock but still selling (continue) -> eligible
        ("products", r2, product(P_OUT_CONTINUE, "Made To Order Chair", total_inventory=0)),
        ("product_variants", r2, variant(206, P_OUT_CONTINUE, quantity=0, policy="CONTINUE")),
        # one variant sold out, one in stock -> eligible
        ("products", r2, product(P_MIXED_STOCK, "Socks")),
        ("product_variants", r2, variant(207, P_MIXED_STOCK, quantity=0)),
        ("product_variants", r2, variant(208, P_MIXED_STOCK, quantity=3)),
        # stock not tracked: sells at quantity 0 -> eligible
        ("products", r2, product(P_UNTRACKED, "Digital Poster", tracks_inventory=False, total_inventory=0)),
        ("product_variants", r2, variant(209, P_UNTRACKED, quantity=0, tracked=False)),
        # a gift card out of stock: the earlier reason wins
        ("products", r2, product(P_GIFT_OUT, "Sold Out Gift Card", gift_card=True, total_inventory=0)),
        ("product_variants", r2, variant(210, P_GIFT_OUT, quantity=0)),
        # loaded by run 1 only, then found missing by the full pull: deleted (archived as well: deleted comes first)
        ("products", r1, {**product(P_DELETED, "Vanished Vase", status="ARCHIVED"), "handle": "vase-classic"}),
        ("product_variants", r1, variant(211, P_DELETED)),
        # its handle taken by a new product since (Shopify allows it): unique among the products not deleted
        ("products", r2, {**product(P_REUSED_HANDLE, "Vase Classic"), "handle": "vase-classic"}),
        ("product_variants", r2, variant(212, P_REUSED_HANDLE)),
        # found missing by the full pull, brought back by run 2 (a pull that had missed it): not deleted
        ("products", r1, product(P_BACK, "Boomerang")),
        ("products", r2, product(P_BACK, "Boomerang")),
        ("product_variants", r2, variant(213, P_BACK)),
        # CSV-only products, judged by their export
        ("products", csv, csv_product("csv-unpublished", status="ACTIVE", published=False)),
        ("product_variants", csv, csv_variant("csv-unpublished", "CSV-1", quantity=4, policy="DENY", tracked=True)),
        ("products", csv, csv_product("csv-sold-out", status="ACTIVE", published=True)),
        ("product_variants", csv, csv_variant("csv-sold-out", "CSV-2", quantity=0, policy="DENY", tracked=True)),
        ("products", csv, csv_product("csv-untracked", status="ACTIVE", published=True)),
        ("product_variants", csv, csv_variant("csv-untracked", "CSV-3", quantity=0, policy="DENY", tracked=False)),
        # an older export: no Status column, Published true -> judged by Published: eligible
        ("products", csv, csv_product("csv-old-format", status=None, published=True, gift_card=None)),
        ("product_variants", csv, csv_variant("csv-old-format", "CSV-4", quantity=2, policy=None, tracked=None)),
        # a trimmed export: neither Status nor Published -> status_unknown
        ("products", csv, csv_product("csv-trimmed", status=None, published=None, gift_card=None)),
        # the vase-classic handle exported too: it is the live product, not the deleted one
        ("products", csv, csv_product("vase-classic", status="ACTIVE", published=True)),
        # an order line whose SKU no catalogue knows -> a product known only from order lines
        ("orders", (RUN_CSV, CSV_ORDERS, LOADED_CSV), {
            "id": "csv:order:#3001", "name": "#3001", "customer_id": None, "email": "dan@example.com",
            "created_at": days_ago(1), "processed_at": None, "updated_at": None, "cancelled_at": None,
            "financial_status": "PAID", "currency_code": "EUR", "total_price": Decimal("5.00")}),
        ("order_line_items", (RUN_CSV, CSV_ORDERS, LOADED_CSV), {
            "id": "csv:line:csv:order:#3001:1", "order_id": "csv:order:#3001", "product_id": None,
            "variant_id": None, "sku": "GHOST-1", "title": "Ghost", "quantity": 1, "unit_price": Decimal("5.00")}),
    ]
    return [(table, run_id, source, loaded_at, typed) for table, (run_id, source, loaded_at), typed in rows]


def record_deletions(warehouse: Warehouse) -> None:
    """What the raw loader writes after the full pull between run 1 and run 2 (P_DELETED and P_BACK missing)."""
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into raw_shopify.product_deletions (id, detected_at, last_loaded_at, last_run_id, _run_id, "
            "_source) values (%s, %s, %s, %s, %s, 'api_bulk')",
            [(P_DELETED, LOADED_FULL, LOADED_1, RUN_1, RUN_FULL), (P_BACK, LOADED_FULL, LOADED_1, RUN_1, RUN_FULL),
             # an older full pull had found P_DELETED missing already: the latest detection counts
             (P_DELETED, LOADED_FULL - timedelta(hours=3), LOADED_1, RUN_1, "manual__older_full")])
    conn.close()


@pytest.mark.timeout(300)
def test_dim_products_says_which_products_may_be_recommended_and_why(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params, extra_rows=eligibility_rows())
    record_deletions(warehouse)

    result = run_dbt(warehouse, tmp_path, "build")
    assert result.returncode == 0, f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    statuses = run_results(tmp_path)
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses
    assert statuses["test.storeloop.assert_dim_products_eligibility_is_consistent"] == "pass"

    rows = warehouse.query("select product_id, is_eligible, ineligible_reason, is_published, is_gift_card, "
                           "is_purchasable, is_deleted from marts.dim_products")
    got = {r[0]: r[1:] for r in rows}
    expected = {
        # the base store: loaded before the eligibility columns existed -> judged by status only
        P_MUG: (True, None, None, None, None, False),
        P_TEE: (True, None, None, None, None, False),
        P_POSTER: (True, None, None, None, None, False),
        P_UNSOLD: (False, "not_active", None, None, None, False),
        P_ARCHIVED: (False, "not_active", True, False, True, False),
        P_DRAFT: (False, "not_active", False, False, True, False),
        P_UNPUBLISHED: (False, "unpublished", False, False, True, False),
        P_GIFT_CARD: (False, "gift_card", True, True, True, False),
        P_OUT_DENY: (False, "out_of_stock", True, False, False, False),
        P_OUT_CONTINUE: (True, None, True, False, True, False),
        P_MIXED_STOCK: (True, None, True, False, True, False),
        P_UNTRACKED: (True, None, True, False, True, False),
        P_GIFT_OUT: (False, "gift_card", True, True, False, False),
        P_DELETED: (False, "deleted", True, False, True, True),
        P_REUSED_HANDLE: (True, None, True, False, True, False),
        P_BACK: (True, None, True, False, True, False),
        "csv:product:csv-unpublished": (False, "unpublished", False, False, True, False),
        "csv:product:csv-sold-out": (False, "out_of_stock", True, False, False, False),
        "csv:product:csv-untracked": (True, None, True, False, True, False),
        "csv:product:csv-old-format": (True, None, True, None, True, False),
        "csv:product:csv-trimmed": (False, "status_unknown", None, None, None, False),
        "csv:sku:GHOST-1": (False, "unknown_to_shopify", None, None, None, False),
    }
    assert got == expected

    q = warehouse.query
    assert q(f"select deletion_detected_at from marts.dim_products where product_id = '{P_DELETED}'") == [
        (LOADED_FULL,)]
    assert q("select product_id, detected_by_run_id from intermediate.int_shopify__deleted_products") == [
        (P_DELETED, RUN_FULL)]
    # the exported vase-classic is the live product with that handle, not the deleted one
    assert q("select product_id from intermediate.int_shopify__product_keys "
             "where source_product_id = 'csv:product:vase-classic'") == [(P_REUSED_HANDLE,)]
