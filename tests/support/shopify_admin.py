"""Admin API documents and builders for tests that publish to the Shopify emulator: deleting metafields, creating
and reading metafield definitions, reading the product fields that decide whether a product may be recommended, and
setting those fields through the emulator's sandbox endpoint.

The documents are the tests' own (the product's publishing code keeps its documents under include/); every one
validates against Shopify's Admin schema 2025-01, which the emulator enforces.
"""

from __future__ import annotations

import json
from typing import Any

import requests

METAFIELDS_SET = """
mutation MetafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key type value }
    userErrors { field message code }
  }
}"""

METAFIELDS_DELETE = """
mutation MetafieldsDelete($metafields: [MetafieldIdentifierInput!]!) {
  metafieldsDelete(metafields: $metafields) {
    deletedMetafields { ownerId namespace key }
    userErrors { field message }
  }
}"""

METAFIELD_DEFINITION_CREATE = """
mutation MetafieldDefinitionCreate($definition: MetafieldDefinitionInput!) {
  metafieldDefinitionCreate(definition: $definition) {
    createdDefinition { id name namespace key type { name } ownerType access { storefront } }
    userErrors { field message code }
  }
}"""

METAFIELD_DEFINITIONS = """
query MetafieldDefinitions($ownerType: MetafieldOwnerType!, $namespace: String, $key: String, $first: Int!) {
  metafieldDefinitions(ownerType: $ownerType, namespace: $namespace, key: $key, first: $first) {
    nodes { id namespace key type { name } access { storefront } }
    pageInfo { hasNextPage }
  }
}"""

PRODUCT_PUBLISH_FIELDS = """
query ProductPublishFields($id: ID!) {
  product(id: $id) {
    id
    status
    isGiftCard
    publishedAt
    onlineStoreUrl
    totalInventory
    tracksInventory
    variants(first: 10) {
      nodes { id inventoryQuantity inventoryPolicy availableForSale }
    }
  }
}"""

PRODUCTS_PUBLISH_FIELDS = """
query ProductsPublishFields($first: Int!) {
  products(first: $first) {
    nodes {
      id status isGiftCard publishedAt onlineStoreUrl totalInventory tracksInventory
      variants(first: 10) { nodes { id inventoryQuantity inventoryPolicy availableForSale } }
    }
  }
}"""


def metafield_input(owner_id: str, key: str, value: str, *, namespace: str = "storeloop",
                    type_: str = "single_line_text_field") -> dict[str, str]:
    """One MetafieldsSetInput."""
    return {"ownerId": owner_id, "namespace": namespace, "key": key, "type": type_, "value": value}


def identifier(owner_id: str, key: str, namespace: str = "storeloop") -> dict[str, str]:
    """One MetafieldIdentifierInput (also the shape of a MetafieldIdentifier in deletedMetafields)."""
    return {"ownerId": owner_id, "namespace": namespace, "key": key}


def definition_input(key: str, *, owner_type: str = "PRODUCT", namespace: str | None = "storeloop",
                     type_: str = "list.product_reference", name: str | None = None,
                     storefront: str | None = "PUBLIC_READ") -> dict[str, Any]:
    """One MetafieldDefinitionInput; `storefront=None` leaves access out, `namespace=None` leaves the namespace out
    (the app's reserved one)."""
    out: dict[str, Any] = {"name": key.replace("_", " ").capitalize() if name is None else name, "key": key,
                           "type": type_, "ownerType": owner_type}
    if namespace is not None:
        out["namespace"] = namespace
    if storefront is not None:
        out["access"] = {"storefront": storefront}
    return out


def set_product(base_url: str, product_id: str, **changes: Any) -> dict[str, Any]:
    """`POST /_sandbox/products`: set a product's status, isGiftCard, publishedAt or stock (see
    `sandbox.shopify_emulator.store.Store.update_product`); returns the emulator's summary of the product."""
    r = requests.post(f"{base_url}/_sandbox/products", json={"id": product_id, **changes}, timeout=10)
    r.raise_for_status()
    return r.json()


def delete_product(base_url: str, product_id: str) -> requests.Response:
    """`DELETE /_sandbox/products/<numeric id or GID>`: delete a product as Shopify does (its variants and their
    metafields too; see `sandbox.shopify_emulator.store.Store.delete_product`). Returns the response unchecked."""
    return requests.delete(f"{base_url}/_sandbox/products/{product_id}", timeout=30)


def shopify_connection(base_url: str, token: str) -> str:
    """AIRFLOW_CONN_SHOPIFY for the emulator at `base_url` (as start_emulator returns it)."""
    return json.dumps({"conn_type": "shopify", "host": base_url, "password": token,
                       "extra": {"api_version": "2025-01"}})
