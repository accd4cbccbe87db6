"""Metafield administration beside the writes of `bulk_mutation.write_metafields`: deleting metafields, creating
their definitions idempotently, and reading values back.

- `delete_metafields`: `metafieldsDelete` in calls of at most 25 identifiers. A call with a bad owner (a product
  deleted in Shopify) deletes nothing and names the owner in `userErrors`: the bad owners are reported and the rest of
  the call is sent again without them, so one bad owner never blocks the others.
- `ensure_metafield_definition`: `metafieldDefinitionCreate`; `TAKEN` (it exists already) counts as done.
- `read_metafield_values`: `nodes(ids:)` with the owner's `metafield(namespace:, key:)`, 100 owners a call.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.documents import load_document
from storeloop.shopify.errors import ShopifyUserError

log = logging.getLogger(__name__)

METAFIELDS_DELETE_LIMIT = 25  # identifiers per metafieldsDelete call
READ_BATCH = 100  # owners per nodes() read (Shopify allows 250; 100 keeps a call's cost well under the bucket)


@dataclass(frozen=True)
class OwnerError:
    owner_id: str
    message: str
    code: str | None = None


@dataclass
class DeleteReport:
    deleted: list[str] = field(default_factory=list)  # owners whose metafield is gone (deleted now, or was absent)
    failed: list[OwnerError] = field(default_factory=list)
    requests: int = 0


def _owner_index(user_error: dict) -> int | None:
    path = user_error.get("field") or []
    return int(path[1]) if len(path) >= 2 and str(path[1]).isdigit() else None


def delete_metafields(client: ShopifyClient, owner_ids: Sequence[str], namespace: str, key: str) -> DeleteReport:
    """Delete `namespace.key` on every owner. Owners Shopify refuses (e.g. deleted ones) are in `failed`."""
    report = DeleteReport()
    document = load_document("metafields_delete")
    sent_before = client.requests_sent
    for start in range(0, len(owner_ids), METAFIELDS_DELETE_LIMIT):
        pending = list(owner_ids[start:start + METAFIELDS_DELETE_LIMIT])
        while pending:
            payload = client.execute(document, {"metafields": [
                {"ownerId": owner, "namespace": namespace, "key": key} for owner in pending]})["metafieldsDelete"]
            errors = payload.get("userErrors") or []
            if not errors:
                report.deleted.extend(pending)
                break
            bad = {i for e in errors if (i := _owner_index(e)) is not None and i < len(pending)}
            if not bad:  # an error that names no owner: nothing to leave out, report the whole call
                message = "; ".join(e.get("message") or "" for e in errors)
                report.failed.extend(OwnerError(owner, message) for owner in pending)
                break
            for e in errors:
                i = _owner_index(e)
                if i is not None and i < len(pending):
                    report.failed.append(OwnerError(pending[i], e.get("message") or "", e.get("code")))
            pending = [owner for i, owner in enumerate(pending) if i not in bad]
    report.requests = client.requests_sent - sent_before
    return report


def ensure_metafield_definition(client: ShopifyClient, *, owner_type: str, namespace: str, key: str, name: str,
                                type_: str, description: str, storefront: str = "PUBLIC_READ") -> str:
    """Create the definition unless it exists; returns "created" or "exists". Other user errors raise."""
    definition = {"ownerType": owner_type, "namespace": namespace, "key": key, "name": name, "type": type_,
                  "description": description, "access": {"storefront": storefront}}
    payload = client.execute(load_document("metafield_definition_create"),
                             {"definition": definition})["metafieldDefinitionCreate"]
    errors = payload.get("userErrors") or []
    if not errors:
        return "created"
    if all(e.get("code") == "TAKEN" for e in errors):
        return "exists"
    raise ShopifyUserError(
        f"Shopify refused the metafield definition {owner_type} {namespace}.{key}: "
        + "; ".join(f"{e.get('message')} [{e.get('code')}]" for e in errors)
        + " — check that the app has the write_products / write_customers scopes", errors)


def read_metafield_values(client: ShopifyClient, owner_ids: Sequence[str], namespace: str,
                          key: str) -> dict[str, str | None]:
    """owner id → the metafield's value (None when the owner has none, or is gone)."""
    values: dict[str, str | None] = {}
    document = load_document("metafields_read")
    for start in range(0, len(owner_ids), READ_BATCH):
        ids = list(owner_ids[start:start + READ_BATCH])
        nodes = client.execute(document, {"ids": ids, "namespace": namespace, "key": key})["nodes"]
        for owner, node in zip(ids, nodes, strict=True):
            metafield = (node or {}).get("metafield")
            values[owner] = metafield.get("value") if metafield else None
    return values
