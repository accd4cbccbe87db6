"""Shopify's JSONL layout of bulk query results (shopify.dev, "Perform bulk operations").

One line per node of every connection; the nodes of a nested connection get their own lines, each with
`"__parentId"` (the id of the node that owns the connection) as its last key, written after their parent; nested
connections are removed from the parent's line; plain nested objects (`customer { id }`,
`totalPriceSet { shopMoney { ... } }`) stay inline. Connections are not paginated.
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLSchema, get_named_type, is_leaf_type
from graphql.language import FieldNode, FragmentDefinitionNode, OperationDefinitionNode

from ..cost import is_connection_type
from .selections import field_type, selected_fields


class JsonlFlattener:
    """Turns executed bulk results into Shopify's JSONL lines."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        self.operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._maps: dict[tuple[int, str | None], dict[str, tuple[FieldNode, Any]]] = {}
        self._kinds: dict[tuple[int, str | None], tuple[str, Any]] = {}

    def lines(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        roots = self._walk_object(data, self.operation.selection_set, self.schema.query_type, None, out, root=True)
        return out, roots

    def _field_map(self, selection_set, parent) -> dict[str, tuple[FieldNode, Any]]:
        cache_key = (id(selection_set), getattr(parent, "name", None))
        fmap = self._maps.get(cache_key)
        if fmap is None:
            fmap = {}
            for f, ptype in selected_fields(selection_set, self.fragments, parent, self.schema):
                fmap.setdefault((f.alias or f.name).value, (f, ptype))
            self._maps[cache_key] = fmap
        return fmap

    def _kind(self, field: FieldNode, ptype: Any) -> tuple[str, Any]:
        """('connection' | 'object' | 'leaf' | 'unknown', named type) for a field, cached."""
        cache_key = (id(field), getattr(ptype, "name", None))
        kind = self._kinds.get(cache_key)
        if kind is None:
            ftype = field_type(ptype, field.name.value)
            if ftype is None:
                kind = ("unknown", None)
            elif is_connection_type(ftype):
                kind = ("connection", get_named_type(ftype))
            elif is_leaf_type(get_named_type(ftype)):
                kind = ("leaf", None)
            else:
                kind = ("object", get_named_type(ftype))
            self._kinds[cache_key] = kind
        return kind

    def _walk_object(self, value: dict, selection_set, parent, owner_id, out, root: bool = False) -> int:
        """Emit the connections found under `value` (a non-line object, e.g. the query root)."""
        count = 0
        fmap = self._field_map(selection_set, parent)
        for key, v in value.items():
            f, ptype = fmap[key]
            ftype = field_type(ptype, f.name.value)
            if v is None or ftype is None:
                continue
            if is_connection_type(ftype):
                n = self._emit_connection(v, f, get_named_type(ftype), owner_id, out)
                if root:
                    count += n
            elif isinstance(v, dict):
                count += self._walk_object(v, f.selection_set, get_named_type(ftype), owner_id, out, root)
        return count

    def _emit_connection(self, conn: dict, field: FieldNode, conn_type, parent_id, out) -> int:
        emitted = 0
        for ekey, (efield, _) in self._field_map(field.selection_set, conn_type).items():
            if efield.name.value != "edges":
                continue
            edge_type = get_named_type(conn_type.fields["edges"].type)
            nmap = self._field_map(efield.selection_set, edge_type)
            for edge in conn.get(ekey) or []:
                for nkey, (nfield, _) in nmap.items():
                    if nfield.name.value != "node" or edge.get(nkey) is None:
                        continue
                    node = edge[nkey]
                    node_type = get_named_type(edge_type.fields["node"].type)
                    nested: list[tuple[dict, FieldNode, Any]] = []
                    line = self._inline(node, nfield.selection_set, node_type, nested)
                    if parent_id is not None:
                        line["__parentId"] = parent_id
                    out.append(line)
                    emitted += 1
                    for child, cfield, ctype in nested:
                        self._emit_connection(child, cfield, ctype, node.get("id"), out)
        return emitted

    def _inline(self, value: dict, selection_set, parent, nested: list) -> dict:
        """The node's own line: nested connections are cut out (collected in `nested`), objects stay inline."""
        line: dict[str, Any] = {}
        fmap = self._field_map(selection_set, self._concrete(value, parent))
        for key, v in value.items():
            f, ptype = fmap[key]
            kind, named = self._kind(f, ptype)
            if kind == "connection":
                if v is not None:
                    nested.append((v, f, named))
            elif kind == "object" and isinstance(v, dict):
                line[key] = self._inline(v, f.selection_set, named, nested)
            elif kind == "object" and isinstance(v, list):
                line[key] = [self._inline(x, f.selection_set, named, nested) if isinstance(x, dict) else x for x in v]
            else:
                line[key] = v
        return line

    def _concrete(self, value: dict, parent):
        typename = value.get("__typename")
        return (self.schema.get_type(typename) or parent) if typename else parent
