"""Every .graphql document the client sends validates against Shopify's Admin schema (2025-01)."""

from __future__ import annotations

import gzip
import json

import pytest
from graphql import build_client_schema, parse, validate
from support.fixture_files import admin_schema_path

from storeloop.shopify.documents import DOCUMENTS_DIR, all_documents


@pytest.fixture(scope="module")
def schema():
    with gzip.open(admin_schema_path()) as fh:
        return build_client_schema(json.load(fh)["data"], assume_valid=True)


DOCS = all_documents()


def test_documents_exist():
    for name in ("current_bulk_operation", "bulk_operation_status", "bulk_operation_run_query",
                 "bulk_operation_run_mutation", "staged_uploads_create", "metafields_set", "metafields_set_bulk"):
        assert name in DOCS, f"{name}.graphql missing from {DOCUMENTS_DIR}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_document_validates_against_the_admin_schema(schema, name):
    errors = validate(schema, parse(DOCS[name]))
    assert not errors, f"{name}.graphql: " + "; ".join(e.message for e in errors)
