"""Shaping the seeded rows into Admin API records: the catalogue (products, variants, customers, orders and line
items) held in memory as columns, and the Shopify-shaped records (dicts keyed by GraphQL field names) built from one
row on demand, plus the Shop record.

A big store costs a few lists, not a dict per object. A `Lazy` field (money bags, price ranges) is computed only when
a query selects it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from sandbox.store_simulator import COUNTRY_NAMES, country_codes

from .persistence import LIST_COLUMNS
from .scalars import decimal_str, money_str, parse_gid

SHOP_GID = "gid://shopify/Shop/1"
SHOP_URL = "https://storeloop-sandbox.myshopify.com"
DEFAULT_INVENTORY = 100  # a variant's stock when the store does not say (a state file seeded before stock existed)

ENTITY_TABLES = {
    # table → (id column, GID type)
    "products": ("product_id", "Product"),
    "variants": ("variant_id", "ProductVariant"),
    "customers": ("customer_id", "Customer"),
    "orders": ("order_id", "Order"),
    "line_items": ("line_item_id", "LineItem"),
}

Record = dict[str, Any]


class Lazy:
    """A record field computed only when a query selects it (the resolver calls it)."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self.fn, self.args = fn, args

    def __call__(self) -> Any:
        return self.fn(*self.args)


def money_bag(amount: float, currency: str = "USD") -> Record:
    """A MoneyBag: the same MoneyV2 in shop and presentment currency."""
    money = {"amount": decimal_str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


class Table:
    """One seeded entity held as columns; rows are in id order (ids increase with the row index)."""

    def __init__(self, name: str, df: pd.DataFrame):
        self.name = name
        self.id_column, self.gid_type = ENTITY_TABLES[name]
        df = df.replace({np.nan: None}) if len(df) else df
        self.cols: dict[str, list] = {c: df[c].tolist() for c in df.columns}
        for c in LIST_COLUMNS & set(self.cols):
            self.cols[c] = [json.loads(v) if isinstance(v, str) else (v or []) for v in self.cols[c]]
        self.ids: list[str] = self.cols[self.id_column]
        self.index: dict[str, int] = {gid: i for i, gid in enumerate(self.ids)}
        self.nums: list[int] = [int(g.rsplit("/", 1)[1]) for g in self.ids]

    def __len__(self) -> int:
        return len(self.ids)


def group_rows(parent: Table, child_fk: list) -> list[list[int]]:
    """For each parent row, the child rows whose foreign key names it."""
    groups: list[list[int]] = [[] for _ in range(len(parent))]
    for j, fk in enumerate(child_fk):
        i = parent.index.get(fk)
        if i is not None:
            groups[i].append(j)
    return groups


class Catalogue:
    """The seeded entities as columns, how they nest, and the Admin API record of any row."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]):
        self.products = Table("products", frames["products"])
        self.variants = Table("variants", frames["variants"])
        self.customers = Table("customers", frames["customers"])
        self.orders = Table("orders", frames["orders"])
        self.line_items = Table("line_items", frames["line_items"])
        self.tables = {
            t.gid_type: t for t in (self.products, self.variants, self.customers, self.orders, self.line_items)
        }
        self.product_variants = group_rows(self.products, self.variants.cols["product_id"])
        self.order_lines = group_rows(self.orders, self.line_items.cols["order_id"])
        self.customer_orders = group_rows(self.customers, self.orders.cols["customer_id"])
        oc = self.orders.cols
        live = [c is None for c in oc["cancelled_at"]]
        self.customer_spent = [sum(oc["total_price"][j] for j in rows if live[j]) for rows in self.customer_orders]
        self._handle_index: dict[str, int] | None = None  # handle -> product row, built by product_row_by_handle
        self._builders: dict[str, Callable[[int], Record]] = {
            "Product": self.product,
            "ProductVariant": self.variant,
            "Customer": self.customer,
            "Order": self.order,
            "LineItem": self.line_item,
        }

    def counts(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "variants": len(self.variants),
            "customers": len(self.customers),
            "orders": len(self.orders),
            "line_items": len(self.line_items),
        }

    def record(self, gid_type: str, row: int) -> Record:
        return self._builders[gid_type](row)

    def record_by_gid(self, gid: str) -> Record | None:
        """The record of a catalogue GID, or None (not a catalogue type, or no such row)."""
        parsed = parse_gid(gid)
        if parsed is None or parsed[0] not in self.tables:
            return None
        kind, num = parsed
        row = self.tables[kind].index.get(f"gid://shopify/{kind}/{num}")
        return None if row is None else self.record(kind, row)

    def product_row_by_handle(self, handle: str) -> int | None:
        """The row of the product with this handle (Shopify's handles are unique per shop), or None. The index is
        built on first use; a catalogue is rebuilt whole when the store changes, so it never goes stale."""
        index = self._handle_index
        if index is None:
            index = {}
            for i, h in enumerate(self.products.cols["handle"]):
                if h is not None:
                    index.setdefault(h, i)
            self._handle_index = index
        return index.get(handle)

    def exists(self, gid: str) -> bool:
        parsed = parse_gid(gid)
        if parsed is None or parsed[0] not in self.tables:
            return False
        return gid in self.tables[parsed[0]].index

    # ------------------------------------------------------------------------------- stock and publication

    def _col(self, table: Table, column: str, row: int, default: Any) -> Any:
        """A column's value, or `default` when the store has no such column (seeded before it existed) or no
        value in it."""
        values = table.cols.get(column)
        value = None if values is None else values[row]
        return default if value is None else value

    def variant_stock(self, j: int) -> tuple[int, str, bool]:
        """(inventoryQuantity, inventoryPolicy, tracked) of a variant row; in stock (100, DENY, tracked) when the
        store does not say."""
        v = self.variants
        return (
            int(self._col(v, "inventory_quantity", j, DEFAULT_INVENTORY)),
            str(self._col(v, "inventory_policy", j, "DENY")),
            bool(self._col(v, "inventory_tracked", j, True)),
        )

    def _variant_stock_field(self, j: int, k: int) -> Any:
        """inventoryQuantity (0), inventoryPolicy (1), tracked (2), sellableOnlineQuantity (3)."""
        stock = self.variant_stock(j)
        return max(stock[0], 0) if k == 3 else stock[k]

    def variant_available(self, j: int) -> bool:
        """ProductVariant.availableForSale: untracked, sold when out of stock (CONTINUE), or in stock."""
        quantity, policy, tracked = self.variant_stock(j)
        return not tracked or policy == "CONTINUE" or quantity > 0

    def product_published(self, i: int) -> bool:
        """Published to the Online Store (the emulator's one sales channel): a publishedAt."""
        return self.products.cols["published_at"][i] is not None

    def _product_stock(self, i: int, what: str) -> Any:
        stock = [self.variant_stock(j) for j in self.product_variants[i]]
        if what == "totalInventory":
            return sum(q for q, _p, tracked in stock if tracked)
        if what == "tracksInventory":
            return any(tracked for _q, _p, tracked in stock)
        return any(tracked and q <= 0 for q, _p, tracked in stock)  # hasOutOfStockVariants

    def product(self, i: int) -> Record:
        c = self.products.cols
        variant_rows = self.product_variants[i]
        only_default = len(variant_rows) == 1 and self.variants.cols["title"][variant_rows[0]] == "Default Title"
        gid = c["product_id"][i]
        status = c["status"][i] or "ACTIVE"
        published = self.product_published(i)
        online = status == "ACTIVE" and published
        return {
            "__typename": "Product",
            "_row": i,
            "id": gid,
            "legacyResourceId": gid.rsplit("/", 1)[1],
            "handle": c["handle"][i],
            "title": c["title"][i],
            "productType": c["product_type"][i],
            "vendor": c["vendor"][i],
            "status": status,
            "tags": c["tags"][i],
            "description": c["description"][i],
            "descriptionHtml": f"<p>{c['description'][i]}</p>",
            "createdAt": c["created_at"][i],
            "updatedAt": c["updated_at"][i],
            "publishedAt": c["published_at"][i],
            "hasOnlyDefaultVariant": only_default,
            "hasOutOfStockVariants": Lazy(self._product_stock, i, "hasOutOfStockVariants"),
            "isGiftCard": bool(self._col(self.products, "is_gift_card", i, False)),
            "totalInventory": Lazy(self._product_stock, i, "totalInventory"),
            "tracksInventory": Lazy(self._product_stock, i, "tracksInventory"),
            # Shopify: null when the product is not on the Online Store (a draft or archived product is not)
            "onlineStoreUrl": f"{SHOP_URL}/products/{c['handle'][i]}" if online else None,
            "onlineStorePreviewUrl": f"{SHOP_URL}/products/{c['handle'][i]}",
            "publishedOnCurrentPublication": published,
            "resourcePublicationsCount": {"count": int(published), "precision": "EXACT"},
            "availablePublicationsCount": {"count": 1, "precision": "EXACT"},
            "templateSuffix": None,
            "requiresSellingPlan": False,
            "variantsCount": {"count": len(variant_rows), "precision": "EXACT"},
            "priceRangeV2": Lazy(_price_range, self.variants.cols["price"], variant_rows),
            "seo": {"title": None, "description": None},
        }

    def variant(self, j: int) -> Record:
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
            "availableForSale": Lazy(self.variant_available, j),
            "inventoryQuantity": Lazy(self._variant_stock_field, j, 0),
            "inventoryPolicy": Lazy(self._variant_stock_field, j, 1),
            "sellableOnlineQuantity": Lazy(self._variant_stock_field, j, 3),
            "inventoryItem": Lazy(self._inventory_item, j),
            "taxable": True,
            "barcode": None,
            "createdAt": c["created_at"][j],
            "updatedAt": c["updated_at"][j],
            "selectedOptions": [{"name": "Title", "value": title}],
        }

    def _inventory_item(self, j: int) -> Record:
        return {
            "__typename": "InventoryItem",
            "id": f"gid://shopify/InventoryItem/{self.variants.nums[j]}",
            "sku": self.variants.cols["sku"][j],
            "tracked": self.variant_stock(j)[2],
            "requiresShipping": True,
        }

    def customer(self, i: int) -> Record:
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

    def order(self, i: int) -> Record:
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
    def _address(owner_gid: str, country_code: str) -> Record:
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

    def line_item(self, j: int) -> Record:
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


def shop_record(shop_name: str, meta: Mapping[str, str]) -> Record:
    """The Shop object; `meta` is the state file's meta table (when the store starts, when it was seeded)."""
    return {
        "__typename": "Shop",
        "id": SHOP_GID,
        "name": shop_name,
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
        "createdAt": meta.get("start", "2020-01-01T00:00:00+00:00").replace("+00:00", "Z"),
        "updatedAt": meta.get("seeded_at"),
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


def _price_range(price_column: list[float], rows: list[int]) -> Record:
    prices = [price_column[j] for j in rows] or [0.0]
    return {
        "minVariantPrice": {"amount": decimal_str(min(prices)), "currencyCode": "USD"},
        "maxVariantPrice": {"amount": decimal_str(max(prices)), "currencyCode": "USD"},
    }
