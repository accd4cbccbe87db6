"""Metafield definitions: what the shop declares per (owner type, namespace, key) — a name, a type, who may read the
metafields (Admin, Storefront, Customer Account API) — held in memory and written through to the state file, their
Admin API record, and the `metafieldDefinitionCreate` mutation.

Creating a definition never touches existing metafields: Shopify validates the unstructured metafields matching it
and adopts the valid ones; here every metafield of that owner type, namespace and key simply reports the definition
(`Metafield.definition`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from .metafields import APP_NAMESPACE, SUPPORTED_METAFIELD_TYPES, resolve_namespace
from .scalars import now_iso

if TYPE_CHECKING:
    from .persistence import StateDatabase
    from .store import Store

METAFIELD_DEFINITION_ID_BASE = 2_100_000_000
DEFINITIONS_PER_OWNER_TYPE = 256  # "You can only have 256 definitions per resource type."
PINNED_PER_OWNER_TYPE = 20
DefinitionKey = tuple[str, str, str]  # (owner type, namespace, key)

# MetafieldOwnerType → the GID type of the owners the emulator has
OWNER_KIND_OF_TYPE = {
    "PRODUCT": "Product",
    "PRODUCTVARIANT": "ProductVariant",
    "CUSTOMER": "Customer",
    "ORDER": "Order",
}


@dataclass
class MetafieldDefinition:
    num: int
    owner_type: str
    namespace: str
    key: str
    name: str
    description: str | None
    type: str
    admin_access: str
    storefront_access: str
    customer_account_access: str
    pinned_position: int | None
    validations: list[dict[str, str]] = field(default_factory=list)
    created_at: str = ""

    @property
    def gid(self) -> str:
        return f"gid://shopify/MetafieldDefinition/{self.num}"

    def row(self) -> tuple:
        return (
            self.num,
            self.owner_type,
            self.namespace,
            self.key,
            self.name,
            self.description,
            self.type,
            self.admin_access,
            self.storefront_access,
            self.customer_account_access,
            self.pinned_position,
            json.dumps(self.validations),
            self.created_at,
        )


_COLUMNS = (
    "num, owner_type, namespace, key, name, description, type, admin_access, storefront_access,"
    " customer_account_access, pinned_position, validations, created_at"
)


class DefinitionStore:
    """Every metafield definition of the shop, by (owner type, namespace, key) and by number. Thread-safe (the state
    file's lock)."""

    def __init__(self, db: StateDatabase):
        self._db = db
        self.load()

    def load(self) -> None:
        self._by_key: dict[DefinitionKey, MetafieldDefinition] = {}
        self._by_num: dict[int, MetafieldDefinition] = {}
        for row in self._db.connection.execute(f"select {_COLUMNS} from metafield_definitions order by num"):
            d = MetafieldDefinition(*row[:11], validations=json.loads(row[11] or "[]"), created_at=row[12])
            self._by_key[(d.owner_type, d.namespace, d.key)] = d
            self._by_num[d.num] = d
        self._next_num = max(self._by_num, default=METAFIELD_DEFINITION_ID_BASE) + 1

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, owner_type: str, namespace: str, key: str) -> MetafieldDefinition | None:
        return self._by_key.get((owner_type, namespace, key))

    def by_num(self, num: int) -> MetafieldDefinition | None:
        return self._by_num.get(num)

    def of_owner_type(self, owner_type: str) -> list[MetafieldDefinition]:
        """An owner type's definitions, oldest first."""
        with self._db.lock:
            return [d for d in self._by_num.values() if d.owner_type == owner_type]

    def create(self, **fields: Any) -> MetafieldDefinition:
        """Store a new definition (inputs already validated, the key not taken)."""
        with self._db.lock:
            d = MetafieldDefinition(num=self._next_num, created_at=now_iso(), **fields)
            with self._db.transaction() as db:
                db.execute(f"insert into metafield_definitions ({_COLUMNS}) values ({', '.join('?' * 13)})", d.row())
            self._next_num += 1
            self._by_key[(d.owner_type, d.namespace, d.key)] = d
            self._by_num[d.num] = d
            return d


# --------------------------------------------------------------------------------------------------------- record

_CATEGORIES = {
    "single_line_text_field": "TEXT",
    "multi_line_text_field": "TEXT",
    "json": "JSON",
    "number_integer": "NUMBER",
    "number_decimal": "NUMBER",
    "boolean": "TRUE_FALSE",
    "date": "DATE_TIME",
    "date_time": "DATE_TIME",
    "url": "URL",
    "color": "COLOR",
}


def _type_record(type_: str) -> dict[str, Any]:
    inner = type_.removeprefix("list.")
    if type_.startswith("list.") or type_ == "json":
        value_type = "JSON_STRING"
    else:
        value_type = {"number_integer": "INTEGER", "boolean": "BOOLEAN"}.get(inner, "STRING")
    return {
        "__typename": "MetafieldDefinitionType",
        "name": type_,
        "category": _CATEGORIES.get(inner, "REFERENCE" if inner.endswith("_reference") else "TEXT"),
        "valueType": value_type,
        "supportsDefinitionMigrations": True,
        "supportedValidations": [],
    }


def definition_record(d: MetafieldDefinition) -> dict[str, Any]:
    """The Admin API MetafieldDefinition object (`metafields` and `metafieldsCount` are resolved from the store)."""
    return {
        "__typename": "MetafieldDefinition",
        "_def": d,
        "id": d.gid,
        "name": d.name,
        "namespace": d.namespace,
        "key": d.key,
        "description": d.description,
        "ownerType": d.owner_type,
        "type": _type_record(d.type),
        "access": {
            "__typename": "MetafieldAccess",
            "admin": d.admin_access,
            "storefront": d.storefront_access,
            "customerAccount": d.customer_account_access,
            "grants": [],
        },
        "pinnedPosition": d.pinned_position,
        "validations": [
            {"__typename": "MetafieldDefinitionValidation", "name": v["name"], "value": v["value"], "type": "string"}
            for v in d.validations
        ],
        "validationStatus": "ALL_VALID",
        "useAsCollectionCondition": False,
        "standardTemplate": None,
        "constraints": None,
        "capabilities": {
            "__typename": "MetafieldCapabilities",
            "adminFilterable": {"eligible": True, "enabled": False, "status": "NOT_FILTERABLE"},
            "smartCollectionCondition": {"eligible": False, "enabled": False},
            "uniqueValues": {"eligible": False, "enabled": False},
        },
    }


# ----------------------------------------------------------------------------------------- metafieldDefinitionCreate

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def _error(field: list[str], message: str, code: str | None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code, "elementIndex": None}


def _owner_label(owner_type: str) -> str:
    return " ".join(part.capitalize() for part in owner_type.split("_") if part)


def _length_errors(what: str, value: str, low: int, high: int) -> list[dict[str, Any]]:
    label = what.capitalize()
    if len(value) < low:
        unit = "character" if low == 1 else "characters"
        return [_error(["definition", what], f"{label} is too short (minimum is {low} {unit})", "TOO_SHORT")]
    if len(value) > high:
        return [_error(["definition", what], f"{label} is too long (maximum is {high} characters)", "TOO_LONG")]
    return []


def metafield_definition_create(store: Store, _info: GraphQLResolveInfo, args: dict[str, Any]) -> dict[str, Any]:
    """`metafieldDefinitionCreate(definition: MetafieldDefinitionInput!)`. A definition already there for the same
    (ownerType, namespace, key) is refused with code TAKEN on `["definition", "key"]` ("Key is in use for Product
    metafields on the 'storeloop' namespace."), so callers can treat TAKEN as "already exists". `access` is kept
    (`storefront: PUBLIC_READ` lets themes read the metafields); `admin` only for the app's own namespaces, like
    Shopify. `validations` are stored as given; `capabilities` and `constraints` are not modelled."""
    inp: dict[str, Any] = args.get("definition") or {}
    owner_type = str(inp.get("ownerType"))
    namespace = resolve_namespace(inp.get("namespace"))
    key = inp.get("key") or ""
    name = inp.get("name") or ""
    description = inp.get("description")
    type_ = inp.get("type") or ""
    access = inp.get("access") or {}
    app_owned = namespace == APP_NAMESPACE or namespace.startswith(APP_NAMESPACE + "--")

    errors = _length_errors("namespace", namespace, 3, 255)
    if not errors and not _TOKEN.match(namespace):
        errors.append(
            _error(
                ["definition", "namespace"], "Namespace contains one or more invalid characters.", "INVALID_CHARACTER"
            )
        )
    key_errors = _length_errors("key", key, 2, 64)
    if not key_errors and not _TOKEN.match(key):
        key_errors.append(
            _error(["definition", "key"], "Key contains one or more invalid characters.", "INVALID_CHARACTER")
        )
    errors += key_errors
    errors += _length_errors("name", name, 1, 255)
    if description is not None and len(description) > 255:
        errors.append(
            _error(["definition", "description"], "Description is too long (maximum is 255 characters)", "TOO_LONG")
        )
    if type_ not in SUPPORTED_METAFIELD_TYPES:
        errors.append(
            _error(
                ["definition", "type"],
                f"Type name {type_} is not a valid type (supported by the Storeloop emulator: "
                f"{', '.join(sorted(SUPPORTED_METAFIELD_TYPES))}).",
                "INCLUSION",
            )
        )
    if access.get("admin") is not None and not app_owned:
        errors.append(
            _error(
                ["definition", "access", "admin"],
                "Admin access can only be specified for app-owned metafield definitions.",
                "ADMIN_ACCESS_INPUT_NOT_ALLOWED",
            )
        )
    if not errors:
        with store.db.lock:
            if store.definitions.get(owner_type, namespace, key) is not None:
                errors.append(
                    _error(
                        ["definition", "key"],
                        f"Key is in use for {_owner_label(owner_type)} metafields on the '{namespace}' namespace.",
                        "TAKEN",
                    )
                )
            elif len(store.definitions.of_owner_type(owner_type)) >= DEFINITIONS_PER_OWNER_TYPE:
                errors.append(
                    _error(
                        ["definition"],
                        f"You can only have {DEFINITIONS_PER_OWNER_TYPE} definitions per resource type.",
                        "RESOURCE_TYPE_LIMIT_EXCEEDED",
                    )
                )
            pinned = [d for d in store.definitions.of_owner_type(owner_type) if d.pinned_position is not None]
            if not errors and inp.get("pin") and len(pinned) >= PINNED_PER_OWNER_TYPE:
                errors.append(
                    _error(
                        ["definition"], f"Limit of {PINNED_PER_OWNER_TYPE} pinned definitions.", "PINNED_LIMIT_REACHED"
                    )
                )
            if not errors:
                created = store.definitions.create(
                    owner_type=owner_type,
                    namespace=namespace,
                    key=key,
                    name=name,
                    description=description,
                    type=type_,
                    admin_access=access.get("admin") or ("MERCHANT_READ_WRITE" if app_owned else "PUBLIC_READ_WRITE"),
                    storefront_access=access.get("storefront") or "NONE",
                    customer_account_access=access.get("customerAccount") or "NONE",
                    pinned_position=(max((d.pinned_position or 0 for d in pinned), default=0) + 1)
                    if inp.get("pin")
                    else None,
                    validations=[
                        {"name": v.get("name") or "", "value": v.get("value") or ""}
                        for v in inp.get("validations") or []
                    ],
                )
                return {"createdDefinition": definition_record(created), "userErrors": []}
    return {"createdDefinition": None, "userErrors": errors}
