"""The emulated shop as one object: the state file (`persistence`), the catalogue and its records (`records`),
metafields (`metafields`) and their definitions (`definitions`), bulk operations (`bulk.operations`) and staged
uploads (`uploads`), composed; plus what crosses them: looking any object up by GID, the counts, sandbox edits of a
product's status and stock (`update_product`), deleting a product (`delete_product`), and evolving the store
(`advance`).

Thread-safe for concurrent requests: every part shares the state file's one lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.store_simulator import advance, apply_scenario

from .bulk.operations import BulkOperationLog, bulk_operation_record
from .definitions import DefinitionStore, definition_record
from .metafields import MetafieldStore, metafield_record
from .persistence import CATALOGUE_TABLES, StateDatabase
from .records import SHOP_GID, Catalogue, Record, Table, shop_record
from .scalars import parse_gid
from .uploads import StagedUploads


class Store:
    """Everything the emulated shop knows, seeded once from the store simulator into `state_dir`."""

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
        bulk_dir = self.state_dir / "bulk"
        bulk_dir.mkdir(exist_ok=True)
        self.shop_name = shop_name
        self.db = StateDatabase(self.state_dir)
        self.db.ensure_seeded(seed, size, days, end)
        self.staged_uploads = StagedUploads(self.db, self.state_dir)
        self.catalogue = self._read_catalogue()
        self.metafields = MetafieldStore(self.db)
        self.definitions = DefinitionStore(self.db)
        self.bulk_operations = BulkOperationLog(self.db, bulk_dir)

    def _read_catalogue(self) -> Catalogue:
        return Catalogue({name: self.db.read_table(name) for name in CATALOGUE_TABLES})

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------------------------------------- lookups

    def shop(self) -> Record:
        return shop_record(self.shop_name, self.db.meta)

    def node(self, gid: Any) -> Record | None:
        """Any object by GID (the emulator's `node(id:)`), or None."""
        parsed = parse_gid(gid)
        if parsed is None:
            return None
        kind, num = parsed
        if kind in self.catalogue.tables:
            return self.catalogue.record_by_gid(gid)
        if kind == "Metafield":
            mf = self.metafields.by_num(num)
            return None if mf is None else metafield_record(mf)
        if kind == "MetafieldDefinition":
            d = self.definitions.by_num(num)
            return None if d is None else definition_record(d)
        if kind == "BulkOperation":
            op = self.bulk_operations.get(num)
            return None if op is None else bulk_operation_record(op)
        if gid == SHOP_GID:
            return self.shop()
        return None

    def stats(self) -> dict[str, int]:
        with self.db.lock:
            return {
                **self.catalogue.counts(),
                "metafields": len(self.metafields),
                "metafield_definitions": len(self.definitions),
                "bulk_operations": len(self.bulk_operations),
            }

    # ------------------------------------------------------------------------------------------------ sandbox edits

    def update_product(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Set a product's publish-relevant attributes, persisted (`POST /_sandbox/products`):

            {"id": "gid://shopify/Product/…", "status": "ACTIVE" | "ARCHIVED" | "DRAFT", "isGiftCard": bool,
             "publishedAt": ISO time | null (null: not on the Online Store), "inventoryQuantity": int,
             "inventoryPolicy": "DENY" | "CONTINUE", "tracked": bool,
             "variants": [{"id": "gid://shopify/ProductVariant/…", "inventoryQuantity": …, "inventoryPolicy": …,
                           "tracked": …}]}

        Every key but `id` is optional; the top-level stock keys apply to all the product's variants, `variants`
        entries to one each (a variant of this product). Raises ValueError on anything else."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        gid = changes.get("id")
        with self.db.lock:
            products = self.catalogue.products
            row = products.index.get(gid) if isinstance(gid, str) else None
            if row is None:
                raise ValueError(f"no product {gid!r}")
            unknown = set(changes) - {"id", "status", "isGiftCard", "publishedAt", "variants", *_STOCK_KEYS}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            product_changes: dict[str, Any] = {}
            if "status" in changes:
                if changes["status"] not in ("ACTIVE", "ARCHIVED", "DRAFT"):
                    raise ValueError("status must be ACTIVE, ARCHIVED or DRAFT")
                product_changes["status"] = changes["status"]
            if "isGiftCard" in changes:
                product_changes["is_gift_card"] = _boolean(changes["isGiftCard"], "isGiftCard")
            if "publishedAt" in changes:
                published = changes["publishedAt"]
                if published is not None and not isinstance(published, str):
                    raise ValueError("publishedAt must be an ISO 8601 time or null")
                product_changes["published_at"] = published
            own_variants = self.catalogue.product_variants[row]
            variant_changes: dict[int, dict[str, Any]] = {}
            everywhere = _stock_changes(changes)
            if everywhere:
                for j in own_variants:
                    variant_changes[j] = dict(everywhere)
            entries = changes.get("variants") or []
            if not isinstance(entries, list):
                raise ValueError("variants must be a list")
            for entry in entries:
                j = self.catalogue.variants.index.get(entry.get("id")) if isinstance(entry, dict) else None
                if j is None or j not in own_variants:
                    raise ValueError(f"{entry!r} is not a variant of {gid}")
                if set(entry) - {"id", *_STOCK_KEYS}:
                    raise ValueError(f"unknown keys {sorted(set(entry) - {'id', *_STOCK_KEYS})} in a variant")
                variant_changes.setdefault(j, {}).update(_stock_changes(entry))
            if product_changes:
                self.db.update_row("products", "product_id", gid, product_changes)
                _set_cols(products, row, product_changes)
            variants = self.catalogue.variants
            for j, vc in variant_changes.items():
                if vc:
                    self.db.update_row("variants", "variant_id", variants.ids[j], vc)
                    _set_cols(variants, j, vc)
            return self.catalogue.product(row)

    def delete_product(self, product: str) -> dict[str, Any]:
        """Delete a product as Shopify does, persisted (`DELETE /_sandbox/products/<numeric id or GID>`): the product,
        its variants and the metafields either owns are gone; no query returns them again. Orders keep their line
        items (title, SKU, price), whose `product` and `variant` are then null, as on Shopify. Metafields of other
        owners that reference the product keep their value.

        Raises ValueError (not a product id), LookupError (no such product: never was, or deleted already) or
        RuntimeError (a bulk operation is running: its results would mix the store before and after)."""
        gid = f"gid://shopify/Product/{product}" if isinstance(product, str) and product.isdigit() else product
        parsed = parse_gid(gid)
        if parsed is None or parsed[0] != "Product":
            raise ValueError(f"{product!r} is not a product id (a number, or gid://shopify/Product/<n>)")
        with self.db.lock:
            if self.bulk_operations.any_active():
                raise RuntimeError("a bulk operation is running: delete the product when it has finished")
            row = self.catalogue.products.index.get(gid)
            if row is None:
                raise LookupError(f"no product {gid!r}")
            variants = [self.catalogue.variants.ids[j] for j in self.catalogue.product_variants[row]]
            owners = [gid, *variants]
            metafields = sum(len(self.metafields.of_owner(owner)) for owner in owners)
            with self.db.transaction() as db:
                db.execute('delete from variants where "product_id" = ?', (gid,))
                db.execute('delete from products where "product_id" = ?', (gid,))
                db.executemany("delete from metafields where owner_id = ?", [(owner,) for owner in owners])
            self.catalogue = self._read_catalogue()
            self.metafields.load()
        return {"deleted": gid, "variants": variants, "metafields": metafields}

    # ------------------------------------------------------------------------------------------ evolving the store

    def advance(self, days: int, scenario: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Apply a drift scenario (optional) and append `days` days of orders to the live store, persisted."""
        with self.db.lock:
            if self.bulk_operations.any_active():
                raise RuntimeError("a bulk operation is running: advance the store when it has finished")
            before = self.stats()
            data = self.db.store_data()
            n_scen = len(data.meta.get("scenarios", []))
            if scenario:
                data = apply_scenario(data, scenario, seed=n_scen, **(params or {}))
            data = advance(data, days, seed=len(data.orders))
            self.db.write_evolved(data)
            self.catalogue = self._read_catalogue()
            self.metafields.load()
            self.bulk_operations.load()
            after = self.stats()
        return {
            "ok": True,
            "start": (data.end - timedelta(days=days)).isoformat(),
            "end": data.end.isoformat(),
            "scenario": scenario,
            "added": {k: after[k] - before[k] for k in CATALOGUE_TABLES},
            "stats": after,
        }


_STOCK_KEYS = {"inventoryQuantity", "inventoryPolicy", "tracked"}


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")
    return value


def _stock_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The variants-table columns of the stock keys in `changes`."""
    out: dict[str, Any] = {}
    if "inventoryQuantity" in changes:
        quantity = changes["inventoryQuantity"]
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise ValueError("inventoryQuantity must be an integer")
        out["inventory_quantity"] = quantity
    if "inventoryPolicy" in changes:
        if changes["inventoryPolicy"] not in ("DENY", "CONTINUE"):
            raise ValueError("inventoryPolicy must be DENY or CONTINUE")
        out["inventory_policy"] = changes["inventoryPolicy"]
    if "tracked" in changes:
        out["inventory_tracked"] = _boolean(changes["tracked"], "tracked")
    return out


def _set_cols(table: Table, row: int, changes: dict[str, Any]) -> None:
    """Apply changes to one row of an in-memory catalogue table (adding a column the store did not have)."""
    for column, value in changes.items():
        if column not in table.cols:
            table.cols[column] = [None] * len(table)
        table.cols[column][row] = value
