"""The mutation handlers the emulator implements, by mutation name. Each takes (store, info, args) and returns the
payload dict; `ShopifyEmulator` adds the bulk operation mutations (`bulkOperationRunQuery`,
`bulkOperationRunMutation`, `bulkOperationCancel`), which need its `BulkRunner`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from .definitions import metafield_definition_create
from .metafields import metafields_delete, metafields_set
from .store import Store
from .uploads import staged_uploads_create

MUTATIONS: dict[str, Callable[[Store, GraphQLResolveInfo, dict[str, Any]], dict[str, Any]]] = {
    "metafieldsSet": metafields_set,
    "metafieldsDelete": metafields_delete,
    "metafieldDefinitionCreate": metafield_definition_create,
    "stagedUploadsCreate": staged_uploads_create,
}
