"""The hand-made store the dbt integration tests build on: four products, three customers and six orders loaded by
two runs (run 2 reloads what changed, so several ids have two versions), and defects to plant in it.

Times are relative to "now" (the import of this module) so the freshness check and the "no future orders" test hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg2

from support.dbt_warehouse import RawRow, create_raw_schema, insert_raw_rows

NOW = datetime.now(UTC).replace(microsecond=0)
RUN_1 = "scheduled__run_1"  # two days ago
RUN_2 = "scheduled__run_2"  # one hour ago
LOADED_1 = NOW - timedelta(days=2)
LOADED_2 = NOW - timedelta(hours=1)


def gid(kind: str, n: int) -> str:
    return f"gid://shopify/{kind}/{n}"


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


P_MUG, P_TEE, P_POSTER, P_UNSOLD = (gid("Product", n) for n in (1, 2, 3, 4))
C_ANN, C_BOB, C_CAT = (gid("Customer", n) for n in (1, 2, 3))
O_1, O_2_EDITED, O_3_CANCELLED, O_4_REFUNDED, O_5_GUEST, O_6_UNPROCESSED = (gid("Order", n) for n in range(1, 7))


def product(id_: str, title: str, updated: datetime, **kw: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "handle": title.lower().replace(" ", "-"),
        "title": title,
        "product_type": kw.get("product_type", "Homeware"),
        "vendor": "Storeloop Test Co",
        "status": kw.get("status", "ACTIVE"),
        "created_at": days_ago(400),
        "updated_at": updated,
    }


def variant(n: int, product_id: str, price: str, updated: datetime) -> dict[str, Any]:
    return {
        "id": gid("ProductVariant", n),
        "product_id": product_id,
        "sku": f"SKU-{n}",
        "title": "Default Title",
        "price": Decimal(price),
        "created_at": days_ago(400),
        "updated_at": updated,
    }


def customer(id_: str, email: str, updated: datetime) -> dict[str, Any]:
    return {"id": id_, "email": email, "created_at": days_ago(300), "updated_at": updated}


def order(
    id_: str, name: str, customer_id: str | None, placed: datetime | None, updated: datetime, **kw: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "customer_id": customer_id,
        "email": kw.get("email"),
        "created_at": kw.get("created_at", placed),
        "processed_at": placed,
        "updated_at": updated,
        "cancelled_at": kw.get("cancelled_at"),
        "financial_status": kw.get("financial_status", "PAID"),
        "currency_code": "EUR",
        "total_price": Decimal(kw.get("total_price", "0.00")),
    }


def line(
    n: int, order_id: str, product_id: str | None, variant_n: int | None, quantity: int, unit_price: str
) -> dict[str, Any]:
    return {
        "id": gid("LineItem", n),
        "order_id": order_id,
        "product_id": product_id,
        "variant_id": gid("ProductVariant", variant_n) if variant_n else None,
        "sku": f"SKU-{variant_n}" if variant_n else None,
        "title": f"line {n}",
        "quantity": quantity,
        "unit_price": Decimal(unit_price),
    }


def store_rows() -> list[RawRow]:
    """A small store loaded by two runs. Run 2 reloads what changed, so several ids have two versions."""
    r1 = ("api_bulk", RUN_1, LOADED_1)
    r2 = ("api_bulk", RUN_2, LOADED_2)
    rows: list[tuple[str, tuple[str, str, datetime], dict[str, Any]]] = [
        # products: the mug is renamed in run 2 (newer updated_at wins)
        ("products", r1, product(P_MUG, "Mug", days_ago(30))),
        ("products", r2, product(P_MUG, "Coffee Mug", days_ago(1))),
        ("products", r1, product(P_TEE, "T Shirt", days_ago(30), product_type="Apparel")),
        ("products", r1, product(P_POSTER, "Poster", days_ago(30), product_type="Art")),
        ("products", r1, product(P_UNSOLD, "Vase", days_ago(30), status="DRAFT")),
        # variants: mug has two; its cheaper one gets cheaper in run 2 -> dim_products.price = 11.00
        ("product_variants", r1, variant(1, P_MUG, "12.00", days_ago(30))),
        ("product_variants", r2, variant(1, P_MUG, "11.00", days_ago(1))),
        ("product_variants", r1, variant(2, P_MUG, "15.00", days_ago(30))),
        ("product_variants", r1, variant(3, P_TEE, "20.00", days_ago(30))),
        ("product_variants", r1, variant(4, P_POSTER, "8.50", days_ago(30))),
        ("product_variants", r1, variant(5, P_UNSOLD, "30.00", days_ago(30))),
        # customers: Ann's run-2 row has the same updated_at (a CSV re-export): the API row still wins
        ("customers", r1, customer(C_ANN, "Ann@Example.com", days_ago(5))),
        ("customers", ("csv_export", RUN_2, LOADED_2), customer(C_ANN, "  ANN.NEW@Example.COM ", days_ago(5))),
        ("customers", r1, customer(C_BOB, "bob@example.com", days_ago(50))),
        ("customers", r1, customer(C_CAT, "cat@example.com", days_ago(50))),
        # order 1: two lines
        ("orders", r1, order(O_1, "#1001", C_ANN, days_ago(10), days_ago(10), total_price="44.00")),
        ("order_line_items", r1, line(1, O_1, P_MUG, 1, 2, "12.00")),
        ("order_line_items", r1, line(2, O_1, P_TEE, 3, 1, "20.00")),
        # order 2: pending in run 1, paid and edited (quantity 1 -> 3) in run 2; run 2 must win
        (
            "orders",
            r1,
            order(
                O_2_EDITED, "#1002", C_ANN, days_ago(3), days_ago(3), financial_status="PENDING", total_price="15.00"
            ),
        ),
        ("order_line_items", r1, line(3, O_2_EDITED, P_MUG, 2, 1, "15.00")),
        ("orders", r2, order(O_2_EDITED, "#1002", C_ANN, days_ago(3), days_ago(0.5), total_price="45.00")),
        ("order_line_items", r2, line(3, O_2_EDITED, P_MUG, 2, 3, "15.00")),
        # order 3: cancelled -> flagged in fct_order_lines, absent from interactions
        (
            "orders",
            r1,
            order(
                O_3_CANCELLED,
                "#1003",
                C_BOB,
                days_ago(8),
                days_ago(7),
                cancelled_at=days_ago(7),
                financial_status="VOIDED",
                total_price="8.50",
            ),
        ),
        ("order_line_items", r1, line(4, O_3_CANCELLED, P_POSTER, 4, 1, "8.50")),
        # order 4: refunded -> kept everywhere
        (
            "orders",
            r1,
            order(
                O_4_REFUNDED, "#1004", C_BOB, days_ago(6), days_ago(4), financial_status="REFUNDED", total_price="11.00"
            ),
        ),
        ("order_line_items", r1, line(5, O_4_REFUNDED, P_MUG, 1, 1, "11.00")),
        # order 5: guest checkout (no customer) -> in fct_order_lines, not in interactions
        (
            "orders",
            r1,
            order(O_5_GUEST, "#1005", None, days_ago(2), days_ago(2), email="Guest@Example.com", total_price="20.00"),
        ),
        ("order_line_items", r1, line(6, O_5_GUEST, P_TEE, 3, 1, "20.00")),
        # order 6: never processed -> ordered_at falls back to created_at; a custom item without product
        (
            "orders",
            r1,
            order(O_6_UNPROCESSED, "#1006", C_CAT, None, days_ago(1), created_at=days_ago(1), total_price="22.00"),
        ),
        ("order_line_items", r1, line(7, O_6_UNPROCESSED, None, None, 1, "5.00")),
        ("order_line_items", r1, line(8, O_6_UNPROCESSED, P_POSTER, 4, 2, "8.50")),
    ]
    return [(table, run_id, source, loaded_at, typed) for table, (source, run_id, loaded_at), typed in rows]


def seed_store(dsn_params: dict[str, str], extra_rows: list[RawRow] | None = None) -> None:
    """Create raw_shopify in the database and load the hand-made store (plus `extra_rows`)."""
    conn = psycopg2.connect(**dsn_params)
    try:
        create_raw_schema(conn)
        insert_raw_rows(conn, store_rows() + (extra_rows or []))
    finally:
        conn.close()


def planted_duplicate_in_a_load() -> list[RawRow]:
    """Order 1 written twice by one load (a file ingested twice under one run, a loader bug)."""
    return [("orders", RUN_1, "api_bulk", LOADED_1,
             order(O_1, "#1001", C_ANN, days_ago(10), days_ago(10), total_price="44.00"))]
