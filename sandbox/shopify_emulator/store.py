"""The emulated shop as one object: the state file (`persistence`), the catalogue and its records (`records`),
metafields (`metafields`), bulk operations (`bulk.operations`) and staged uploads (`uploads`), composed; plus what
crosses them: looking any object up by GID, the counts, and evolving the store (`advance`).

Thread-safe for concurrent requests: every part shares the state file's one lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.store_simulator import advance, apply_scenario

from .bulk.operations import BulkOperationLog, bulk_operation_record
from .metafields import MetafieldStore, metafield_record
from .persistence import CATALOGUE_TABLES, StateDatabase
from .records import SHOP_GID, Catalogue, Record, shop_record
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
                "bulk_operations": len(self.bulk_operations),
            }

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
