"""Reading the dbt feature models the ranker learns from (`recsys/ranker.py` names the columns it reads).

The models live in `marts` (the nightly build, features as of the build) or in a snapshot schema built with an
explicit `as_of` (training's point-in-time features). Only the requested columns are read, through COPY.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from storeloop.warehouse.db import Connection, connection, copy_query_to_frame
from storeloop.warehouse.marts import ids_as_object

ID_COLUMNS = ("customer_id", "product_id", "other_product_id", "product_type")


def read_feature_models(conn: Connection | str, schema: str, columns: Mapping[str, Iterable[str]],
                        top_per_key: Mapping[str, tuple[str, str, int]] | None = None) -> dict[str, pd.DataFrame]:
    """{model: DataFrame of the given columns} from `<schema>.<model>`; ids and product types as str.

    `top_per_key[model] = (key, order_column, n)` reads only the `n` rows with the highest `order_column` per `key`
    (ties by the other id columns in byte order, as Python sorts them): the ranker keeps 50 co-purchase partners a product, and the whole pair
    table of a grocer (The Complete Journey: millions of pairs) would cost gigabytes to read for nothing."""
    out: dict[str, pd.DataFrame] = {}
    top_per_key = top_per_key or {}
    with connection(conn) as c:
        for model, cols in columns.items():
            cols = list(cols)
            select = ", ".join(f'"{col}"' for col in cols)
            dtype = {col: "string" for col in cols if col in ID_COLUMNS}
            query = f'select {select} from "{schema}"."{model}"'
            if model in top_per_key:
                key, order, n = top_per_key[model]
                tiebreak = ", ".join(f'"{col}" collate "C"' for col in cols if col in ID_COLUMNS and col != key)
                query = (f'select {select} from (select {select}, row_number() over (partition by "{key}" order by '
                         f'"{order}" desc, {tiebreak}) as _rank from "{schema}"."{model}") as ranked '
                         f'where _rank <= {int(n)}')
            out[model] = ids_as_object(copy_query_to_frame(c, query, dtype=dtype))
    return out


def read_as_of(conn: Connection | str, schema: str, model: str) -> pd.Timestamp | None:
    """The cutoff a feature model was built as of (its `as_of` column), None when it is empty."""
    with connection(conn) as c, c.cursor() as cur:
        cur.execute(f'select max(as_of) from "{schema}"."{model}"')
        value = cur.fetchone()[0]
    return None if value is None else pd.Timestamp(value)
