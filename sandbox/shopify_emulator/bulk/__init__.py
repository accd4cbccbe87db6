"""Bulk operations, one module a job:

- `validation`: checks a bulk query or bulk mutation document like Shopify before the operation starts.
- `selections`: walks a document's selections (fragments flattened) for validation and for the JSONL layout.
- `jsonl`: turns an executed bulk query into Shopify's JSONL lines.
- `operations`: the records of the shop's bulk operations, persisted, and their result files.
- `runner`: the `bulkOperationRunQuery` / `bulkOperationRunMutation` / `bulkOperationCancel` mutations and the
  background thread that runs an operation to its end.
"""
