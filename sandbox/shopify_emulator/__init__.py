"""A local stand-in for Shopify's Admin GraphQL API that speaks the real protocol.

Run it: `python -m sandbox.shopify_emulator --host 127.0.0.1 --port 8010 --state-dir .local/shopify --token TOKEN
--seed 42 --size S`, or in-process with `start_emulator(state_dir, token, seed, size, port=0)`.

- `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`: every document is parsed and validated
  against Shopify's real Admin schema (2025-01 introspection), executed by graphql-core over a synthetic store
  (`sandbox.store_simulator`), charged by Shopify's query-cost rules against a leaky bucket (THROTTLED when empty).
- Supported: products / customers / orders connections (cursor pagination, a subset of the `query:` search syntax,
  `sortKey`, `reverse`), nested `variants` / `lineItems` / `orders`, `product` / `customer` / `order` /
  `productVariant` / `node` / `nodes` by id, `productByIdentifier` (by handle or id), `shop`,
  `currentBulkOperation`, metafields on products, variants, customers and orders, `metafieldDefinitions` /
  `metafieldDefinition`, products' status, publication and stock
  (`status`, `isGiftCard`, `publishedAt`, `onlineStoreUrl`, `totalInventory`, `tracksInventory`, and per variant
  `inventoryQuantity`, `inventoryPolicy`, `availableForSale`), and the mutations `bulkOperationRunQuery`,
  `bulkOperationRunMutation`, `bulkOperationCancel`, `stagedUploadsCreate`, `metafieldsSet`, `metafieldsDelete`,
  `metafieldDefinitionCreate`.
- Side endpoints without token: `/_sandbox/health`, `/_sandbox/stats`, `/_sandbox/metafields`,
  `/_sandbox/bulk/<n>.jsonl` (bulk results), `POST /_sandbox/products` (set a product's status, gift card flag,
  publication or stock: `Store.update_product`), `POST /_sandbox/advance`, `/_sandbox/faults`, `/` (HTML overview).
"""

from .server import EmulatorConfig, ShopifyEmulator, make_server, start_emulator, stop_emulator

__all__ = ["EmulatorConfig", "ShopifyEmulator", "make_server", "start_emulator", "stop_emulator"]
