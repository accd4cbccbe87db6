"""The GraphQL documents Storeloop sends, kept as .graphql files beside this module."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCUMENTS_DIR = Path(__file__).parent / "graphql"


@cache
def load_document(name: str) -> str:
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not path.exists():
        raise FileNotFoundError(f"No GraphQL document {name!r} in {DOCUMENTS_DIR}")
    return path.read_text()


def all_documents() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(DOCUMENTS_DIR.glob("*.graphql"))}


def with_search_query(document: str, search: str | None) -> str:
    """`document` with `query: <search>` set on its top-level connection field (e.g. `orders` → `orders(query:
    "updated_at:>='…'")`); unchanged when `search` is None. Works on the parsed document, so it stays valid."""
    if not search:
        return document
    from graphql import parse, print_ast
    from graphql.language import ArgumentNode, NameNode, OperationDefinitionNode, StringValueNode

    ast = parse(document)
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or len(operations[0].selection_set.selections) != 1:
        raise ValueError("with_search_query needs a document with one operation selecting one connection field")
    connection = operations[0].selection_set.selections[0]
    others = tuple(a for a in connection.arguments or () if a.name.value != "query")
    connection.arguments = (*others, ArgumentNode(name=NameNode(value="query"), value=StringValueNode(value=search)))
    return print_ast(ast)
