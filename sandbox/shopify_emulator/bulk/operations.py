"""The shop's bulk operations: their records (held in memory, written through to the state file, so they survive
restarts), which one is current per type, and where a finished one's result file is.

An operation a restart interrupted (CREATED, RUNNING or CANCELING when the state was loaded) is loaded as FAILED.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scalars import now_iso

if TYPE_CHECKING:
    from ..persistence import StateDatabase

BULK_ID_BASE = 4_400_000_000_000
BULK_ACTIVE = ("CREATED", "RUNNING", "CANCELING")


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


def bulk_operation_record(op: BulkOperationRecord) -> dict[str, Any]:
    """The Admin API BulkOperation object (its fields are resolved from `_op`)."""
    return {"__typename": "BulkOperation", "_op": op, "id": op.gid}


class BulkOperationLog:
    """Every bulk operation of the shop by number. Thread-safe (under the state file's lock)."""

    def __init__(self, db: StateDatabase, bulk_dir: Path):
        self._db = db
        self.bulk_dir = bulk_dir  # where result files are kept
        self.load()

    def load(self) -> None:
        """(Re)read every operation from the state file; ones a restart interrupted end FAILED."""
        self._by_num: dict[int, BulkOperationRecord] = {}
        for row in self._db.connection.execute(
            "select num, type, status, query, created_at, completed_at, object_count, root_object_count, file_size,"
            " error_code, file_name from bulk_operations order by num"
        ):
            op = BulkOperationRecord(*row)
            if op.status in BULK_ACTIVE:  # interrupted by a restart
                op.status, op.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
                self.save(op)
            self._by_num[op.num] = op

    def __len__(self) -> int:
        return len(self._by_num)

    def get(self, num: int) -> BulkOperationRecord | None:
        return self._by_num.get(num)

    def any_active(self) -> bool:
        return any(op.status in BULK_ACTIVE for op in self._by_num.values())

    def new(self, query: str, type_: str = "QUERY") -> BulkOperationRecord:
        """A new CREATED operation of `type_` ("QUERY" or "MUTATION") running `query`, saved."""
        with self._db.lock:
            num = max(self._by_num, default=BULK_ID_BASE) + 1
            op = BulkOperationRecord(num=num, type=type_, status="CREATED", query=query, created_at=now_iso())
            self._by_num[num] = op
            self.save(op)
            return op

    def save(self, op: BulkOperationRecord) -> None:
        with self._db.lock:
            self._db.connection.execute(
                "insert or replace into bulk_operations (num, type, status, query, created_at, completed_at,"
                " object_count, root_object_count, file_size, error_code, file_name)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                astuple(op),
            )

    def current(self, type_: str = "QUERY") -> BulkOperationRecord | None:
        """The latest operation of `type_`, or None."""
        with self._db.lock:
            ops = [op for op in self._by_num.values() if op.type == type_]
            return max(ops, key=lambda op: op.num) if ops else None

    def result_file(self, num: int) -> Path | None:
        """The JSONL result (or partial data) file of operation `num`, if it has one."""
        op = self._by_num.get(num)
        if op is None or not op.file_name:
            return None
        path = self.bulk_dir / op.file_name
        return path if path.exists() else None
