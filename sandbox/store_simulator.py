"""Deterministic synthetic Shopify store: catalogue, customers and a year of orders from one seed.

`simulate_store(seed, size, days, end)` returns a `StoreData` of pandas DataFrames (one row per Shopify object, the
columns are listed on `StoreData`). Everything is drawn from one `numpy.random.Generator`, vectorised over all rows,
so the same `(seed, size, days, end)` always gives identical data and a 1,000,000-order store stays practical.

The data carry a learnable signal, so a recommender has something to find:

* each customer has a latent taste: a preference over product types concentrated on 1–2 favourite types;
* products have a global popularity (log-normal, so a few hits and a long tail);
* each product has 1–2 "bought together" companions (mostly from a complementary type) that co-occur in orders;
* about a quarter of the order lines re-buy a product the customer bought before;
* order timing has weekly seasonality, a holiday bump (Black Friday → Christmas) and mild growth; customers only
  order after they signed up; products launched during the period only sell after their launch.

Ids are Shopify GIDs (`gid://shopify/Product/8123456789012`, ...): numeric, increasing with creation time, stable for a
seed. Timestamps are UTC ISO 8601 strings with a `Z` (`2025-03-01T14:05:09Z`), money is a float with two decimals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

__all__ = [
    "SIZES",
    "PRODUCT_TYPES",
    "SizeSpec",
    "StoreData",
    "simulate_store",
    "default_end",
    "iso_z",
    "advance",
    "apply_scenario",
    "SCENARIOS",
]


@dataclass(frozen=True)
class SizeSpec:
    """How big a simulated store is (approximate: lines per order and dedup make exact counts vary)."""

    products: int
    customers: int
    orders: int


# XS: unit tests. S: the demo. M/L: benchmarks (L = 1M orders; generation is vectorised for it).
SIZES: dict[str, SizeSpec] = {
    "XS": SizeSpec(products=40, customers=150, orders=1_500),
    "S": SizeSpec(products=250, customers=1_500, orders=12_000),
    "M": SizeSpec(products=1_000, customers=10_000, orders=100_000),
    "L": SizeSpec(products=20_000, customers=250_000, orders=1_000_000),
}


@dataclass(frozen=True)
class _ProductType:
    name: str
    share: float  # share of the catalogue
    price: tuple[float, float]  # base price range
    vendor: str  # the vendor most products of this type come from
    variants: tuple[str, ...]  # variant titles, in order of popularity
    nouns: tuple[str, ...]
    companions: tuple[str, ...]  # complementary types "bought together" partners come from


PRODUCT_TYPES: tuple[_ProductType, ...] = (
    _ProductType(
        "Coffee Beans",
        0.18,
        (12.0, 28.0),
        "Northwind Roasters",
        ("250g", "500g", "1kg"),
        ("Espresso Blend", "Single Origin", "House Roast", "Decaf", "Dark Roast", "Cold Brew Blend"),
        ("Brewing Gear", "Mugs", "Snacks"),
    ),
    _ProductType(
        "Tea",
        0.12,
        (8.0, 22.0),
        "Alpine Leaf Co.",
        ("50g", "100g", "Tin 200g"),
        ("Green Tea", "Black Tea", "Herbal Infusion", "Oolong", "Chai", "White Tea"),
        ("Mugs", "Snacks", "Brewing Gear"),
    ),
    _ProductType(
        "Mugs",
        0.12,
        (14.0, 36.0),
        "Kiln & Clay",
        ("White", "Charcoal", "Sage"),
        ("Mug", "Travel Mug", "Cup & Saucer", "Tumbler", "Espresso Cup"),
        ("Coffee Beans", "Tea", "Accessories"),
    ),
    _ProductType(
        "Brewing Gear",
        0.12,
        (25.0, 140.0),
        "Brewsmith",
        ("Standard", "Large"),
        ("Pour-Over Dripper", "French Press", "Hand Grinder", "Gooseneck Kettle", "Scale", "AeroPress Kit"),
        ("Coffee Beans", "Accessories"),
    ),
    _ProductType(
        "Snacks",
        0.14,
        (4.0, 14.0),
        "Pantry Provisions",
        ("Single", "Box of 6", "Box of 12"),
        ("Biscotti", "Dark Chocolate", "Granola Bites", "Shortbread", "Almond Brittle", "Stroopwafel"),
        ("Coffee Beans", "Tea"),
    ),
    _ProductType(
        "Apparel",
        0.12,
        (22.0, 75.0),
        "Loop Supply Co.",
        ("M", "L", "S"),
        ("T-Shirt", "Hoodie", "Cap", "Beanie", "Apron", "Crew Socks"),
        ("Accessories", "Books"),
    ),
    _ProductType(
        "Books",
        0.08,
        (15.0, 45.0),
        "Loop Supply Co.",
        ("Paperback", "Hardcover"),
        ("Brewing Guide", "Tea Atlas", "Cafe Cookbook", "Origin Stories", "Latte Art Handbook"),
        ("Brewing Gear", "Apparel", "Snacks"),
    ),
    _ProductType(
        "Accessories",
        0.12,
        (6.0, 40.0),
        "Brewsmith",
        ("Standard", "Pack of 2"),
        ("Paper Filters", "Tote Bag", "Coffee Canister", "Milk Jug", "Tamper", "Coaster Set"),
        ("Mugs", "Brewing Gear", "Apparel"),
    ),
)

VENDORS: tuple[str, ...] = tuple(dict.fromkeys(t.vendor for t in PRODUCT_TYPES)) + ("Harbor Goods",)
_ADJECTIVES = (
    "Classic",
    "Morning",
    "Midnight",
    "Alpine",
    "Harbor",
    "Golden",
    "Wild",
    "Velvet",
    "Copper",
    "Meadow",
    "Ember",
    "Coastal",
    "Highland",
    "Urban",
    "Rustic",
    "Sunrise",
    "Forest",
    "Maple",
    "Slate",
    "Juniper",
)
_FIRST_NAMES = (
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Emma",
    "Lucas",
    "Olivia",
    "Ethan",
    "Sofia",
    "Mason",
    "Isla",
    "Leo",
    "Chloe",
    "Arjun",
    "Hana",
    "Mateo",
    "Zoe",
    "Omar",
    "Lena",
    "Kai",
    "Nora",
    "Yusuf",
    "Elena",
    "Theo",
    "Aisha",
    "Jonas",
    "Priya",
    "Felix",
    "Maya",
    "Diego",
    "Ines",
    "Samuel",
    "Grace",
    "Hugo",
    "Amara",
    "Rafael",
    "Clara",
    "Tomas",
    "Ivy",
    "Marco",
    "Lucia",
    "Daniel",
    "Freya",
    "Kenji",
    "Alice",
    "Oscar",
    "Layla",
    "Victor",
    "Rosa",
    "Adam",
)
_LAST_NAMES = (
    "Smith",
    "Garcia",
    "Nguyen",
    "Muller",
    "Rossi",
    "Kowalski",
    "Johansson",
    "Okafor",
    "Silva",
    "Tanaka",
    "Brown",
    "Martin",
    "Dubois",
    "Novak",
    "Haddad",
    "Fischer",
    "Lopez",
    "Kim",
    "Patel",
    "Andersen",
    "Costa",
    "Schmidt",
    "Moreau",
    "Jensen",
    "Ivanova",
    "Walker",
    "Santos",
    "Bianchi",
    "Nakamura",
    "Oconnor",
    "Weber",
    "Ali",
    "Horvat",
    "Lindqvist",
    "Mendes",
    "Young",
    "Kaur",
    "Popescu",
    "Reyes",
    "Virtanen",
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# First GID numbers: large like Shopify's real ones, so no consumer assumes small ids.
_ID_BASE = {
    "Product": 8_100_000_000_000,
    "ProductVariant": 45_200_000_000_000,
    "Customer": 7_300_000_000_000,
    "Order": 5_900_000_000_000,
    "LineItem": 14_500_000_000_000,
}


@dataclass
class StoreData:
    """A simulated store, one DataFrame per Shopify object type (rows sorted by id, ids increase with time).

    products: product_id, handle, title, product_type, vendor, status ("ACTIVE"), tags (list[str]),
        description, created_at, updated_at, published_at, is_gift_card (False)
    variants: variant_id, product_id, title, sku, price, position (1-based), created_at, updated_at,
        inventory_quantity, inventory_policy (DENY / CONTINUE), inventory_tracked (see `_stock_attributes`)
    customers: customer_id, email, first_name, last_name, state ("ENABLED"), tags (list[str]), verified_email,
        created_at, updated_at, country_code (ISO 3166 alpha-2 of the default address)
    orders: order_id, name ("#1001"...), customer_id (None for the ~2% guest checkouts), email, created_at,
        processed_at, updated_at, cancelled_at (None unless cancelled), cancel_reason, financial_status
        (PAID / REFUNDED / VOIDED for cancelled), fulfillment_status, currency_code ("USD"), subtotal_price,
        total_price
    line_items: line_item_id, order_id, product_id, variant_id, sku, title (product title), variant_title, name,
        vendor, quantity, unit_price
    companions: product_id, companion_id: the latent "bought together" pairs (ground truth, not a Shopify object)
    customer_taste: customer_id, favourite_types (list[str]), activity: the latent taste (ground truth)

    Ids are GIDs (str); timestamps ISO 8601 UTC strings ending in "Z"; money floats rounded to cents.
    """

    seed: int
    size: str
    start: datetime
    end: datetime
    products: pd.DataFrame
    variants: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    line_items: pd.DataFrame
    companions: pd.DataFrame
    customer_taste: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "products": len(self.products),
            "variants": len(self.variants),
            "customers": len(self.customers),
            "orders": len(self.orders),
            "line_items": len(self.line_items),
        }


def default_end() -> datetime:
    """Midnight UTC of today: the default end of the simulated period."""
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def iso_z(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds (int64) → ISO 8601 UTC strings with a trailing Z (vectorised)."""
    arr = np.asarray(seconds, dtype="int64").astype("datetime64[s]")
    return np.char.add(np.datetime_as_string(arr, unit="s"), "Z")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _gids(kind: str, numbers: np.ndarray) -> np.ndarray:
    return np.char.add(f"gid://shopify/{kind}/", numbers.astype("int64").astype(str))


# Where customers live (ISO 3166 codes and shares): a deterministic function of the customer number, so adding the
# column did not change any other random draw of the simulation.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 0.42), ("GB", 0.14), ("DE", 0.12), ("CA", 0.10), ("AU", 0.08), ("FR", 0.07), ("SE", 0.07),
)

COUNTRY_NAMES = {"US": "United States", "GB": "United Kingdom", "DE": "Germany", "CA": "Canada", "AU": "Australia",
                 "FR": "France", "SE": "Sweden"}


def country_codes(gids) -> np.ndarray:
    """The country of each customer GID (a hash of its number mapped onto COUNTRIES' shares)."""
    nums = np.array([int(str(g).rsplit("/", 1)[1]) for g in gids], dtype=np.uint64)
    u = ((nums * np.uint64(2654435761)) % np.uint64(1_000_003)).astype(float) / 1_000_003.0
    cum = np.cumsum([share for _, share in COUNTRIES])
    idx = np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(COUNTRIES) - 1)
    return np.array([code for code, _ in COUNTRIES], dtype=object)[idx]


def _increasing_ids(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """n strictly increasing numeric ids with random gaps (Shopify ids are sparse)."""
    gaps = rng.integers(1, 2_000, size=n, dtype=np.int64)
    return _ID_BASE[kind] + np.cumsum(gaps)


def _day_intensity(day_starts: np.ndarray, days: int) -> np.ndarray:
    """Relative order volume per day: weekly seasonality, holiday bump, mild growth."""
    d = day_starts.astype("datetime64[s]").astype("datetime64[D]")
    weekday = (d.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday → Monday = 0
    weekly = np.array([0.92, 0.95, 0.98, 1.0, 1.06, 1.18, 1.22])[weekday]
    months = d.astype("datetime64[M]").astype("int64") % 12 + 1
    dom = (d - d.astype("datetime64[M]")).astype("int64") + 1
    holiday = np.ones(len(d))
    nov, dec = months == 11, months == 12
    holiday[nov & (dom >= 18)] = 1.35
    # Black Friday: the day after the 4th Thursday of November; Cyber Monday three days later.
    first_of_nov_weekday = (weekday - (dom - 1)) % 7
    fourth_thursday = 1 + (3 - first_of_nov_weekday) % 7 + 21
    holiday[nov & (dom == fourth_thursday + 1)] = 2.6
    holiday[nov & (dom == fourth_thursday + 2)] = 1.9
    holiday[nov & (dom == fourth_thursday + 3)] = 1.7
    cyber = fourth_thursday + 4
    holiday[nov & (dom == cyber)] = 2.3
    holiday[dec & (dom <= 20)] = 1.6
    holiday[dec & (dom > 20) & (dom <= 24)] = 1.3
    holiday[dec & (dom == 25)] = 0.6
    holiday[dec & (dom > 25)] = 1.1
    growth = 1.0 + 0.1 * np.arange(len(d)) / max(days, 1)
    return weekly * holiday * growth


def _sample_within(rng: np.random.Generator, cum_weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Vectorised inverse-CDF sampling of an index in [lo, hi) with the given cumulative weights."""
    base = np.concatenate([[0.0], cum_weights])
    u = base[lo] + rng.random(len(lo)) * (base[hi] - base[lo])
    idx = np.searchsorted(cum_weights, u, side="right")
    return np.clip(idx, lo, hi - 1)


def simulate_store(seed: int = 42, size: str = "S", days: int = 365, end: datetime | None = None) -> StoreData:
    """Simulate a store: `size` is a key of `SIZES`, the orders span the `days` days before `end` (default: midnight
    UTC today). Deterministic for a given (seed, size, days, end)."""
    if size not in SIZES:
        raise ValueError(f"unknown store size {size!r}: use one of {', '.join(SIZES)}")
    if days < 31:
        raise ValueError(f"days must be at least 31 (the last 30 days are an evaluation window), got {days}")
    spec = SIZES[size]
    end = end or default_end()
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    end = end.astimezone(UTC)
    start = end - timedelta(days=days)
    end_s, start_s = int(end.timestamp()), int(start.timestamp())
    rng = np.random.default_rng(seed)

    products, variants, prod = _simulate_catalogue(rng, spec.products, start_s, end_s)
    customers, cust = _simulate_customers(rng, spec.customers, start_s, end_s)
    orders, line_items, companions = _simulate_orders(rng, spec.orders, days, start_s, end_s, prod, cust)
    products, variants = _stock_attributes(seed, products, variants)

    taste = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "favourite_types": [
                [PRODUCT_TYPES[t].name for t in favs if t >= 0] for favs in cust["favourites"].tolist()
            ],
            "activity": np.round(cust["activity"], 4),
        }
    )
    return StoreData(
        seed=seed,
        size=size,
        start=start,
        end=end,
        products=products,
        variants=variants,
        customers=customers,
        orders=orders,
        line_items=line_items,
        companions=companions,
        customer_taste=taste,
        meta={"days": days, "spec": spec},
    )


# ---------------------------------------------------------------------------------------------------------- catalogue


def _simulate_catalogue(rng: np.random.Generator, n: int, start_s: int, end_s: int):
    n_types = len(PRODUCT_TYPES)
    if n < 2 * n_types:
        raise ValueError(f"need at least {2 * n_types} products, got {n}")
    shares = np.array([t.share for t in PRODUCT_TYPES])
    counts = rng.multinomial(n - 2 * n_types, shares / shares.sum()) + 2
    ptype = np.repeat(np.arange(n_types), counts)
    rng.shuffle(ptype)

    popularity = rng.lognormal(0.0, 0.9, size=n)
    # Creation: most of the catalogue predates the period, ~15% launches during it (a source of drift).
    launched = rng.random(n) < 0.15
    created = np.where(
        launched,
        start_s + (rng.random(n) * 0.9 * (end_s - start_s)).astype(np.int64),
        start_s - (rng.uniform(30, 900, size=n) * 86_400).astype(np.int64),
    )
    popularity = np.where(launched, popularity * 1.4, popularity)
    # The most popular product of every type exists from the start (a fallback for early orders).
    for t in range(n_types):
        members = np.flatnonzero(ptype == t)
        top = members[np.argmax(popularity[members])]
        if created[top] >= start_s:
            created[top] = start_s - 86_400 * 60
    order = np.argsort(created, kind="stable")  # ids increase with creation time
    ptype, popularity, created, launched = ptype[order], popularity[order], created[order], launched[order]

    lo = np.array([t.price[0] for t in PRODUCT_TYPES])[ptype]
    hi = np.array([t.price[1] for t in PRODUCT_TYPES])[ptype]
    base_price = np.floor(lo + rng.random(n) * (hi - lo)) + rng.choice([0.0, 0.5, 0.99], size=n, p=[0.3, 0.2, 0.5])
    primary_vendor = np.array([VENDORS.index(t.vendor) for t in PRODUCT_TYPES])[ptype]
    vendor_idx = np.where(rng.random(n) < 0.8, primary_vendor, rng.integers(0, len(VENDORS), size=n))

    adj_idx = rng.integers(0, len(_ADJECTIVES), size=n)
    noun_idx = rng.integers(0, 64, size=n)
    titles, handles, seen = [], [], {}
    for i in range(n):
        pt = PRODUCT_TYPES[ptype[i]]
        title = f"{_ADJECTIVES[adj_idx[i]]} {pt.nouns[noun_idx[i] % len(pt.nouns)]}"
        k = seen.get(title, 0) + 1
        seen[title] = k
        if k > 1:
            title = f"{title} No. {k}"
        titles.append(title)
        handles.append(_slug(title))

    pnum = _increasing_ids(rng, "Product", n)
    pid = _gids("Product", pnum)
    updated = created + (rng.random(n) * (end_s - np.maximum(created, start_s - 86_400 * 30))).astype(np.int64)
    updated = np.clip(updated, created, end_s - 1)
    published = created + rng.integers(0, 3_600, size=n)
    products = pd.DataFrame(
        {
            "product_id": pid,
            "handle": handles,
            "title": titles,
            "product_type": [PRODUCT_TYPES[t].name for t in ptype],
            "vendor": [VENDORS[v] for v in vendor_idx],
            "status": "ACTIVE",
            "tags": [
                [PRODUCT_TYPES[t].name.lower().replace(" ", "-")] + (["new"] if ln else [])
                for t, ln in zip(ptype, launched, strict=True)
            ],
            "description": [
                f"{t} from the {PRODUCT_TYPES[k].name.lower()} range." for t, k in zip(titles, ptype, strict=True)
            ],
            "created_at": iso_z(created),
            "updated_at": iso_z(updated),
            "published_at": iso_z(np.minimum(published, end_s - 1)),
        }
    )

    # Variants: 1-3 per product, priced off the product's base price.
    max_var = np.array([len(t.variants) for t in PRODUCT_TYPES])[ptype]
    n_var = np.minimum(rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20]), max_var)
    v_prod = np.repeat(np.arange(n), n_var)
    v_pos = np.arange(len(v_prod)) - np.repeat(np.cumsum(n_var) - n_var, n_var)
    v_mult = np.array([1.0, 1.6, 2.7])[v_pos] if len(v_prod) else np.array([])
    # Bigger variants cost more; every price keeps its product's ending (.00, .50 or .99).
    v_price = np.floor(base_price[v_prod] * np.where(n_var[v_prod] > 1, v_mult, 1.0)) + (base_price % 1)[v_prod]
    v_title = [
        PRODUCT_TYPES[ptype[p]].variants[k] if n_var[p] > 1 else "Default Title"
        for p, k in zip(v_prod, v_pos, strict=True)
    ]
    type_code = np.array(["".join(w[0] for w in t.name.split()).upper().ljust(2, "X") for t in PRODUCT_TYPES])
    v_sku = np.char.add(
        np.char.add(np.char.add(type_code[ptype[v_prod]], "-"), np.char.zfill((v_prod + 1).astype(str), 5)),
        np.char.add("-", (v_pos + 1).astype(str)),
    )
    vnum = _increasing_ids(rng, "ProductVariant", len(v_prod))
    variants = pd.DataFrame(
        {
            "variant_id": _gids("ProductVariant", vnum),
            "product_id": pid[v_prod],
            "title": v_title,
            "sku": v_sku,
            "price": np.round(v_price, 2),
            "position": v_pos + 1,
            "created_at": iso_z(created[v_prod]),
            "updated_at": iso_z(updated[v_prod]),
        }
    )
    internal = {
        "type": ptype,
        "popularity": popularity,
        "created": created,
        "n_var": n_var,
        "var_start": np.cumsum(n_var) - n_var,
        "var_price": np.round(v_price, 2),
        "titles": np.array(titles, dtype=object),
        "var_titles": np.array(v_title, dtype=object),
        "var_sku": v_sku,
        "vendor": np.array([VENDORS[v] for v in vendor_idx], dtype=object),
        "pid": pid,
        "vid": variants["variant_id"].to_numpy(),
    }
    return products, variants, internal


def _stock_attributes(seed: int, products: pd.DataFrame, variants: pd.DataFrame):
    """The catalogue's stock attributes: `is_gift_card` on products (never, in a tea shop), and on variants
    `inventory_quantity`, `inventory_policy` (DENY / CONTINUE) and `inventory_tracked`; ~6% of variants out of stock
    (a third of those still sell: CONTINUE), ~3% not tracked.

    Drawn from a generator of their own, after the orders: nothing here changes any other frame (the benchmarks
    depend on the orders and lines staying exactly as they were). Statuses stay ACTIVE for the same reason: `advance`
    only sells active products, so an archived one would change every store evolved from this one."""
    rng = np.random.default_rng([seed, 1601])
    n = len(variants)
    quantity = rng.integers(5, 250, size=n)
    out_of_stock = rng.random(n) < 0.06
    quantity[out_of_stock] = 0
    policy = np.where(out_of_stock & (rng.random(n) < 1 / 3), "CONTINUE", "DENY")
    tracked = rng.random(n) >= 0.03
    products = products.assign(is_gift_card=False)
    variants = variants.assign(inventory_quantity=quantity, inventory_policy=policy, inventory_tracked=tracked)
    return products, variants


# ---------------------------------------------------------------------------------------------------------- customers


def _simulate_customers(rng: np.random.Generator, n: int, start_s: int, end_s: int):
    n_types = len(PRODUCT_TYPES)
    existing = rng.random(n) < 0.6
    span = end_s - start_s
    created = np.where(
        existing,
        start_s - (rng.uniform(1, 1_000, size=n) * 86_400).astype(np.int64),
        start_s + (rng.random(n) ** 0.85 * (span - 86_400)).astype(np.int64),
    )
    order = np.argsort(created, kind="stable")
    created = created[order]

    # Taste: one or two favourite types; most of the probability mass goes to them.
    type_weights = np.array([t.share for t in PRODUCT_TYPES])
    type_weights = type_weights / type_weights.sum()
    fav1 = rng.choice(n_types, size=n, p=type_weights)
    fav2 = (fav1 + rng.integers(1, n_types, size=n)) % n_types
    has2 = rng.random(n) < 0.5
    pref = np.full((n, n_types), 0.22 / n_types)
    rows = np.arange(n)
    pref[rows, fav1] += np.where(has2, 0.46, 0.78)
    pref[rows[has2], fav2[has2]] += 0.32
    pref /= pref.sum(axis=1, keepdims=True)
    activity = rng.lognormal(0.0, 1.0, size=n)

    first_idx = rng.integers(0, len(_FIRST_NAMES), size=n)
    last_idx = rng.integers(0, len(_LAST_NAMES), size=n)
    dom_idx = rng.integers(0, len(_EMAIL_DOMAINS), size=n)
    first = np.array(_FIRST_NAMES, dtype=object)[first_idx]
    last = np.array(_LAST_NAMES, dtype=object)[last_idx]
    emails = [
        f"{f.lower()}.{ln.lower()}{i + 1}@{_EMAIL_DOMAINS[d]}"
        for i, (f, ln, d) in enumerate(zip(first, last, dom_idx, strict=True))
    ]
    cnum = _increasing_ids(rng, "Customer", n)
    updated = np.clip(created + (rng.random(n) * 120 * 86_400).astype(np.int64), created, end_s - 1)
    vip = activity > np.quantile(activity, 0.95)
    customers = pd.DataFrame(
        {
            "customer_id": _gids("Customer", cnum),
            "email": emails,
            "first_name": first,
            "last_name": last,
            "state": "ENABLED",
            "tags": [["vip"] if v else [] for v in vip],
            "verified_email": rng.random(n) < 0.93,
            "created_at": iso_z(created),
            "updated_at": iso_z(updated),
        }
    )
    customers["country_code"] = country_codes(customers["customer_id"])
    internal = {
        "created": created,
        "pref_cum": np.cumsum(pref, axis=1),
        "activity": activity,
        "favourites": np.stack([fav1, np.where(has2, fav2, -1)], axis=1),
        "cid": customers["customer_id"].to_numpy(),
        "emails": np.array(emails, dtype=object),
    }
    return customers, internal


# ------------------------------------------------------------------------------------------------------------- orders


def _taste_products(rng, customers_of_line, times, cust, prod, type_members, type_cum):
    """Sample one product per line from the customer's type preference and product popularity, only among
    products that exist at the line's time (rejection rounds, then the type's always-available top product)."""
    m = len(customers_of_line)
    out = np.full(m, -1, dtype=np.int64)
    if m == 0:
        return out
    pref_cum = cust["pref_cum"][customers_of_line] if customers_of_line is not None else None
    todo = np.arange(m)
    for _ in range(8):
        u = rng.random(len(todo))
        ptypes = (pref_cum[todo] < u[:, None]).sum(axis=1)
        ptypes = np.minimum(ptypes, len(type_members) - 1)
        cand = np.empty(len(todo), dtype=np.int64)
        for t in range(len(type_members)):
            sel = np.flatnonzero(ptypes == t)
            if len(sel) == 0:
                continue
            cum = type_cum[t]
            r = rng.random(len(sel)) * cum[-1]
            cand[sel] = type_members[t][np.minimum(np.searchsorted(cum, r, side="right"), len(cum) - 1)]
        ok = prod["created"][cand] <= times[todo]
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
        if len(todo) == 0:
            return out
    # Fallback: the most popular product of a favourite type exists since before the period.
    fav = cust["favourites"][customers_of_line[todo], 0]
    out[todo] = np.array([tm[np.argmax(prod["popularity"][tm])] for tm in type_members])[fav]
    return out


def _simulate_orders(rng, n_orders, days, start_s, end_s, prod, cust):
    n_types = len(PRODUCT_TYPES)
    n_products = len(prod["type"])
    n_cust = len(cust["created"])

    # Companions: 1-2 per product, mostly from a complementary type, weighted by popularity.
    type_members = [np.flatnonzero(prod["type"] == t) for t in range(n_types)]
    type_cum = [np.cumsum(np.sqrt(prod["popularity"][tm])) for tm in type_members]
    comp_type_options = [
        [PRODUCT_TYPES.index(next(x for x in PRODUCT_TYPES if x.name == c)) for c in t.companions]
        for t in PRODUCT_TYPES
    ]
    n_comp = rng.choice([1, 2], size=n_products, p=[0.4, 0.6])
    companions = np.empty((n_products, 2), dtype=np.int64)
    for slot in range(2):
        u = rng.random(n_products)
        target = np.array(
            [opts[int(x * len(opts))] for opts, x in zip((comp_type_options[t] for t in prod["type"]), u, strict=True)]
        )
        anywhere = rng.random(n_products) < 0.2
        target = np.where(anywhere, rng.integers(0, n_types, size=n_products), target)
        for t in range(n_types):
            sel = np.flatnonzero(target == t)
            if len(sel) == 0:
                continue
            r = rng.random(len(sel)) * type_cum[t][-1]
            pick = type_members[t][np.minimum(np.searchsorted(type_cum[t], r, side="right"), len(type_members[t]) - 1)]
            same = pick == sel
            pick[same] = type_members[t][(np.searchsorted(type_members[t], pick[same]) + 1) % len(type_members[t])]
            companions[sel, slot] = pick
    companions[:, 1] = np.where(n_comp == 2, companions[:, 1], companions[:, 0])
    comp_pairs = np.unique(np.stack([np.repeat(np.arange(n_products), 2), companions.ravel()], axis=1), axis=0)
    comp_pairs = comp_pairs[comp_pairs[:, 0] != comp_pairs[:, 1]]
    companions_df = pd.DataFrame(
        {"product_id": prod["pid"][comp_pairs[:, 0]], "companion_id": prod["pid"][comp_pairs[:, 1]]}
    )

    # Order timing: per-day intensity, customers weighted by activity x the part of the period they exist for.
    day_starts = start_s + 86_400 * np.arange(days, dtype=np.int64)
    intensity = _day_intensity(day_starts, days)
    cum = np.cumsum(intensity)
    guest = rng.random(n_orders) < 0.02
    n_guest = int(guest.sum())
    first_day = np.clip((cust["created"] - start_s) // 86_400, 0, days - 1)
    mass = cum[-1] - np.concatenate([[0.0], cum])[first_day]
    weights = cust["activity"] * mass
    o_cust = rng.choice(n_cust, size=n_orders - n_guest, p=weights / weights.sum())
    o_cust = np.concatenate([o_cust, np.full(n_guest, -1)])
    lo = np.where(o_cust >= 0, first_day[np.maximum(o_cust, 0)], 0)
    o_day = _sample_within(rng, cum, lo, np.full(n_orders, days))
    hour_w = np.array(
        [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4.2, 4.6, 5.2, 6, 6.2, 5.5, 4, 2.2]
    )
    o_sec = rng.choice(24, size=n_orders, p=hour_w / hour_w.sum()) * 3_600 + rng.integers(0, 3_600, n_orders)
    o_time = day_starts[o_day] + o_sec
    cust_created = np.where(o_cust >= 0, cust["created"][np.maximum(o_cust, 0)], start_s)
    late = o_time < cust_created
    o_time[late] = np.minimum(cust_created[late] + rng.integers(60, 7_200, size=int(late.sum())), end_s - 1)

    # Work in customer-major order (customer, time) so "earlier purchases" are contiguous.
    cm = np.lexsort((o_time, o_cust))
    o_cust, o_time = o_cust[cm], o_time[cm]
    n_lines = rng.choice([1, 2, 3, 4], size=n_orders, p=[0.42, 0.30, 0.17, 0.11])
    line_start = np.cumsum(n_lines) - n_lines
    total = int(n_lines.sum())
    l_order = np.repeat(np.arange(n_orders), n_lines)
    l_pos = np.arange(total) - line_start[l_order]
    l_cust = o_cust[l_order]
    l_time = o_time[l_order]
    # First line of the customer's orders: lines of earlier orders of the same customer are [cust_first, order_first).
    is_new_cust = np.concatenate([[True], o_cust[1:] != o_cust[:-1]])
    cust_first_order = np.maximum.accumulate(np.where(is_new_cust, np.arange(n_orders), 0))
    cust_first_line = line_start[cust_first_order][l_order]
    order_first_line = line_start[l_order]
    history = np.where(l_cust >= 0, order_first_line - cust_first_line, 0)

    u = rng.random(total)
    repeat = (history > 0) & np.where(l_pos == 0, u < 0.30, (u >= 0.50) & (u < 0.72))
    companion = (l_pos > 0) & (u < 0.50)
    taste = ~(repeat | companion)
    ref = np.full(total, -1, dtype=np.int64)
    ref[repeat] = cust_first_line[repeat] + (rng.random(int(repeat.sum())) * history[repeat]).astype(np.int64)
    ref[companion] = order_first_line[companion] + (rng.random(int(companion.sum())) * l_pos[companion]).astype(
        np.int64
    )
    comp_slot = rng.integers(0, 2, size=total)

    product = np.full(total, -1, dtype=np.int64)
    taste_idx = np.flatnonzero(taste)
    guest_lines = l_cust[taste_idx] < 0
    product[taste_idx[~guest_lines]] = _taste_products(
        rng, l_cust[taste_idx[~guest_lines]], l_time[taste_idx[~guest_lines]], cust, prod, type_members, type_cum
    )
    # Guests buy by global popularity.
    g = taste_idx[guest_lines]
    if len(g):
        glob_cum = np.cumsum(prod["popularity"] * (prod["created"] < start_s))
        product[g] = np.searchsorted(glob_cum, rng.random(len(g)) * glob_cum[-1], side="right")
    pending = np.flatnonzero(product < 0)
    for _ in range(10_000):
        if len(pending) == 0:
            break
        src = product[ref[pending]]
        ready = src >= 0
        idx = pending[ready]
        product[idx] = np.where(repeat[idx], src[ready], companions[src[ready], comp_slot[idx]])
        pending = pending[~ready]
    # Companions may not exist yet at the order's time: re-draw those lines from the customer's taste.
    bad = np.flatnonzero(prod["created"][product] > l_time)
    if len(bad):
        bad_cust = np.maximum(l_cust[bad], 0)
        product[bad] = _taste_products(rng, bad_cust, l_time[bad], cust, prod, type_members, type_cum)

    # One line per product per order (Shopify merges them into a quantity).
    key = l_order.astype(np.int64) * (n_products + 1) + product
    _, first_occ = np.unique(key, return_index=True)
    keep = np.zeros(total, dtype=bool)
    keep[first_occ] = True
    l_order, product, l_pos = l_order[keep], product[keep], l_pos[keep]
    m = len(l_order)
    var_k = np.minimum(rng.choice(3, size=m, p=[0.62, 0.28, 0.10]), prod["n_var"][product] - 1)
    variant = prod["var_start"][product] + var_k
    qty = rng.choice([1, 2, 3], size=m, p=[0.82, 0.14, 0.04])
    unit_price = prod["var_price"][variant]

    # Back to time order: ids and names increase with time.
    to = np.argsort(o_time, kind="stable")
    rank = np.empty(n_orders, dtype=np.int64)
    rank[to] = np.arange(n_orders)
    o_cust, o_time, n_lines_kept = o_cust[to], o_time[to], np.bincount(l_order, minlength=n_orders)[to]
    lo_sorted = np.lexsort((l_pos, rank[l_order]))
    l_order_t = rank[l_order][lo_sorted]
    product, variant, qty, unit_price = product[lo_sorted], variant[lo_sorted], qty[lo_sorted], unit_price[lo_sorted]

    subtotal = np.round(np.bincount(l_order_t, weights=qty * unit_price, minlength=n_orders), 2)
    onum = _increasing_ids(rng, "Order", n_orders)
    oid = _gids("Order", onum)
    status_u = rng.random(n_orders)
    cancelled = status_u < 0.02
    refunded = (status_u >= 0.02) & (status_u < 0.05)
    fin = np.where(cancelled, "VOIDED", np.where(refunded, "REFUNDED", "PAID"))
    cancelled_at = np.minimum(o_time + rng.integers(1_800, 48 * 3_600, size=n_orders), end_s - 1)
    touched = np.where(
        refunded,
        o_time + rng.integers(86_400, 20 * 86_400, size=n_orders),
        np.where(cancelled, cancelled_at, o_time + rng.integers(60, 2 * 86_400, size=n_orders)),
    )
    updated = np.clip(touched, o_time, end_s - 1)
    fulfilled = (~cancelled) & (o_time < end_s - 2 * 86_400)
    guest_email = np.char.add(np.char.add("guest", np.arange(n_orders).astype(str)), "@example.com")
    email = np.where(o_cust >= 0, cust["emails"][np.maximum(o_cust, 0)], guest_email.astype(object))
    orders = pd.DataFrame(
        {
            "order_id": oid,
            "name": np.char.add("#", (1001 + np.arange(n_orders)).astype(str)),
            "customer_id": np.where(o_cust >= 0, cust["cid"][np.maximum(o_cust, 0)].astype(object), None),
            "email": email,
            "created_at": iso_z(o_time),
            "processed_at": iso_z(o_time),
            "updated_at": iso_z(updated),
            "cancelled_at": np.where(cancelled, iso_z(cancelled_at).astype(object), None),
            "cancel_reason": np.where(cancelled, "CUSTOMER", None),
            "financial_status": fin,
            "fulfillment_status": np.where(fulfilled, "FULFILLED", "UNFULFILLED"),
            "currency_code": "USD",
            "subtotal_price": subtotal,
            "total_price": subtotal,
        }
    )
    titles = prod["titles"][product]
    var_titles = prod["var_titles"][variant]
    names = np.where(var_titles == "Default Title", titles, titles + " - " + var_titles)
    lnum = _increasing_ids(rng, "LineItem", m)
    line_items = pd.DataFrame(
        {
            "line_item_id": _gids("LineItem", lnum),
            "order_id": oid[l_order_t],
            "product_id": prod["pid"][product],
            "variant_id": prod["vid"][variant],
            "sku": prod["var_sku"][variant],
            "title": titles,
            "variant_title": var_titles,
            "name": names,
            "vendor": prod["vendor"][product],
            "quantity": qty.astype(np.int64),
            "unit_price": unit_price,
        }
    )
    del n_lines_kept
    return orders, line_items, companions_df


# ------------------------------------------------------------------------------------------------ evolving a store
#
# `advance(store, days)` appends `days` more days of orders after `store.end`, bought by the same customers from the
# same catalogue (customer tastes from `customer_taste`, product popularity from the sales so far), so a store can
# grow day by day like a live shop. `apply_scenario(store, name, **params)` changes the store from its current end
# on, to create drift the monitoring must notice:
#
# * `new_product_line`: a new product type (default "Matcha") with new products; a `share` of new order lines buy it.
# * `price_change`: the variants of a `product_type` get their price multiplied by `factor` from `date` (default:
#   the store's end); orders after the date pay the new price.
# * `customer_mix_shift`: `n_customers` new customers whose favourite types are `favourite_types` (default: the two
#   least-bought types) place a `share` of new orders.
#
# Scenarios are remembered in `store.meta["scenarios"]` (a list of JSON-able dicts), so later advances keep them.

SCENARIOS = ("new_product_line", "price_change", "customer_mix_shift")
_NEW_LINE_NOUNS = ("Ceremonial Grade", "Latte Blend", "Whisk Set", "Starter Kit", "Culinary Grade", "Tin")


def _nums(ids: pd.Series) -> np.ndarray:
    return ids.str.rsplit("/", n=1).str[1].astype("int64").to_numpy() if len(ids) else np.array([], dtype=np.int64)


def _next_ids(rng: np.random.Generator, kind: str, existing: pd.Series, n: int) -> np.ndarray:
    base = int(_nums(existing).max()) if len(existing) else _ID_BASE[kind]
    return _gids(kind, base + np.cumsum(rng.integers(1, 2_000, size=n, dtype=np.int64)))


def _parse_iso(text: str) -> int:
    return int(datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp())


def _copy(store: StoreData, **changes) -> StoreData:
    fields = {
        "seed": store.seed,
        "size": store.size,
        "start": store.start,
        "end": store.end,
        "products": store.products,
        "variants": store.variants,
        "customers": store.customers,
        "orders": store.orders,
        "line_items": store.line_items,
        "companions": store.companions,
        "customer_taste": store.customer_taste,
        "meta": {**store.meta, "scenarios": [dict(s) for s in store.meta.get("scenarios", [])]},
    }
    fields.update(changes)
    return StoreData(**fields)


def _type_names(store: StoreData) -> list[str]:
    known = [t.name for t in PRODUCT_TYPES]
    extra = sorted(set(store.products["product_type"]) - set(known))
    return known + extra


def apply_scenario(store: StoreData, name: str, seed: int | None = None, **params) -> StoreData:
    """A copy of `store` with a drift scenario applied from its current end (see the section comment)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}: use one of {', '.join(SCENARIOS)}")
    rng = np.random.default_rng([store.seed, len(store.orders), len(store.meta.get("scenarios", [])), seed or 0, 7])
    end_s = int(store.end.timestamp())
    out = _copy(store)
    if name == "new_product_line":
        ptype = str(params.get("product_type", "Matcha"))
        if ptype in set(store.products["product_type"]):
            raise ValueError(f"product type {ptype!r} already exists")
        n = int(params.get("n_products", max(3, len(store.products) // 20)))
        share = float(params.get("share", 0.35))
        lo, hi = params.get("price", (18.0, 40.0))
        vendor = str(params.get("vendor", "Harbor Goods"))
        if n < 1 or not 0.0 < share <= 1.0:
            raise ValueError("n_products must be >= 1 and share in (0, 1]")
        pid = _next_ids(rng, "Product", store.products["product_id"], n)
        titles = [f"{_ADJECTIVES[rng.integers(len(_ADJECTIVES))]} {ptype} {_NEW_LINE_NOUNS[i % 6]}" for i in range(n)]
        titles = [t if titles.index(t) == i else f"{t} No. {i + 1}" for i, t in enumerate(titles)]
        created = iso_z(np.full(n, end_s))
        products = pd.DataFrame(
            {
                "product_id": pid,
                "handle": [_slug(t) for t in titles],
                "title": titles,
                "product_type": ptype,
                "vendor": vendor,
                "status": "ACTIVE",
                "tags": [[_slug(ptype), "new"] for _ in range(n)],
                "description": [f"{t} from the new {ptype.lower()} range." for t in titles],
                "created_at": created,
                "updated_at": created,
                "published_at": created,
                "is_gift_card": False,
            }
        )
        prices = np.floor(lo + rng.random(n) * (hi - lo)) + 0.99
        code = "".join(w[0] for w in ptype.split()).upper().ljust(2, "X")
        variants = pd.DataFrame(
            {
                "variant_id": _next_ids(rng, "ProductVariant", store.variants["variant_id"], n),
                "product_id": pid,
                "title": "Default Title",
                "sku": [f"{code}-N{i + 1:04d}-1" for i in range(n)],
                "price": np.round(prices, 2),
                "position": 1,
                "created_at": created,
                "updated_at": created,
                "inventory_quantity": 100,
                "inventory_policy": "DENY",
                "inventory_tracked": True,
            }
        )
        out.products = pd.concat([store.products, products], ignore_index=True)
        out.variants = pd.concat([store.variants, variants], ignore_index=True)
        out.meta["scenarios"].append(
            {"name": name, "product_type": ptype, "share": share, "from": store.end.isoformat()}
        )
    elif name == "price_change":
        sold = store.line_items.merge(store.products[["product_id", "product_type"]], on="product_id")
        default_type = sold["product_type"].value_counts().idxmax() if len(sold) else PRODUCT_TYPES[0].name
        ptype = str(params.get("product_type", default_type))
        if ptype not in set(store.products["product_type"]):
            raise ValueError(f"no products of type {ptype!r}")
        factor = float(params.get("factor", 1.25))
        if factor <= 0:
            raise ValueError("factor must be positive")
        date = params.get("date")
        when = _parse_iso(date) if date else end_s
        change = {"name": name, "product_type": ptype, "factor": factor, "date": iso_z(np.array([when]))[0]}
        change["applied"] = False
        out.meta["scenarios"].append(change)
        if when <= end_s:
            out = _apply_price_changes(out, end_s)
    else:  # customer_mix_shift
        counts = store.line_items.merge(store.products[["product_id", "product_type"]], on="product_id")[
            "product_type"
        ].value_counts()
        names = [t for t in _type_names(store) if t in set(store.products["product_type"])]
        least = sorted(names, key=lambda t: (counts.get(t, 0), t))[:2]
        favs = [str(t) for t in params.get("favourite_types", least)]
        unknown = set(favs) - set(names)
        if unknown or not favs:
            raise ValueError(f"unknown favourite_types {sorted(unknown)}")
        n = int(params.get("n_customers", max(10, len(store.customers) * 3 // 10)))
        share = float(params.get("share", 0.6))
        if n < 1 or not 0.0 < share <= 1.0:
            raise ValueError("n_customers must be >= 1 and share in (0, 1]")
        cid = _next_ids(rng, "Customer", store.customers["customer_id"], n)
        first = np.array(_FIRST_NAMES, dtype=object)[rng.integers(0, len(_FIRST_NAMES), size=n)]
        last = np.array(_LAST_NAMES, dtype=object)[rng.integers(0, len(_LAST_NAMES), size=n)]
        offset = len(store.customers)
        emails = [
            f"{f.lower()}.{x.lower()}{offset + i + 1}@example.com"
            for i, (f, x) in enumerate(zip(first, last, strict=True))
        ]
        created = iso_z(end_s - rng.integers(60, 86_400, size=n))
        customers = pd.DataFrame(
            {
                "customer_id": cid,
                "email": emails,
                "first_name": first,
                "last_name": last,
                "state": "ENABLED",
                "tags": [["new-cohort"] for _ in range(n)],
                "verified_email": True,
                "created_at": created,
                "updated_at": created,
                "country_code": country_codes(cid),
            }
        )
        taste = pd.DataFrame(
            {
                "customer_id": cid,
                "favourite_types": [list(favs) for _ in range(n)],
                "activity": np.round(rng.lognormal(0.0, 0.5, size=n), 4),
            }
        )
        out.customers = pd.concat([store.customers, customers], ignore_index=True)
        out.customer_taste = pd.concat([store.customer_taste, taste], ignore_index=True)
        out.meta["scenarios"].append(
            {
                "name": name,
                "customer_ids": list(cid),
                "favourite_types": favs,
                "share": share,
                "from": store.end.isoformat(),
            }
        )
    return out


def _apply_price_changes(store: StoreData, until_s: int) -> StoreData:
    """Write pending price changes dated before `until_s` into the variants (updatedAt = the change date)."""
    variants, products = store.variants.copy(), store.products.copy()
    for change in store.meta.get("scenarios", []):
        if change["name"] != "price_change" or change.get("applied") or _parse_iso(change["date"]) > until_s:
            continue
        members = set(products.loc[products["product_type"] == change["product_type"], "product_id"])
        sel = variants["product_id"].isin(members)
        variants.loc[sel, "price"] = np.round(variants.loc[sel, "price"] * change["factor"], 2)
        variants.loc[sel, "updated_at"] = np.maximum(variants.loc[sel, "updated_at"], change["date"])
        psel = products["product_id"].isin(members)
        products.loc[psel, "updated_at"] = np.maximum(products.loc[psel, "updated_at"], change["date"])
        change["applied"] = True
    store.variants, store.products = variants, products
    return store


def advance(store: StoreData, days: int, seed: int | None = None) -> StoreData:
    """A copy of `store` with `days` more days of orders after `store.end` (deterministic for the same store, days
    and seed)."""
    if days < 1:
        raise ValueError("days must be >= 1")
    rng = np.random.default_rng([store.seed, len(store.orders), days, seed or 0, 11])
    start_s = int(store.end.timestamp())
    end_s = start_s + days * 86_400
    out = _copy(store)
    scenarios = out.meta["scenarios"]
    products, variants, customers = store.products, store.variants, store.customers
    type_names = _type_names(store)
    t_index = {t: k for k, t in enumerate(type_names)}
    n_types = len(type_names)

    # Products: type, creation time, popularity (sales so far, smoothed), variants.
    p_type = products["product_type"].map(t_index).to_numpy()
    p_created = np.array([_parse_iso(x) for x in products["created_at"]], dtype=np.int64)
    p_active = (products["status"] == "ACTIVE").to_numpy()
    sold = store.line_items.groupby("product_id")["quantity"].sum()
    popularity = products["product_id"].map(sold).fillna(0).to_numpy(dtype=float) + 2.0
    p_index = {pid: i for i, pid in enumerate(products["product_id"])}
    v_prod = variants["product_id"].map(p_index).to_numpy()
    v_rows = [[] for _ in range(len(products))]
    for j, p in enumerate(v_prod):
        v_rows[p].append(j)

    # Customers: taste (preference over types), activity; cohorts from customer_mix_shift.
    taste = store.customer_taste.set_index("customer_id")
    n_c = len(customers)
    pref = np.full((n_c, n_types), 0.22 / n_types)
    favs = customers["customer_id"].map(taste["favourite_types"]).tolist()
    for i, f in enumerate(favs):
        f = [t for t in (f if isinstance(f, list) else []) if t in t_index]
        weights = [0.78] if len(f) == 1 else [0.46, 0.32][: len(f)] + [0.2 / max(len(f) - 2, 1)] * max(len(f) - 2, 0)
        for t, w in zip(f, weights, strict=True):
            pref[i, t_index[t]] += w
    pref /= pref.sum(axis=1, keepdims=True)
    activity = customers["customer_id"].map(taste["activity"]).fillna(1.0).to_numpy(dtype=float)
    c_created = np.array([_parse_iso(x) for x in customers["created_at"]], dtype=np.int64)
    cohort_of = np.full(n_c, -1)
    shifts = [s for s in scenarios if s["name"] == "customer_mix_shift"]
    c_index = {cid: i for i, cid in enumerate(customers["customer_id"])}
    for k, s in enumerate(shifts):
        for cid in s["customer_ids"]:
            if cid in c_index:
                cohort_of[c_index[cid]] = k
    lines = [s for s in scenarios if s["name"] == "new_product_line"]
    line_types = [(t_index[s["product_type"]], s["share"]) for s in lines if s["product_type"] in t_index]
    pending_prices = [s for s in scenarios if s["name"] == "price_change" and not s.get("applied")]

    # Volume: the recent daily order rate with weekly seasonality.
    o_created = np.array([_parse_iso(x) for x in store.orders["created_at"].tail(5_000)], dtype=np.int64)
    recent = o_created[o_created >= start_s - 30 * 86_400]
    rate = max(len(recent) / 30.0, 1.0)
    day_starts = start_s + 86_400 * np.arange(days, dtype=np.int64)
    per_day = rng.poisson(rate * _day_intensity(day_starts, days) / 1.05)
    hour_w = np.array(
        [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4.2, 4.6, 5.2, 6, 6.2, 5.5, 4, 2.2]
    )
    o_time = np.concatenate(
        [
            d + rng.choice(24, size=k, p=hour_w / hour_w.sum()) * 3_600 + rng.integers(0, 3_600, size=k)
            for d, k in zip(day_starts, per_day, strict=True)
        ]
        or [np.array([], dtype=np.int64)]
    )
    o_time = np.sort(o_time.astype(np.int64))
    n_orders = len(o_time)

    # Who orders: a cohort's share of orders goes to the cohort, the rest to everybody else by activity.
    base_pool = np.flatnonzero(cohort_of < 0)
    o_cust = np.full(n_orders, -1, dtype=np.int64)
    u = rng.random(n_orders)
    lo = 0.0
    for k, s in enumerate(shifts):
        members = np.flatnonzero(cohort_of == k)
        sel = np.flatnonzero((u >= lo) & (u < lo + s["share"])) if len(members) else np.array([], dtype=int)
        lo += s["share"]
        if len(sel):
            w = activity[members]
            o_cust[sel] = members[rng.choice(len(members), size=len(sel), p=w / w.sum())]
    rest = np.flatnonzero(o_cust < 0)
    guest = rng.random(len(rest)) < 0.02
    w = activity[base_pool]
    o_cust[rest[~guest]] = base_pool[rng.choice(len(base_pool), size=int((~guest).sum()), p=w / w.sum())]
    o_cust[rest[guest]] = -1
    o_time = np.maximum(o_time, np.where(o_cust >= 0, c_created[np.maximum(o_cust, 0)] + 60, o_time))
    o_time = np.minimum(o_time, end_s - 1)

    # What they buy: a new product line's share, else a repeat (25%) or the customer's taste x popularity.
    history: dict[int, list[int]] = {}
    li = store.line_items.merge(store.orders[["order_id", "customer_id"]], on="order_id")
    for cid, grp in li.groupby("customer_id")["product_id"]:
        if cid in c_index:
            history[c_index[cid]] = [p_index[p] for p in grp if p in p_index]
    type_members = [np.flatnonzero((p_type == t) & p_active) for t in range(n_types)]
    n_lines = rng.choice([1, 2, 3, 4], size=n_orders, p=[0.42, 0.30, 0.17, 0.11])
    rows_o, rows_p, rows_v, rows_q, rows_price = [], [], [], [], []
    for o in range(n_orders):
        t_o, c = o_time[o], o_cust[o]
        chosen: list[int] = []
        for _ in range(n_lines[o]):
            r = rng.random()
            pick = -1
            acc = 0.0
            for t, share in line_types:
                acc += share
                if r < acc:
                    cand = type_members[t][p_created[type_members[t]] <= t_o]
                    if len(cand):
                        pick = int(cand[rng.choice(len(cand), p=popularity[cand] / popularity[cand].sum())])
                    break
            if pick < 0 and c >= 0 and history.get(c) and rng.random() < 0.25:
                pick = history[c][rng.integers(len(history[c]))]
                if not p_active[pick]:
                    pick = -1
            if pick < 0:
                weights = pref[c] if c >= 0 else np.full(n_types, 1.0 / n_types)
                for t in [line_t for line_t, _ in line_types]:
                    weights = weights.copy()
                    weights[t] = 0.0
                t = int(rng.choice(n_types, p=weights / weights.sum()))
                cand = type_members[t][p_created[type_members[t]] <= t_o]
                if not len(cand):
                    cand = np.flatnonzero(p_active & (p_created <= t_o))
                pick = int(cand[rng.choice(len(cand), p=popularity[cand] / popularity[cand].sum())])
            if pick in chosen:
                continue
            chosen.append(pick)
            vs = v_rows[pick]
            v = vs[min(int(rng.choice(3, p=[0.62, 0.28, 0.10])), len(vs) - 1)]
            price = float(variants["price"].iat[v])
            for change in pending_prices:
                if type_names[p_type[pick]] == change["product_type"] and t_o >= _parse_iso(change["date"]):
                    price = round(price * change["factor"], 2)
            rows_o.append(o)
            rows_p.append(pick)
            rows_v.append(v)
            rows_q.append(int(rng.choice([1, 2, 3], p=[0.82, 0.14, 0.04])))
            rows_price.append(price)
        if c >= 0:
            history.setdefault(c, []).extend(chosen)
    rows_o = np.array(rows_o, dtype=np.int64)
    rows_p = np.array(rows_p, dtype=np.int64)
    rows_v = np.array(rows_v, dtype=np.int64)
    qty = np.array(rows_q, dtype=np.int64)
    unit_price = np.array(rows_price, dtype=float)

    subtotal = np.round(np.bincount(rows_o, weights=qty * unit_price, minlength=n_orders), 2)
    oid = _next_ids(rng, "Order", store.orders["order_id"], n_orders)
    first_number = len(store.orders) + 1001
    status_u = rng.random(n_orders)
    cancelled = status_u < 0.02
    refunded = (status_u >= 0.02) & (status_u < 0.05)
    cancelled_at = np.minimum(o_time + rng.integers(1_800, 48 * 3_600, size=n_orders), end_s - 1)
    updated = np.clip(
        np.where(cancelled, cancelled_at, o_time + rng.integers(60, 2 * 86_400, size=n_orders)), o_time, end_s - 1
    )
    guest_email = np.char.add(
        np.char.add("guest", (len(store.orders) + np.arange(n_orders)).astype(str)), "@example.com"
    )
    c_emails = customers["email"].to_numpy(dtype=object)
    c_ids = customers["customer_id"].to_numpy(dtype=object)
    orders = pd.DataFrame(
        {
            "order_id": oid,
            "name": np.char.add("#", (first_number + np.arange(n_orders)).astype(str)),
            "customer_id": np.where(o_cust >= 0, c_ids[np.maximum(o_cust, 0)], None),
            "email": np.where(o_cust >= 0, c_emails[np.maximum(o_cust, 0)], guest_email.astype(object)),
            "created_at": iso_z(o_time),
            "processed_at": iso_z(o_time),
            "updated_at": iso_z(updated),
            "cancelled_at": np.where(cancelled, iso_z(cancelled_at).astype(object), None),
            "cancel_reason": np.where(cancelled, "CUSTOMER", None),
            "financial_status": np.where(cancelled, "VOIDED", np.where(refunded, "REFUNDED", "PAID")),
            "fulfillment_status": np.where((~cancelled) & (o_time < end_s - 2 * 86_400), "FULFILLED", "UNFULFILLED"),
            "currency_code": "USD",
            "subtotal_price": subtotal,
            "total_price": subtotal,
        }
    )
    titles = products["title"].to_numpy(dtype=object)[rows_p] if len(rows_p) else np.array([], dtype=object)
    v_titles = variants["title"].to_numpy(dtype=object)[rows_v] if len(rows_v) else np.array([], dtype=object)
    line_items = pd.DataFrame(
        {
            "line_item_id": _next_ids(rng, "LineItem", store.line_items["line_item_id"], len(rows_o)),
            "order_id": oid[rows_o] if len(rows_o) else np.array([], dtype=object),
            "product_id": products["product_id"].to_numpy(dtype=object)[rows_p] if len(rows_p) else [],
            "variant_id": variants["variant_id"].to_numpy(dtype=object)[rows_v] if len(rows_v) else [],
            "sku": variants["sku"].to_numpy(dtype=object)[rows_v] if len(rows_v) else [],
            "title": titles,
            "variant_title": v_titles,
            "name": np.where(v_titles == "Default Title", titles, titles + " - " + v_titles) if len(titles) else [],
            "vendor": products["vendor"].to_numpy(dtype=object)[rows_p] if len(rows_p) else [],
            "quantity": qty,
            "unit_price": unit_price,
        }
    )
    out.orders = pd.concat(
        [store.orders, orders.astype(store.orders.dtypes.to_dict(), errors="ignore")], ignore_index=True
    )
    out.line_items = pd.concat([store.line_items, line_items], ignore_index=True)
    # Customers who ordered are updated (their order count and amount spent changed).
    last = orders.dropna(subset=["customer_id"]).groupby("customer_id")["created_at"].max()
    cust = customers.copy()
    touched = cust["customer_id"].map(last)
    has = touched.notna()
    cust.loc[has, "updated_at"] = np.maximum(cust.loc[has, "updated_at"], touched[has])
    out.customers = cust
    out.end = store.end + timedelta(days=days)
    out.meta["days"] = int(store.meta.get("days", (store.end - store.start).days)) + days
    return _apply_price_changes(out, end_s)
