"""How Shopify writes its scalar values: global ids (`gid://shopify/Type/N`), DateTime, Decimal and Money strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

GID_PREFIX = "gid://shopify/"


def now_iso() -> str:
    """The current time as a Shopify DateTime: '2026-11-01T09:30:00Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_str(x: float) -> str:
    """A Shopify Decimal (MoneyV2.amount): '12.5', '10.0', '29.99'."""
    s = f"{x:.2f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def money_str(x: float) -> str:
    """A Shopify Money scalar (ProductVariant.price): '12.50'."""
    return f"{x:.2f}"


def parse_gid(gid: Any) -> tuple[str, int] | None:
    """('Product', 123) for 'gid://shopify/Product/123' (a '?query' suffix is ignored); None for anything else."""
    if not isinstance(gid, str) or not gid.startswith(GID_PREFIX):
        return None
    parts = gid[len(GID_PREFIX) :].split("/")
    if len(parts) != 2:
        return None
    num = parts[1].split("?")[0]
    if not num.isdigit():
        return None
    return parts[0], int(num)
