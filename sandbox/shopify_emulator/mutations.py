"""Mutation handlers. Each takes (store, info, args) and returns the payload dict; register new ones (for example
`stagedUploadsCreate` and `bulkOperationRunMutation`) in `MUTATIONS`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo

from .store import Store, parse_gid
from .uploads import staged_uploads_create

METAFIELDS_SET_LIMIT = 25
APP_NAMESPACE = "app--1"  # "$app" for the emulator's one app (api client id 1)
METAFIELD_OWNER_TYPES = {"Product", "ProductVariant", "Customer", "Order"}
_REFERENCE_TYPES = {
    "product_reference": "Product",
    "variant_reference": "ProductVariant",
    "customer_reference": "Customer",
    "order_reference": "Order",
}
SUPPORTED_METAFIELD_TYPES = {
    "single_line_text_field",
    "multi_line_text_field",
    "json",
    "number_integer",
    "number_decimal",
    "boolean",
    "date",
    "date_time",
    "url",
    "color",
    *_REFERENCE_TYPES,
}
SUPPORTED_METAFIELD_TYPES |= {
    f"list.{t}" for t in SUPPORTED_METAFIELD_TYPES - {"json", "multi_line_text_field", "boolean"}
}


def _user_error(field: list[str] | None, message: str, code: str | None, element_index: int | None = None):
    return {"field": field, "message": message, "code": code, "elementIndex": element_index}


def _scalar_value_error(store: Store, type_: str, value: str) -> str | None:
    if type_ in ("number_integer",):
        return None if re.fullmatch(r"[+-]?\d+", value) else "Value must be an integer."
    if type_ == "number_decimal":
        return None if re.fullmatch(r"[+-]?\d+(\.\d+)?", value) else "Value must be a decimal."
    if type_ == "boolean":
        return None if value in ("true", "false") else "Value must be true or false."
    if type_ == "json":
        try:
            json.loads(value)
        except ValueError:
            return "Value is invalid JSON."
        return None
    if type_ == "single_line_text_field":
        if not value.strip():
            return "Value can't be blank."
        return "Value must be a single line text string." if ("\n" in value or "\r" in value) else None
    if type_ == "multi_line_text_field":
        return "Value can't be blank." if not value.strip() else None
    if type_ == "date":
        return None if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else "Value must be in YYYY-MM-DD format."
    if type_ == "date_time":
        return (
            None
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}.*", value)
            else "Value must be in YYYY-MM-DDTHH:MM:SS format."
        )
    if type_ == "url":
        return (
            None
            if re.match(r"^(https?://\S+|mailto:\S+|sms:\S+|tel:\S+)$", value, re.I)
            else "Value must be a valid URL."
        )
    if type_ == "color":
        return None if re.fullmatch(r"#[0-9a-fA-F]{6}", value) else "Value must be a hex color code."
    if type_ in _REFERENCE_TYPES:
        parsed = parse_gid(value)
        if parsed is None or parsed[0] != _REFERENCE_TYPES[type_] or not store.exists(value):
            return f"Value references non-existent resource {value}."
        return None
    return None


def _value_errors(store: Store, index: int, type_: str, value: str) -> list[dict[str, Any]]:
    field = ["metafields", str(index), "value"]
    if type_.startswith("list."):
        inner = type_[5:]
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if not isinstance(items, list):
            return [_user_error(field, "Value must be a JSON array.", "INVALID_VALUE")]
        if len(items) > 128:
            return [_user_error(field, "Value has more than 128 elements.", "INVALID_VALUE")]
        errors = []
        for k, item in enumerate(items):
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                msg = "Value is invalid."
            else:
                msg = _scalar_value_error(store, inner, str(item))
            if msg:
                errors.append(_user_error(field, msg, "INVALID_VALUE", None if inner in _REFERENCE_TYPES else k))
                if inner in _REFERENCE_TYPES:
                    break
        return errors
    msg = _scalar_value_error(store, type_, value)
    return [_user_error(field, msg, "INVALID_VALUE")] if msg else []


def metafields_set(store: Store, _info: GraphQLResolveInfo, args: dict[str, Any]) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = list(args.get("metafields") or [])
    if len(inputs) > METAFIELDS_SET_LIMIT:
        return {
            "metafields": None,
            "userErrors": [
                _user_error(
                    ["metafields"],
                    f"Exceeded the maximum metafields input limit of {METAFIELDS_SET_LIMIT}.",
                    "LESS_THAN_OR_EQUAL_TO",
                )
            ],
        }
    if not inputs:
        return {
            "metafields": [],
            "userErrors": [_user_error(["metafields"], "At least one metafield input is required.", "BLANK")],
        }
    errors: list[dict[str, Any]] = []
    resolved: list[dict[str, str]] = []
    for index, inp in enumerate(inputs):
        i = str(index)
        owner_id = inp.get("ownerId") or ""
        namespace = inp.get("namespace")
        key = inp.get("key") or ""
        value = inp.get("value")
        parsed = parse_gid(owner_id)
        if parsed is None or parsed[0] not in METAFIELD_OWNER_TYPES or not store.exists(owner_id):
            errors.append(_user_error(["metafields", i, "ownerId"], "Owner does not exist.", "INVALID_VALUE"))
            continue
        if namespace is None:
            namespace = APP_NAMESPACE  # Shopify puts namespace-less metafields in the app's reserved namespace
        elif namespace == "$app" or namespace.startswith("$app:"):
            namespace = APP_NAMESPACE + (f"--{namespace[5:]}" if namespace.startswith("$app:") else "")
        if len(namespace) < 3:
            errors.append(
                _user_error(
                    ["metafields", i, "namespace"], "Namespace is too short (minimum is 3 characters)", "TOO_SHORT"
                )
            )
            continue
        if len(namespace) > 255:
            errors.append(
                _user_error(
                    ["metafields", i, "namespace"], "Namespace is too long (maximum is 255 characters)", "TOO_LONG"
                )
            )
            continue
        if len(key) < 2:
            errors.append(
                _user_error(["metafields", i, "key"], "Key is too short (minimum is 2 characters)", "TOO_SHORT")
            )
            continue
        if len(key) > 64:
            errors.append(
                _user_error(["metafields", i, "key"], "Key is too long (maximum is 64 characters)", "TOO_LONG")
            )
            continue
        type_ = inp.get("type")
        existing = store.metafield(owner_id, namespace, key)
        if not type_:
            if existing is None:
                errors.append(_user_error(["metafields", i, "type"], "Type can't be blank", "BLANK"))
                continue
            type_ = existing.type
        if type_ not in SUPPORTED_METAFIELD_TYPES:
            errors.append(
                _user_error(
                    ["metafields", i, "type"],
                    f"Type '{type_}' is not a supported metafield type (supported by the Storeloop emulator: "
                    f"{', '.join(sorted(SUPPORTED_METAFIELD_TYPES))}).",
                    "INVALID_TYPE",
                )
            )
            continue
        if value is None:
            errors.append(_user_error(["metafields", i, "value"], "Value is required.", "BLANK"))
            continue
        value_errors = _value_errors(store, index, type_, value)
        if value_errors:
            errors.extend(value_errors)
            continue
        resolved.append({"ownerId": owner_id, "namespace": namespace, "key": key, "type": type_, "value": value})
    if errors:
        return {"metafields": [], "userErrors": errors}
    written = store.set_metafields(resolved)
    return {"metafields": [store.metafield_record(mf) for mf in written], "userErrors": []}


MUTATIONS: dict[str, Callable[[Store, GraphQLResolveInfo, dict[str, Any]], dict[str, Any]]] = {
    "metafieldsSet": metafields_set,
    "stagedUploadsCreate": staged_uploads_create,
}
