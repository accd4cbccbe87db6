"""The emulated shop's state: catalogue, customers, orders (seeded once from the store simulator), metafields and
bulk operations, persisted in one SQLite file in the state directory.

The seeded tables are read into memory as columns (one Python list per column) and Shopify-shaped records (dicts
keyed by GraphQL field names) are built on demand, so a big store costs a few lists, not a dict per object.
Metafields and bulk operations are written through to SQLite on every change, so they survive restarts. A state
directory that already holds a seeded store is reused as it is: it is never reseeded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sandbox.store_simulator import (
    COUNTRY_NAMES,
    StoreData,
    advance,
    apply_scenario,
    country_codes,
    simulate_store,
)

log = logging.getLogger("sandbox.shopify_emulator")

DB_FILE = "shopify.sqlite3"
SHOP_GID = "gid://shopify/Shop/1"
METAFIELD_ID_BASE = 30_000_000_000_000
BULK_ID_BASE = 4_400_000_000_000
BULK_ACTIVE = ("CREATED", "RUNNING", "CANCELING")

_ENTITIES = {
    # table → (id column, GID type)
    "products": ("product_id", "Product"),
    "variants": ("variant_id", "ProductVariant"),
    "customers": ("customer_id", "Customer"),
    "orders": ("order_id", "Order"),
    "line_items": ("line_item_id", "LineItem"),
}
_LIST_COLUMNS = {"tags"}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_str(x: float) -> str:
    """A Shopify Decimal (MoneyV2.amount): '12.5', '10.0', '29.99'."""
    s = f"{x:.2f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def money_str(x: float) -> str:
    """A Shopify Money scalar (ProductVariant.price): '12.50'."""
    return f"{x:.2f}"


class Lazy:
    """A record field computed only when a query selects it (the resolver calls it)."""

    __slots__ = ("fn", "args")

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __call__(self) -> Any:
        return self.fn(*self.args)


def money_bag(amount: float, currency: str = "USD") -> dict[str, Any]:
    money = {"amount": decimal_str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def parse_gid(gid: Any) -> tuple[str, int] | None:
    if not isinstance(gid, str) or not gid.startswith("gid://shopify/"):
        return None
    parts = gid[len("gid://shopify/") :].split("/")
    if len(parts) != 2:
        return None
    num = parts[1].split("?")[0]
    if not num.isdigit():
        return None
    return parts[0], int(num)


class Table:
    """One seeded entity held as columns; rows are in id order (ids increase with the row index)."""

    def __init__(self, name: str, df: pd.DataFrame):
        self.name = name
        self.id_column, self.gid_type = _ENTITIES[name]
        df = df.replace({np.nan: None}) if len(df) else df
        self.cols: dict[str, list] = {c: df[c].tolist() for c in df.columns}
        for c in _LIST_COLUMNS & set(self.cols):
            self.cols[c] = [json.loads(v) if isinstance(v, str) else (v or []) for v in self.cols[c]]
        self.ids: list[str] = self.cols[self.id_column]
        self.index: dict[str, int] = {gid: i for i, gid in enumerate(self.ids)}
        self.nums: list[int] = [int(g.rsplit("/", 1)[1]) for g in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def _group(parent: Table, child_fk: list) -> list[list[int]]:
    groups: list[list[int]] = [[] for _ in range(len(parent))]
    for j, fk in enumerate(child_fk):
        i = parent.index.get(fk)
        if i is not None:
            groups[i].append(j)
    return groups


@dataclass
class Metafield:
    num: int
    owner_id: str
    namespace: str
    key: str
    type: str
    value: str
    created_at: str
    updated_at: str

    @property
    def gid(self) -> str:
        return f"gid://shopify/Metafield/{self.num}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.gid,
            "owner_id": self.owner_id,
            "namespace": self.namespace,
            "key": self.key,
            "type": self.type,
            "value": self.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class BulkOperationRecord:
    num: int
    type: str
    status: str
    query: str
    created_at: str
    completed_at: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    error_code: str | None = None
    file_name: str | None = None

    @property
    def gid(self) -> str:
        return f"gid://shopify/BulkOperation/{self.num}"


class Store:
    """Everything the emulated shop knows. Thread-safe for concurrent requests."""

    def __init__(
        self,
        state_dir: str | Path,
        seed: int = 42,
        size: str = "XS",
        days: int = 365,
        end: datetime | None = None,
        shop_name: str = "Storeloop Sandbox",
    ):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.bulk_dir = self.state_dir / "bulk"
        self.bulk_dir.mkdir(exist_ok=True)
        self.shop_name = shop_name
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.state_dir / DB_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("create table if not exists meta (key text primary key, value text)")
        meta = dict(self._db.execute("select key, value from meta").fetchall())
        if meta.get("seeded") != "1":
            self._seed(seed, size, days, end)
            meta = dict(self._db.execute("select key, value from meta").fetchall())
        elif (meta.get("seed"), meta.get("size")) != (str(seed), size):
            log.info(
                "state in %s was seeded with seed=%s size=%s: reusing it (not reseeding)",
                self.state_dir,
                meta.get("seed"),
                meta.get("size"),
            )
        self.meta = meta
        self._db.execute(
            "create table if not exists staged_uploads (key text primary key, filename text, mime_type text,"
            " created_at text, uploaded_at text, size integer)"
        )
        self._batch = threading.local()  # per-thread deferred metafield writes (bulk mutations)
        self._load()

    # ------------------------------------------------------------------------------------------------ persistence

    def _seed(self, seed: int, size: str, days: int, end: datetime | None) -> None:
        data = simulate_store(seed=seed, size=size, days=days, end=end)
        frames = {
            "products": data.products,
            "variants": data.variants,
            "customers": data.customers,
            "orders": data.orders,
            "line_items": data.line_items,
        }
        with self._lock:
            db = self._db
            db.execute("begin")
            try:
                for name, df in frames.items():
                    df = df.copy()
                    for c in _LIST_COLUMNS & set(df.columns):
                        df[c] = df[c].map(json.dumps)
                    _write_frame(db, name, df)
                db.execute("drop table if exists metafields")
                db.execute(
                    "create table metafields (num integer primary key, owner_id text not null, namespace text not null,"
                    " key text not null, type text not null, value text not null, created_at text not null,"
                    " updated_at text not null, unique (owner_id, namespace, key))"
                )
                db.execute("drop table if exists bulk_operations")
                db.execute(
                    "create table bulk_operations (num integer primary key, type text, status text, query text,"
                    " created_at text, completed_at text, object_count integer, root_object_count integer,"
                    " file_size integer, error_code text, file_name text)"
                )
                rows = {
                    "seed": str(seed),
                    "size": size,
                    "days": str(days),
                    "start": data.start.isoformat(),
                    "end": data.end.isoformat(),
                    "seeded_at": now_iso(),
                    "seeded": "1",
                }
                db.executemany("insert or replace into meta (key, value) values (?, ?)", rows.items())
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
        log.info("seeded %s store (seed=%s) into %s: %s", size, seed, self.state_dir, data.counts())

    def _load(self) -> None:
        db = self._db
        self.products = Table("products", pd.read_sql("select * from products order by rowid", db))
        self.variants = Table("variants", pd.read_sql("select * from variants order by rowid", db))
        self.customers = Table("customers", pd.read_sql("select * from customers order by rowid", db))
        self.orders = Table("orders", pd.read_sql("select * from orders order by rowid", db))
        self.line_items = Table("line_items", pd.read_sql("select * from line_items order by rowid", db))
        self.tables = {
            t.gid_type: t for t in (self.products, self.variants, self.customers, self.orders, self.line_items)
        }
        self.product_variants = _group(self.products, self.variants.cols["product_id"])
        self.order_lines = _group(self.orders, self.line_items.cols["order_id"])
        self.customer_orders = _group(self.customers, self.orders.cols["customer_id"])
        oc = self.orders.cols
        live = [c is None for c in oc["cancelled_at"]]
        self.customer_spent = [sum(oc["total_price"][j] for j in rows if live[j]) for rows in self.customer_orders]
        self.metafields: dict[tuple[str, str, str], Metafield] = {}
        self.metafields_by_owner: dict[str, list[tuple[str, str, str]]] = {}
        self.metafields_by_num: dict[int, tuple[str, str, str]] = {}
        for row in db.execute(
            "select num, owner_id, namespace, key, type, value, created_at, updated_at from metafields order by num"
        ):
            self._index_metafield(Metafield(*row))
        self._next_metafield_num = max(self.metafields_by_num, default=METAFIELD_ID_BASE) + 1
        self.bulk_operations: dict[int, BulkOperationRecord] = {}
        for row in db.execute(
            "select num, type, status, query, created_at, completed_at, object_count, root_object_count, file_size,"
            " error_code, file_name from bulk_operations order by num"
        ):
            op = BulkOperationRecord(*row)
            if op.status in BULK_ACTIVE:  # interrupted by a restart
                op.status, op.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
                self.save_bulk_operation(op)
            self.bulk_operations[op.num] = op

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------------------------------ evolving the store

    def store_data(self) -> StoreData:
        """The live store as the simulator's StoreData (tastes from the `customer_taste` table, or re-simulated from
        the seed the first time)."""
        db = self._db
        with self._lock:
            frames = {
                name: pd.read_sql(f"select * from {name} order by rowid", db)
                for name in ("products", "variants", "customers", "orders", "line_items")
            }
            has_taste = db.execute(
                "select 1 from sqlite_master where type = 'table' and name = 'customer_taste'"
            ).fetchone()
            taste = pd.read_sql("select * from customer_taste order by rowid", db) if has_taste else None
            meta = dict(db.execute("select key, value from meta").fetchall())
        for name in ("products", "customers"):
            frames[name]["tags"] = frames[name]["tags"].map(lambda v: json.loads(v) if isinstance(v, str) else [])
        frames["customers"]["verified_email"] = frames["customers"]["verified_email"].astype(bool)
        for name, df in frames.items():
            frames[name] = df.replace({np.nan: None}) if name in ("orders",) else df
        if taste is not None:
            taste["favourite_types"] = taste["favourite_types"].map(json.loads)
        else:
            original = simulate_store(
                seed=int(meta["seed"]),
                size=meta["size"],
                days=int(meta["days"]),
                end=datetime.fromisoformat(meta["end"]),
            )
            taste = original.customer_taste
        start = datetime.fromisoformat(meta["start"])
        end = datetime.fromisoformat(meta.get("current_end") or meta["end"])
        return StoreData(
            seed=int(meta["seed"]),
            size=meta["size"],
            start=start,
            end=end,
            companions=pd.DataFrame({"product_id": [], "companion_id": []}),
            customer_taste=taste,
            meta={"days": (end - start).days, "scenarios": json.loads(meta.get("scenarios") or "[]")},
            **frames,
        )

    def advance(self, days: int, scenario: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply a drift scenario (optional) and append `days` days of orders to the live store, persisted."""
        with self._lock:
            if any(op.status in BULK_ACTIVE for op in self.bulk_operations.values()):
                raise RuntimeError("a bulk operation is running: advance the store when it has finished")
            before = self.stats()
            data = self.store_data()
            n_scen = len(data.meta.get("scenarios", []))
            if scenario:
                data = apply_scenario(data, scenario, seed=n_scen, **(params or {}))
            data = advance(data, days, seed=len(data.orders))
            frames = {
                "products": data.products,
                "variants": data.variants,
                "customers": data.customers,
                "orders": data.orders,
                "line_items": data.line_items,
            }
            taste = data.customer_taste.copy()
            taste["favourite_types"] = taste["favourite_types"].map(json.dumps)
            db = self._db
            db.execute("begin")
            try:
                for name, df in frames.items():
                    df = df.copy()
                    for c in _LIST_COLUMNS & set(df.columns):
                        df[c] = df[c].map(json.dumps)
                    _write_frame(db, name, df)
                _write_frame(db, "customer_taste", taste)
                rows = {
                    "current_end": data.end.isoformat(),
                    "scenarios": json.dumps(data.meta.get("scenarios", [])),
                    "advanced_at": now_iso(),
                }
                db.executemany("insert or replace into meta (key, value) values (?, ?)", rows.items())
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise
            self.meta = dict(db.execute("select key, value from meta").fetchall())
            self._load()
            after = self.stats()
        return {
            "ok": True,
            "start": (data.end - timedelta(days=days)).isoformat(),
            "end": data.end.isoformat(),
            "scenario": scenario,
            "added": {k: after[k] - before[k] for k in ("products", "variants", "customers", "orders", "line_items")},
            "stats": after,
        }

    # -------------------------------------------------------------------------------------------------- counting

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "products": len(self.products),
                "variants": len(self.variants),
                "customers": len(self.customers),
                "orders": len(self.orders),
                "line_items": len(self.line_items),
                "metafields": len(self.metafields),
                "bulk_operations": len(self.bulk_operations),
            }

    # --------------------------------------------------------------------------------------------------- records

    def product(self, i: int) -> dict[str, Any]:
        c = self.products.cols
        variant_rows = self.product_variants[i]
        only_default = len(variant_rows) == 1 and self.variants.cols["title"][variant_rows[0]] == "Default Title"
        gid = c["product_id"][i]
        return {
            "__typename": "Product",
            "_row": i,
            "id": gid,
            "legacyResourceId": gid.rsplit("/", 1)[1],
            "handle": c["handle"][i],
            "title": c["title"][i],
            "productType": c["product_type"][i],
            "vendor": c["vendor"][i],
            "status": c["status"][i],
            "tags": c["tags"][i],
            "description": c["description"][i],
            "descriptionHtml": f"<p>{c['description'][i]}</p>",
            "createdAt": c["created_at"][i],
            "updatedAt": c["updated_at"][i],
            "publishedAt": c["published_at"][i],
            "hasOnlyDefaultVariant": only_default,
            "hasOutOfStockVariants": False,
            "isGiftCard": False,
            "totalInventory": 100 * len(variant_rows),
            "tracksInventory": True,
            "onlineStoreUrl": None,
            "onlineStorePreviewUrl": f"https://storeloop-sandbox.myshopify.com/products/{c['handle'][i]}",
            "templateSuffix": None,
            "requiresSellingPlan": False,
            "variantsCount": {"count": len(variant_rows), "precision": "EXACT"},
            "priceRangeV2": Lazy(_price_range, self.variants.cols["price"], variant_rows),
            "seo": {"title": None, "description": None},
        }

    def variant(self, j: int) -> dict[str, Any]:
        c = self.variants.cols
        gid = c["variant_id"][j]
        product_row = self.products.index[c["product_id"][j]]
        title = c["title"][j]
        product_title = self.products.cols["title"][product_row]
        return {
            "__typename": "ProductVariant",
            "_row": j,
            "_product_row": product_row,
            "id": gid,
            "legacyResourceId": gid.rsplit("/", 1)[1],
            "title": title,
            "sku": c["sku"][j],
            "price": money_str(c["price"][j]),
            "compareAtPrice": None,
            "position": int(c["position"][j]),
            "displayName": product_title if title == "Default Title" else f"{product_title} - {title}",
            "availableForSale": True,
            "inventoryQuantity": 100,
            "taxable": True,
            "barcode": None,
            "createdAt": c["created_at"][j],
            "updatedAt": c["updated_at"][j],
            "selectedOptions": [{"name": "Title", "value": title}],
        }

    def customer(self, i: int) -> dict[str, Any]:
        c = self.customers.cols
        gid = c["customer_id"][i]
        first, last = c["first_name"][i], c["last_name"][i]
        return {
            "__typename": "Customer",
            "_row": i,
            "id": gid,
            "legacyResourceId": gid.rsplit("/", 1)[1],
            "email": c["email"][i],
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            "state": c["state"][i],
            "tags": c["tags"][i],
            "verifiedEmail": bool(c["verified_email"][i]),
            "createdAt": c["created_at"][i],
            "updatedAt": c["updated_at"][i],
            "note": None,
            "phone": None,
            "taxExempt": False,
            "locale": "en",
            "canDelete": False,
            "dataSaleOptOut": False,
            "numberOfOrders": str(len(self.customer_orders[i])),
            "amountSpent": {"amount": decimal_str(self.customer_spent[i]), "currencyCode": "USD"},
            "defaultEmailAddress": {"emailAddress": c["email"][i], "marketingState": "NOT_SUBSCRIBED"},
            "defaultAddress": self._address(gid, self._customer_country(i)),
            "image": {"url": "https://cdn.shopify.com/s/images/avatar.png", "altText": None},
        }

    def order(self, i: int) -> dict[str, Any]:
        c = self.orders.cols
        gid = c["order_id"][i]
        total, subtotal = c["total_price"][i], c["subtotal_price"][i]
        status = c["financial_status"][i]
        cancelled = c["cancelled_at"][i]
        refunded = status == "REFUNDED"
        current = 0.0 if (refunded or cancelled) else total
        return {
            "__typename": "Order",
            "_row": i,
            "id": gid,
            "legacyResourceId": gid.rsplit("/", 1)[1],
            "name": c["name"][i],
            "email": c["email"][i],
            "createdAt": c["created_at"][i],
            "processedAt": c["processed_at"][i],
            "updatedAt": c["updated_at"][i],
            "cancelledAt": cancelled,
            "cancelReason": c["cancel_reason"][i],
            "closed": cancelled is None,
            "closedAt": None,
            "confirmed": True,
            "test": False,
            "tags": [],
            "note": None,
            "sourceName": "web",
            "displayFinancialStatus": status,
            "displayFulfillmentStatus": c["fulfillment_status"][i],
            "fullyPaid": status != "VOIDED",
            "unpaid": False,
            "currencyCode": c["currency_code"][i],
            "presentmentCurrencyCode": c["currency_code"][i],
            "totalPriceSet": Lazy(money_bag, total),
            "subtotalPriceSet": Lazy(money_bag, subtotal),
            "currentTotalPriceSet": Lazy(money_bag, current),
            "currentSubtotalPriceSet": Lazy(money_bag, current),
            "totalTaxSet": Lazy(money_bag, 0.0),
            "totalDiscountsSet": Lazy(money_bag, 0.0),
            "totalShippingPriceSet": Lazy(money_bag, 0.0),
            "totalRefundedSet": Lazy(money_bag, total if refunded else 0.0),
            "totalReceivedSet": Lazy(money_bag, 0.0 if status == "VOIDED" else total),
            "netPaymentSet": Lazy(money_bag, current),
            "subtotalLineItemsQuantity": sum(self.line_items.cols["quantity"][j] for j in self.order_lines[i]),
            "shippingAddress": self._address(gid, self._order_country(i)),
        }

    def _customer_country(self, i: int) -> str:
        countries = self.customers.cols.get("country_code")
        if countries and countries[i]:
            return countries[i]
        return country_codes([self.customers.ids[i]])[0]  # a store seeded before customers had a country

    def _order_country(self, i: int) -> str:
        row = self.customers.index.get(self.orders.cols["customer_id"][i])
        return self._customer_country(row) if row is not None else country_codes([self.orders.ids[i]])[0]

    @staticmethod
    def _address(owner_gid: str, country_code: str) -> dict[str, Any]:
        return {
            "__typename": "MailingAddress",
            "id": f"gid://shopify/MailingAddress/{owner_gid.rsplit('/', 1)[1]}",
            "countryCodeV2": country_code,
            "countryCode": country_code,
            "country": COUNTRY_NAMES.get(country_code, country_code),
            "city": None,
            "zip": None,
            "province": None,
            "provinceCode": None,
        }

    def line_item(self, j: int) -> dict[str, Any]:
        c = self.line_items.cols
        qty, price = int(c["quantity"][j]), c["unit_price"][j]
        order_row = self.orders.index[c["order_id"][j]]
        refunded = self.orders.cols["financial_status"][order_row] == "REFUNDED"
        return {
            "__typename": "LineItem",
            "_row": j,
            "id": c["line_item_id"][j],
            "title": c["title"][j],
            "name": c["name"][j],
            "sku": c["sku"][j],
            "variantTitle": (None if c["variant_title"][j] == "Default Title" else c["variant_title"][j]),
            "vendor": c["vendor"][j],
            "quantity": qty,
            "currentQuantity": 0 if refunded else qty,
            "refundableQuantity": 0 if refunded else qty,
            "unfulfilledQuantity": 0,
            "nonFulfillableQuantity": 0,
            "requiresShipping": True,
            "taxable": True,
            "isGiftCard": False,
            "merchantEditable": False,
            "originalUnitPriceSet": Lazy(money_bag, price),
            "discountedUnitPriceSet": Lazy(money_bag, price),
            "originalTotalSet": Lazy(money_bag, price * qty),
            "discountedTotalSet": Lazy(money_bag, price * qty),
            "totalDiscountSet": Lazy(money_bag, 0.0),
            "customAttributes": [],
            "taxLines": [],
            "discountAllocations": [],
        }

    BUILDERS = {
        "Product": "product",
        "ProductVariant": "variant",
        "Customer": "customer",
        "Order": "order",
        "LineItem": "line_item",
    }

    def record(self, gid_type: str, row: int) -> dict[str, Any]:
        return getattr(self, self.BUILDERS[gid_type])(row)

    def shop(self) -> dict[str, Any]:
        return {
            "__typename": "Shop",
            "id": SHOP_GID,
            "name": self.shop_name,
            "myshopifyDomain": "storeloop-sandbox.myshopify.com",
            "email": "owner@example.com",
            "contactEmail": "owner@example.com",
            "currencyCode": "USD",
            "ianaTimezone": "Etc/UTC",
            "timezoneAbbreviation": "UTC",
            "timezoneOffset": "+0000",
            "timezoneOffsetMinutes": 0,
            "weightUnit": "KILOGRAMS",
            "unitSystem": "METRIC_SYSTEM",
            "taxesIncluded": False,
            "taxShipping": False,
            "url": "https://storeloop-sandbox.myshopify.com",
            "description": "A synthetic store for Storeloop",
            "createdAt": self.meta.get("start", "2020-01-01T00:00:00+00:00").replace("+00:00", "Z"),
            "updatedAt": self.meta.get("seeded_at"),
            "setupRequired": False,
            "checkoutApiSupported": True,
            "transactionalSmsDisabled": True,
            "marketingSmsConsentEnabledAtCheckout": False,
            "enabledPresentmentCurrencies": ["USD"],
            "primaryDomain": {
                "__typename": "Domain",
                "id": "gid://shopify/Domain/1",
                "host": "storeloop-sandbox.myshopify.com",
                "url": "https://storeloop-sandbox.myshopify.com",
                "sslEnabled": True,
            },
            "plan": {"displayName": "Development", "partnerDevelopment": True, "shopifyPlus": False},
        }

    def node(self, gid: Any) -> dict[str, Any] | None:
        """Any object by GID (the emulator's `node(id:)`), or None."""
        parsed = parse_gid(gid)
        if parsed is None:
            return None
        kind, num = parsed
        if kind in self.tables:
            row = self.tables[kind].index.get(f"gid://shopify/{kind}/{num}")
            return None if row is None else self.record(kind, row)
        if kind == "Metafield":
            key = self.metafields_by_num.get(num)
            return None if key is None else self.metafield_record(self.metafields[key])
        if kind == "BulkOperation":
            op = self.bulk_operations.get(num)
            return None if op is None else {"__typename": "BulkOperation", "_op": op, "id": op.gid}
        if gid == SHOP_GID:
            return self.shop()
        return None

    def exists(self, gid: str) -> bool:
        parsed = parse_gid(gid)
        if parsed is None or parsed[0] not in self.tables:
            return False
        return gid in self.tables[parsed[0]].index

    # ------------------------------------------------------------------------------------------------ metafields

    def _index_metafield(self, mf: Metafield) -> None:
        key = (mf.owner_id, mf.namespace, mf.key)
        if key not in self.metafields:
            self.metafields_by_owner.setdefault(mf.owner_id, []).append(key)
        self.metafields[key] = mf
        self.metafields_by_num[mf.num] = key

    def metafield(self, owner_id: str, namespace: str, key: str) -> Metafield | None:
        return self.metafields.get((owner_id, namespace, key))

    def owner_metafields(
        self, owner_id: str, namespace: str | None = None, keys: Iterable[str] | None = None
    ) -> list[Metafield]:
        wanted = set(keys) if keys else None
        out = []
        for k in self.metafields_by_owner.get(owner_id, []):
            mf = self.metafields[k]
            if namespace is not None and mf.namespace != namespace:
                continue
            if wanted is not None and f"{mf.namespace}.{mf.key}" not in wanted:
                continue
            out.append(mf)
        return out

    def set_metafields(self, inputs: list[dict[str, str]]) -> list[Metafield]:
        """Create or update metafields atomically (inputs already validated). Inside `batched_writes()` the SQL is
        deferred to the end of the batch (the in-memory state changes at once)."""
        stamp = now_iso()
        with self._lock:
            written: list[Metafield] = []
            staged: dict[tuple[str, str, str], Metafield] = {}
            for inp in inputs:
                key = (inp["ownerId"], inp["namespace"], inp["key"])
                existing = staged.get(key) or self.metafields.get(key)
                if existing is not None:
                    mf = Metafield(existing.num, *key, inp["type"], inp["value"], existing.created_at, stamp)
                else:
                    mf = Metafield(self._next_metafield_num, *key, inp["type"], inp["value"], stamp, stamp)
                    self._next_metafield_num += 1
                staged[key] = mf
                written.append(mf)
            rows = [
                (m.num, m.owner_id, m.namespace, m.key, m.type, m.value, m.created_at, m.updated_at)
                for m in staged.values()
            ]
            pending = getattr(self._batch, "rows", None)
            if pending is not None:
                pending.extend(rows)
            else:
                self._write_metafield_rows(rows)
            for mf in staged.values():
                self._index_metafield(mf)
            return written

    def _write_metafield_rows(self, rows: list[tuple]) -> None:
        with self._lock:
            self._db.execute("begin")
            try:
                self._db.executemany(
                    "insert into metafields (num, owner_id, namespace, key, type, value, created_at, updated_at)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (owner_id, namespace, key) do update set"
                    " type = excluded.type, value = excluded.value, updated_at = excluded.updated_at",
                    rows,
                )
                self._db.execute("commit")
            except BaseException:
                self._db.execute("rollback")
                raise

    def begin_batch(self) -> None:
        """Defer this thread's metafield SQL writes until `flush_batch` (one transaction per batch)."""
        self._batch.rows = []

    def flush_batch(self, end: bool = False) -> None:
        rows = getattr(self._batch, "rows", None)
        if rows:
            self._write_metafield_rows(rows)
        self._batch.rows = None if end else []

    # ------------------------------------------------------------------------------------------- staged uploads

    def add_staged_upload(self, key: str, filename: str, mime_type: str) -> None:
        with self._lock:
            self._db.execute(
                "insert or replace into staged_uploads (key, filename, mime_type, created_at) values (?, ?, ?, ?)",
                (key, filename, mime_type, now_iso()),
            )

    def staged_upload(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "select key, filename, mime_type, created_at, uploaded_at, size from staged_uploads where key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return dict(zip(("key", "filename", "mime_type", "created_at", "uploaded_at", "size"), row, strict=True))

    def mark_staged_upload(self, key: str, size: int) -> None:
        with self._lock:
            self._db.execute(
                "update staged_uploads set uploaded_at = ?, size = ? where key = ?", (now_iso(), size, key)
            )

    def staged_path(self, key: str) -> Path:
        """Where the uploaded file of a staged key lives (inside the state directory)."""
        import hashlib

        return self.state_dir / "staged" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".jsonl")

    def all_metafields(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.metafields[k].as_dict() for k in sorted(self.metafields, key=lambda k: self.metafields[k].num)]

    def metafield_record(self, mf: Metafield) -> dict[str, Any]:
        owner_kind = (parse_gid(mf.owner_id) or ("", 0))[0]
        return {
            "__typename": "Metafield",
            "_mf": mf,
            "id": mf.gid,
            "legacyResourceId": str(mf.num),
            "namespace": mf.namespace,
            "key": mf.key,
            "type": mf.type,
            "value": mf.value,
            "createdAt": mf.created_at,
            "updatedAt": mf.updated_at,
            "description": None,
            "definition": None,
            "ownerType": {"ProductVariant": "PRODUCTVARIANT"}.get(owner_kind, owner_kind.upper()),
            "compareDigest": _digest(mf),
        }

    # ------------------------------------------------------------------------------------------- bulk operations

    def new_bulk_operation(self, query: str, type_: str = "QUERY") -> BulkOperationRecord:
        with self._lock:
            num = max(self.bulk_operations, default=BULK_ID_BASE) + 1
            op = BulkOperationRecord(num=num, type=type_, status="CREATED", query=query, created_at=now_iso())
            self.bulk_operations[num] = op
            self.save_bulk_operation(op)
            return op

    def save_bulk_operation(self, op: BulkOperationRecord) -> None:
        with self._lock:
            self._db.execute(
                "insert or replace into bulk_operations (num, type, status, query, created_at, completed_at,"
                " object_count, root_object_count, file_size, error_code, file_name)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    op.num,
                    op.type,
                    op.status,
                    op.query,
                    op.created_at,
                    op.completed_at,
                    op.object_count,
                    op.root_object_count,
                    op.file_size,
                    op.error_code,
                    op.file_name,
                ),
            )

    def current_bulk_operation(self, type_: str = "QUERY") -> BulkOperationRecord | None:
        with self._lock:
            ops = [op for op in self.bulk_operations.values() if op.type == type_]
            return max(ops, key=lambda op: op.num) if ops else None

    def bulk_file(self, num: int) -> Path | None:
        op = self.bulk_operations.get(num)
        if op is None or not op.file_name:
            return None
        path = self.bulk_dir / op.file_name
        return path if path.exists() else None


def _price_range(price_column: list[float], rows: list[int]) -> dict[str, Any]:
    prices = [price_column[j] for j in rows] or [0.0]
    return {
        "minVariantPrice": {"amount": decimal_str(min(prices)), "currencyCode": "USD"},
        "maxVariantPrice": {"amount": decimal_str(max(prices)), "currencyCode": "USD"},
    }


def _write_frame(db: sqlite3.Connection, name: str, df: pd.DataFrame) -> None:
    """(Re)create table `name` from a DataFrame inside the caller's transaction (pandas.to_sql would commit)."""

    def sql_type(dtype) -> str:
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            return "integer"
        if pd.api.types.is_float_dtype(dtype):
            return "real"
        return "text"

    cols = ", ".join(f'"{c}" {sql_type(t)}' for c, t in df.dtypes.items())
    db.execute(f"drop table if exists {name}")
    db.execute(f"create table {name} ({cols})")
    marks = ", ".join("?" for _ in df.columns)
    columns = [
        df[c].map(lambda v: int(v) if isinstance(v, (bool, np.bool_)) else v).tolist()
        if pd.api.types.is_bool_dtype(df[c].dtype)
        else df[c].tolist()
        for c in df.columns
    ]
    db.executemany(f"insert into {name} values ({marks})", zip(*columns, strict=True))


def _digest(mf: Metafield) -> str:
    import hashlib

    return hashlib.sha256(f"{mf.num}:{mf.type}:{mf.value}:{mf.updated_at}".encode()).hexdigest()
