"""Shopify-shaped GraphQL errors.

Shopify runs graphql-ruby, whose messages and `extensions.code` values differ from graphql-core's. The emulator
validates with graphql-core and translates the common errors into graphql-ruby's wording, e.g.

    {"message": "Field 'foo' doesn't exist on type 'Product'", "locations": [{"line": 1, "column": 39}],
     "path": ["query", "products", "edges", "node", "foo"],
     "extensions": {"code": "undefinedField", "typeName": "Product", "fieldName": "foo"}}

Parse errors carry no extensions (`Parse error on ")" (RPAREN) at [1, 15]`), as on Shopify.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSyntaxError
from graphql.language import FieldNode, FragmentDefinitionNode, InlineFragmentNode, Node, OperationDefinitionNode

THROTTLED_MESSAGE = "Throttled"
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
MISSING_QUERY_BODY = {"errors": {"query": "Required parameter missing or invalid"}}

_TOKEN_KINDS = {
    "(": "LPAREN",
    ")": "RPAREN",
    "{": "LCURLY",
    "}": "RCURLY",
    "[": "LBRACKET",
    "]": "RBRACKET",
    ":": "COLON",
    "=": "EQUALS",
    "!": "BANG",
    "$": "VAR_SIGN",
    "@": "DIR_SIGN",
    "...": "ELLIPSIS",
    "|": "PIPE",
    "&": "AMP",
}


def _loc(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in (error.locations or [])]


def syntax_error(error: GraphQLSyntaxError) -> dict[str, Any]:
    """graphql-core `Syntax Error: Expected Name, found ')'.` → Shopify `Parse error on ")" (RPAREN) at [1, 15]`."""
    loc = (error.locations or [None])[0]
    where = f" at [{loc.line}, {loc.column}]" if loc else ""
    m = re.search(r"found (.+?)\.?$", error.message)
    found = m.group(1) if m else ""
    if found in ("<EOF>", ""):
        message = f"Parse error on end of file{where}"
    else:
        token = found.strip("'\"")
        if token in _TOKEN_KINDS:
            kind = _TOKEN_KINDS[token]
        elif found.startswith("Name"):
            token, kind = found.split(" ", 1)[-1].strip("'\""), "IDENTIFIER"
        elif found.startswith("Int"):
            token, kind = found.split(" ", 1)[-1].strip("'\""), "INT"
        elif found.startswith("String"):
            token, kind = found.split(" ", 1)[-1].strip("'\""), "STRING"
        else:
            kind = "UNKNOWN_CHAR"
        message = f'Parse error on "{token}" ({kind}){where}'
    out: dict[str, Any] = {"message": message}
    if loc:
        out["locations"] = [{"line": loc.line, "column": loc.column}]
    return out


def _node_path(document: DocumentNode, target: Node | None) -> list[str] | None:
    """graphql-ruby style path to an AST node: ["query Name", "field", "subfield", ...]."""
    if target is None:
        return None

    def walk(node: Any, path: list[str]) -> list[str] | None:
        if node is target:
            return path
        selection_set = getattr(node, "selection_set", None)
        candidates: list[tuple[Any, list[str]]] = []
        if isinstance(node, FieldNode):
            for arg in node.arguments or ():
                if arg is target:
                    return [*path, arg.name.value]
        if isinstance(node, OperationDefinitionNode):
            for var in node.variable_definitions or ():
                if var is target:
                    return path
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                candidates.append((sel, [*path, (sel.alias or sel.name).value]))
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else ""
                candidates.append((sel, [*path, f"... on {cond}" if cond else "..."]))
            else:
                candidates.append((sel, [*path, f"... {sel.name.value}"]))
        for child, child_path in candidates:
            found = walk(child, child_path)
            if found is not None:
                return found
        return None

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            head = definition.operation.value + (f" {definition.name.value}" if definition.name else "")
        elif isinstance(definition, FragmentDefinitionNode):
            head = f"fragment {definition.name.value}"
        else:
            continue
        found = walk(definition, [head])
        if found is not None:
            return found
    return None


_RULES: list[tuple[re.Pattern[str], Any]] = [
    (
        re.compile(r"^Cannot query field '(?P<field>[^']+)' on type '(?P<type>[^']+)'\."),
        lambda m: (
            f"Field '{m['field']}' doesn't exist on type '{m['type']}'",
            {"code": "undefinedField", "typeName": m["type"], "fieldName": m["field"]},
        ),
    ),
    (
        re.compile(r"^Unknown argument '(?P<arg>[^']+)' on field '(?P<type>[^'.]+)\.(?P<field>[^']+)'\."),
        lambda m: (
            f"Field '{m['field']}' doesn't accept argument '{m['arg']}'",
            {"code": "argumentNotAccepted", "name": m["field"], "typeName": "Field", "argumentName": m["arg"]},
        ),
    ),
    (
        re.compile(r"^Field '(?P<field>[^']+)' argument '(?P<arg>[^']+)' of type '[^']+' is required"),
        lambda m: (
            f"Field '{m['field']}' is missing required arguments: {m['arg']}",
            {"code": "missingRequiredArguments", "className": "Field", "name": m["field"], "arguments": m["arg"]},
        ),
    ),
    (
        re.compile(r"^Field '(?P<field>[^']+)' of type '(?P<type>[^']+)' must have a selection of subfields"),
        lambda m: (
            f"Field must have selections (field '{m['field']}' returns {m['type']} but has no selections. "
            f"Did you mean '{m['field']} {{ ... }}'?)",
            {"code": "selectionMismatch", "nodeName": f"field '{m['field']}'", "typeName": m["type"]},
        ),
    ),
    (
        re.compile(r"^Field '(?P<field>[^']+)' must not have a selection since type '(?P<type>[^']+)' has no"),
        lambda m: (
            f"Selections can't be made on scalars (field '{m['field']}' returns {m['type']} but has selections [...])",
            {"code": "selectionMismatch", "nodeName": f"field '{m['field']}'", "typeName": m["type"]},
        ),
    ),
    (
        re.compile(r"^Variable '\$(?P<var>[^']+)' is never used(?: in operation '(?P<op>[^']+)')?\."),
        lambda m: (
            f"Variable ${m['var']} is declared by {m['op'] or 'anonymous query'} but not used",
            {"code": "variableNotUsed", "variableName": m["var"]},
        ),
    ),
    (
        re.compile(r"^Variable '\$(?P<var>[^']+)' is not defined(?: by operation '(?P<op>[^']+)')?\."),
        lambda m: (
            f"Variable ${m['var']} is used by {m['op'] or 'anonymous query'} but not declared",
            {"code": "variableNotDefined", "variableName": m["var"]},
        ),
    ),
    (
        re.compile(r"^Unknown type '(?P<type>[^']+)'\."),
        lambda m: (
            f"No such type {m['type']}, so it can't be a fragment condition",
            {"code": "undefinedType", "typeName": m["type"]},
        ),
    ),
    (
        re.compile(r"^Fragment '(?P<name>[^']+)' is never used\."),
        lambda m: (
            f"Fragment {m['name']} was defined, but not used",
            {"code": "useAndDefineFragment", "fragmentName": m["name"]},
        ),
    ),
    (
        re.compile(r"^Unknown fragment '(?P<name>[^']+)'\."),
        lambda m: (
            f"Fragment {m['name']} was used, but not defined",
            {"code": "useAndDefineFragment", "fragmentName": m["name"]},
        ),
    ),
    (
        re.compile(r"^(?P<type>\w+) cannot represent"),
        lambda m: (None, {"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"}),
    ),
    (
        re.compile(r"^Field '(?P<input>[^'.]+)\.(?P<field>[^']+)' of required type '(?P<type>[^']+)' was not provided"),
        lambda m: (
            f"Argument '{m['field']}' on InputObject '{m['input']}' is required. Expected type {m['type']}",
            {
                "code": "missingRequiredInputObjectAttribute",
                "argumentName": m["field"],
                "argumentType": m["type"],
                "inputObjectType": m["input"],
            },
        ),
    ),
    (
        re.compile(r"^This anonymous operation must be the only defined operation\."),
        lambda m: (
            "Operation name is required when multiple operations are present",
            {"code": "uniquelyNamedOperations"},
        ),
    ),
    (
        re.compile(r"^There can be only one operation named '(?P<name>[^']+)'\."),
        lambda m: (
            f'Operation name "{m["name"]}" must be unique',
            {"code": "uniquelyNamedOperations", "operationName": m["name"]},
        ),
    ),
]


def validation_error(error: GraphQLError, document: DocumentNode) -> dict[str, Any]:
    """A graphql-core validation error in Shopify's (graphql-ruby's) shape."""
    message, extensions = error.message, {"code": "validationError"}
    for pattern, build in _RULES:
        m = pattern.search(error.message)
        if m:
            new_message, extensions = build(m)
            message = new_message or message
            break
    out: dict[str, Any] = {"message": message}
    locations = _loc(error)
    if locations:
        out["locations"] = locations[:1]
    path = _node_path(document, (error.nodes or [None])[0])
    if path is not None:
        out["path"] = path
    out["extensions"] = extensions
    return out


def variable_error(error: GraphQLError, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """graphql-core variable coercion error → Shopify's INVALID_VARIABLE error, e.g. "Variable $metafields of type
    [MetafieldsSetInput!]! was provided invalid value for 0.key (Expected value to not be null)"."""
    message = error.message
    extensions: dict[str, Any] = {"code": "INVALID_VARIABLE"}
    m = re.match(
        r"^Variable '\$(?P<var>[^']+)' got invalid value (?P<value>.*?)(?: at '(?P<at>[^']+)')?; (?P<why>.*)$",
        message,
        re.S,
    )
    m2 = re.match(
        r"^Variable '\$(?P<var>[^']+)' of (?:required|non-null) type '(?P<type>[^']+)' "
        r"(?:was not provided|must not be null)\.",
        message,
    )
    if m:
        path: list[Any] = []
        for part in re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]", m["at"] or "")[1:]:
            path.append(int(part[1]) if part[1] else part[0])
        why = m["why"].rstrip(".")
        missing = re.match(r"^Field '(?P<field>\w+)' of required type '[^']+' was not provided", why)
        if missing:
            path.append(missing["field"])
            why = "Expected value to not be null"
        elif why.startswith("Expected non-nullable type"):
            why = "Expected value to not be null"
        message = f"Variable ${m['var']} of type {_declared_type(error)} was provided invalid value"
        if path:
            message += " for " + ".".join(str(p) for p in path)
        message += f" ({why})"
        if variables is not None and m["var"] in variables:
            extensions["value"] = variables[m["var"]]
        extensions["problems"] = [{"path": path, "explanation": why}]
    elif m2:
        message = f"Variable ${m2['var']} of type {m2['type']} was provided invalid value"
        extensions["value"] = None
        extensions["problems"] = [{"path": [], "explanation": "Expected value to not be null"}]
    out: dict[str, Any] = {"message": message}
    locations = _loc(error)
    if locations:
        out["locations"] = locations[:1]
    out["extensions"] = extensions
    return out


def _declared_type(error: GraphQLError) -> str:
    node = (error.nodes or [None])[0]
    type_node = getattr(node, "type", None)
    if type_node is None:
        return "?"
    from graphql import print_ast

    return print_ast(type_node)


def execution_error(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {"message": error.message}
    locations = _loc(error)
    if locations:
        out["locations"] = locations
    if error.path:
        out["path"] = list(error.path)
    ext = dict(error.extensions or {})
    if ext:
        out["extensions"] = ext
    return out


def throttled_error() -> dict[str, Any]:
    return {
        "message": THROTTLED_MESSAGE,
        "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
    }


def max_cost_error(cost: int, max_cost: int) -> dict[str, Any]:
    return {
        "message": (
            f"Query cost is {cost}, which exceeds the single query max cost limit ({max_cost}).\n\n"
            "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
            "cost of a query is calculated.\n\n"
            "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
            "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": max_cost},
    }
