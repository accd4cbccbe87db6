"""Metafields: what the shop keeps per owner (held in memory, written through to the state file, so they survive
restarts), their Admin API record, and the `metafieldsSet` and `metafieldsDelete` mutations, which validate their
inputs like Shopify before writing anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from .scalars import now_iso, parse_gid

if TYPE_CHECKING:
    from .persistence import StateDatabase
    from .store import Store

METAFIELD_ID_BASE = 30_000_000_000_000

MetafieldKey = tuple[str, str, str]  # (owner id, namespace, key)


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

    def row(self) -> tuple[int, str, str, str, str, str, str, str]:
        """The `metafields` table row."""
        return (
            self.num,
            self.owner_id,
            self.namespace,
            self.key,
            self.type,
            self.value,
            self.created_at,
            self.updated_at,
        )


class MetafieldStore:
    """Every metafield of the shop, indexed by (owner, namespace, key), by owner and by number. Thread-safe.

    Inside a batch (`begin_batch` … `flush_batch`, one per bulk mutation thread) the SQL writes are deferred to the
    flush, one transaction per batch; the in-memory state changes at once."""

    def __init__(self, db: StateDatabase):
        self._db = db
        self._batch = threading.local()  # per-thread deferred metafield writes (bulk mutations)
        self.load()

    def load(self) -> None:
        """(Re)read every metafield from the state file."""
        self._by_key: dict[MetafieldKey, Metafield] = {}
        self._by_owner: dict[str, list[MetafieldKey]] = {}
        self._by_num: dict[int, MetafieldKey] = {}
        for row in self._db.connection.execute(
            "select num, owner_id, namespace, key, type, value, created_at, updated_at from metafields order by num"
        ):
            self._index(Metafield(*row))
        self._next_num = max(self._by_num, default=METAFIELD_ID_BASE) + 1

    def __len__(self) -> int:
        return len(self._by_key)

    def _index(self, mf: Metafield) -> None:
        key = (mf.owner_id, mf.namespace, mf.key)
        if key not in self._by_key:
            self._by_owner.setdefault(mf.owner_id, []).append(key)
        self._by_key[key] = mf
        self._by_num[mf.num] = key

    def get(self, owner_id: str, namespace: str, key: str) -> Metafield | None:
        return self._by_key.get((owner_id, namespace, key))

    def by_num(self, num: int) -> Metafield | None:
        key = self._by_num.get(num)
        return None if key is None else self._by_key[key]

    def of_owner(
        self, owner_id: str, namespace: str | None = None, keys: Iterable[str] | None = None
    ) -> list[Metafield]:
        """An owner's metafields in creation order, optionally only one namespace or only `namespace.key`s."""
        wanted = set(keys) if keys else None
        out = []
        for k in self._by_owner.get(owner_id, []):
            mf = self._by_key[k]
            if namespace is not None and mf.namespace != namespace:
                continue
            if wanted is not None and f"{mf.namespace}.{mf.key}" not in wanted:
                continue
            out.append(mf)
        return out

    def all_as_dicts(self) -> list[dict[str, Any]]:
        """Every metafield as a plain dict, oldest first (`GET /_sandbox/metafields`)."""
        with self._db.lock:
            return [self._by_key[k].as_dict() for k in sorted(self._by_key, key=lambda k: self._by_key[k].num)]

    def set(self, inputs: list[dict[str, str]]) -> list[Metafield]:
        """Create or update metafields atomically (inputs already validated). Inside a batch the SQL is deferred to
        the flush (the in-memory state changes at once)."""
        stamp = now_iso()
        with self._db.lock:
            written: list[Metafield] = []
            staged: dict[MetafieldKey, Metafield] = {}
            for inp in inputs:
                key = (inp["ownerId"], inp["namespace"], inp["key"])
                existing = staged.get(key) or self._by_key.get(key)
                if existing is not None:
                    mf = Metafield(existing.num, *key, inp["type"], inp["value"], existing.created_at, stamp)
                else:
                    mf = Metafield(self._next_num, *key, inp["type"], inp["value"], stamp, stamp)
                    self._next_num += 1
                staged[key] = mf
                written.append(mf)
            rows = [m.row() for m in staged.values()]
            pending = getattr(self._batch, "rows", None)
            if pending is not None:
                pending.extend(rows)
            else:
                self._write_rows(rows)
            for mf in staged.values():
                self._index(mf)
            return written

    def delete(self, keys: list[MetafieldKey]) -> list[Metafield | None]:
        """Delete metafields by (owner, namespace, key) atomically; per key the deleted metafield, or None when there
        was none (a key repeated in `keys` is deleted once: None the second time). Always written through, even
        inside a batch (a deleted metafield's deferred row is then dropped at the flush)."""
        with self._db.lock:
            deleted: list[Metafield | None] = []
            gone: set[MetafieldKey] = set()
            for key in keys:
                mf = None if key in gone else self._by_key.get(key)
                deleted.append(mf)
                if mf is not None:
                    gone.add(key)
            if gone:
                with self._db.transaction() as db:
                    db.executemany("delete from metafields where owner_id = ? and namespace = ? and key = ?", gone)
                for key in gone:
                    mf = self._by_key.pop(key)
                    self._by_num.pop(mf.num, None)
                    owned = self._by_owner.get(key[0], [])
                    owned.remove(key)
                    if not owned:
                        self._by_owner.pop(key[0], None)
            return deleted

    def matching(self, owner_kind: str, namespace: str, key: str) -> list[Metafield]:
        """Every metafield with this namespace and key on owners of one GID type ("Product"...), oldest first."""
        prefix = f"gid://shopify/{owner_kind}/"
        with self._db.lock:
            found = [
                mf
                for (owner, ns, k), mf in self._by_key.items()
                if ns == namespace and k == key and owner.startswith(prefix)
            ]
        return sorted(found, key=lambda mf: mf.num)

    def _write_rows(self, rows: list[tuple]) -> None:
        with self._db.transaction() as db:
            db.executemany(
                "insert into metafields (num, owner_id, namespace, key, type, value, created_at, updated_at)"
                " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (owner_id, namespace, key) do update set"
                " type = excluded.type, value = excluded.value, updated_at = excluded.updated_at",
                rows,
            )

    def begin_batch(self) -> None:
        """Defer this thread's metafield SQL writes until `flush_batch` (one transaction per batch)."""
        self._batch.rows = []

    def flush_batch(self, end: bool = False) -> None:
        """Write this thread's deferred rows; `end=True` also ends the batch (writes go straight through again)."""
        rows = getattr(self._batch, "rows", None)
        if rows:
            with self._db.lock:  # a metafield deleted since its row was deferred stays deleted
                rows = [r for r in rows if r[0] in self._by_num]
                if rows:
                    self._write_rows(rows)
        self._batch.rows = None if end else []


OWNER_TYPE_OF_KIND = {
    "Product": "PRODUCT",
    "ProductVariant": "PRODUCTVARIANT",
    "Customer": "CUSTOMER",
    "Order": "ORDER",
}


def owner_type_of(owner_id: str) -> str:
    """The MetafieldOwnerType of an owner GID: PRODUCT, PRODUCTVARIANT, CUSTOMER, ORDER..."""
    owner_kind = (parse_gid(owner_id) or ("", 0))[0]
    return OWNER_TYPE_OF_KIND.get(owner_kind, owner_kind.upper())


def metafield_record(mf: Metafield) -> dict[str, Any]:
    """The Admin API Metafield object of a stored metafield (`definition` is resolved from the store)."""
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
        "ownerType": owner_type_of(mf.owner_id),
        "compareDigest": _digest(mf),
    }


def _digest(mf: Metafield) -> str:
    return hashlib.sha256(f"{mf.num}:{mf.type}:{mf.value}:{mf.updated_at}".encode()).hexdigest()


# ----------------------------------------------------------------------------------------- metafieldsSet validation

METAFIELDS_SET_LIMIT = 25
APP_NAMESPACE = "app--1"  # "$app" for the emulator's one app (api client id 1)
METAFIELD_OWNER_TYPES = {"Product", "ProductVariant", "Customer", "Order"}
_REFERENCE_TYPES = {
    "product_reference": "Product",
    "variant_reference": "ProductVariant",
    "customer_reference": "Customer",
    "order_reference": "Order",
}
SUPPORTED_METAFIELD_TYPES = {
    "single_line_text_field",
    "multi_line_text_field",
    "json",
    "number_integer",
    "number_decimal",
    "boolean",
    "date",
    "date_time",
    "url",
    "color",
    *_REFERENCE_TYPES,
}
SUPPORTED_METAFIELD_TYPES |= {
    f"list.{t}" for t in SUPPORTED_METAFIELD_TYPES - {"json", "multi_line_text_field", "boolean"}
}


def _user_error(
    field: list[str] | None, message: str, code: str | None, element_index: int | None = None
) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code, "elementIndex": element_index}


def resolve_namespace(namespace: str | None) -> str:
    """The stored namespace of an input one: none, `$app` and `$app:sub` are the app's reserved namespace."""
    if namespace is None:
        return APP_NAMESPACE  # Shopify puts namespace-less metafields in the app's reserved namespace
    if namespace == "$app":
        return APP_NAMESPACE
    if namespace.startswith("$app:"):
        return f"{APP_NAMESPACE}--{namespace[5:]}"
    return namespace


def owner_exists(store: Store, owner_id: str) -> bool:
    """A GID of a type that can own metafields here, naming an object the shop has."""
    parsed = parse_gid(owner_id)
    return parsed is not None and parsed[0] in METAFIELD_OWNER_TYPES and store.catalogue.exists(owner_id)


def _scalar_value_error(store: Store, type_: str, value: str) -> str | None:
    if type_ in ("number_integer",):
        return None if re.fullmatch(r"[+-]?\d+", value) else "Value must be an integer."
    if type_ == "number_decimal":
        return None if re.fullmatch(r"[+-]?\d+(\.\d+)?", value) else "Value must be a decimal."
    if type_ == "boolean":
        return None if value in ("true", "false") else "Value must be true or false."
    if type_ == "json":
        try:
            json.loads(value)
        except ValueError:
            return "Value is invalid JSON."
        return None
    if type_ == "single_line_text_field":
        if not value.strip():
            return "Value can't be blank."
        return "Value must be a single line text string." if ("\n" in value or "\r" in value) else None
    if type_ == "multi_line_text_field":
        return "Value can't be blank." if not value.strip() else None
    if type_ == "date":
        return None if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else "Value must be in YYYY-MM-DD format."
    if type_ == "date_time":
        return (
            None
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*", value)
            else "Value must be in YYYY-MM-DDTHH:MM:SS format."
        )
    if type_ == "url":
        return (
            None
            if re.match(r"^(https?://\S+|mailto:\S+|sms:\S+|tel:\S+)$", value, re.I)
            else "Value must be a valid URL."
        )
    if type_ == "color":
        return None if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else "Value must be a hex color code."
    if type_ in _REFERENCE_TYPES:
        parsed = parse_gid(value)
        if parsed is None or parsed[0] != _REFERENCE_TYPES[type_] or not store.catalogue.exists(value):
            return f"Value references non-existent resource {value}."
        return None
    return None


def _value_errors(store: Store, index: int, type_: str, value: str) -> list[dict[str, Any]]:
    field = ["metafields", str(index), "value"]
    if type_.startswith("list."):
        inner = type_[5:]
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if not isinstance(items, list):
            return [_user_error(field, "Value must be a JSON array.", "INVALID_VALUE")]
        if len(items) > 128:
            return [_user_error(field, "Value has more than 128 elements.", "INVALID_VALUE")]
        errors = []
        for k, item in enumerate(items):
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                msg = "Value is invalid."
            else:
                msg = _scalar_value_error(store, inner, str(item))
            if msg:
                errors.append(_user_error(field, msg, "INVALID_VALUE", None if inner in _REFERENCE_TYPES else k))
                if inner in _REFERENCE_TYPES:
                    break
        return errors
    msg = _scalar_value_error(store, type_, value)
    return [_user_error(field, msg, "INVALID_VALUE")] if msg else []


def metafields_set(store: Store, _info: GraphQLResolveInfo, args: dict[str, Any]) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = list(args.get("metafields") or [])
    if len(inputs) > METAFIELDS_SET_LIMIT:
        return {
            "metafields": None,
            "userErrors": [
                _user_error(
                    ["metafields"],
                    f"Exceeded the maximum metafields input limit of {METAFIELDS_SET_LIMIT}.",
                    "LESS_THAN_OR_EQUAL_TO",
                )
            ],
        }
    if not inputs:
        return {
            "metafields": [],
            "userErrors": [_user_error(["metafields"], "At least one metafield input is required.", "BLANK")],
        }
    errors: list[dict[str, Any]] = []
    resolved: list[dict[str, str]] = []
    for index, inp in enumerate(inputs):
        i = str(index)
        owner_id = inp.get("ownerId") or ""
        namespace = inp.get("namespace")
        key = inp.get("key") or ""
        value = inp.get("value")
        if not owner_exists(store, owner_id):
            errors.append(_user_error(["metafields", i, "ownerId"], "Owner does not exist.", "INVALID_VALUE"))
            continue
        namespace = resolve_namespace(namespace)
        if len(namespace) < 3:
            errors.append(
                _user_error(
                    ["metafields", i, "namespace"], "Namespace is too short (minimum is 3 characters)", "TOO_SHORT"
                )
            )
            continue
        if len(namespace) > 255:
            errors.append(
                _user_error(
                    ["metafields", i, "namespace"], "Namespace is too long (maximum is 255 characters)", "TOO_LONG"
                )
            )
            continue
        if len(key) < 2:
            errors.append(
                _user_error(["metafields", i, "key"], "Key is too short (minimum is 2 characters)", "TOO_SHORT")
            )
            continue
        if len(key) > 64:
            errors.append(
                _user_error(["metafields", i, "key"], "Key is too long (maximum is 64 characters)", "TOO_LONG")
            )
            continue
        type_ = inp.get("type")
        existing = store.metafields.get(owner_id, namespace, key)
        if not type_:
            if existing is None:
                errors.append(_user_error(["metafields", i, "type"], "Type can't be blank", "BLANK"))
                continue
            type_ = existing.type
        if type_ not in SUPPORTED_METAFIELD_TYPES:
            errors.append(
                _user_error(
                    ["metafields", i, "type"],
                    f"Type '{type_}' is not a supported metafield type (supported by the Storeloop emulator: "
                    f"{', '.join(sorted(SUPPORTED_METAFIELD_TYPES))}).",
                    "INVALID_TYPE",
                )
            )
            continue
        if value is None:
            errors.append(_user_error(["metafields", i, "value"], "Value is required.", "BLANK"))
            continue
        value_errors = _value_errors(store, index, type_, value)
        if value_errors:
            errors.extend(value_errors)
            continue
        resolved.append({"ownerId": owner_id, "namespace": namespace, "key": key, "type": type_, "value": value})
    if errors:
        return {"metafields": [], "userErrors": errors}
    written = store.metafields.set(resolved)
    return {"metafields": [metafield_record(mf) for mf in written], "userErrors": []}


# ------------------------------------------------------------------------------------------------ metafieldsDelete

METAFIELDS_DELETE_LIMIT = 25  # "delete up to 25 metafields at once" (shopify.dev changelog, 2024-04)


def metafields_delete(store: Store, _info: GraphQLResolveInfo, args: dict[str, Any]) -> dict[str, Any]:
    """`metafieldsDelete(metafields: [MetafieldIdentifierInput!]!)`: delete by (ownerId, namespace, key). An
    identifier that matches no metafield gets null in its slot of `deletedMetafields` and no error (Shopify's
    documented behaviour); an owner that is not a GID of a metafield owner, or does not exist, is a userError on
    `["metafields", i, "ownerId"]` and then nothing is deleted. `$app` namespaces resolve as in metafieldsSet, and
    the identifiers returned carry the resolved namespace. The payload's userErrors are `UserError`s (no code)."""
    inputs: list[dict[str, Any]] = list(args.get("metafields") or [])
    if len(inputs) > METAFIELDS_DELETE_LIMIT:
        return {
            "deletedMetafields": None,
            "userErrors": [
                {
                    "field": ["metafields"],
                    "message": f"Exceeded the maximum metafields input limit of {METAFIELDS_DELETE_LIMIT}.",
                }
            ],
        }
    if not inputs:
        return {
            "deletedMetafields": [],
            "userErrors": [{"field": ["metafields"], "message": "At least one metafield identifier is required."}],
        }
    errors: list[dict[str, Any]] = []
    keys: list[MetafieldKey] = []
    for index, inp in enumerate(inputs):
        owner_id = inp.get("ownerId") or ""
        if not owner_exists(store, owner_id):
            errors.append({"field": ["metafields", str(index), "ownerId"], "message": "Owner does not exist."})
            continue
        keys.append((owner_id, resolve_namespace(inp.get("namespace")), inp.get("key") or ""))
    if errors:
        return {"deletedMetafields": [], "userErrors": errors}
    deleted = store.metafields.delete(keys)
    return {
        "deletedMetafields": [
            None if mf is None else {"ownerId": k[0], "namespace": k[1], "key": k[2]}
            for k, mf in zip(keys, deleted, strict=True)
        ],
        "userErrors": [],
    }
