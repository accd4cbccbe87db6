"""Walking a parsed document's selections against the schema: the fields a selection set selects (fragments
flattened) and the declared type of a field."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema
from graphql.language import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode


def selected_fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    parent: Any,
    schema: GraphQLSchema,
) -> list[tuple[FieldNode, Any]]:
    """(field node, type it is selected on) for a selection set, fragments flattened."""
    out: list[tuple[FieldNode, Any]] = []
    for sel in selection_set.selections if selection_set else ():
        if isinstance(sel, FieldNode):
            out.append((sel, parent))
        elif isinstance(sel, InlineFragmentNode):
            t = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            out.extend(selected_fields(sel.selection_set, fragments, t or parent, schema))
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:
                t = schema.get_type(frag.type_condition.name.value) or parent
                out.extend(selected_fields(frag.selection_set, fragments, t, schema))
    return out


def field_type(parent: Any, name: str) -> Any:
    fields = getattr(parent, "fields", None) or {}
    fdef = fields.get(name)
    return None if fdef is None else fdef.type
