"""The raw loader against real PostgreSQL: counts balance, reruns replace, a crash leaves nothing half-loaded."""

import json

import pytest

from storeloop.warehouse.raw_loader import load_bulk_jsonl

pytestmark = pytest.mark.integration


def _order(n, updated="2026-01-03T10:00:00Z"):
    return {"id": f"gid://shopify/Order/{n}", "name": f"#{1000 + n}", "createdAt": "2026-01-02T10:00:00Z",
            "updatedAt": updated, "displayFinancialStatus": "PAID", "currencyCode": "EUR",
            "totalPriceSet": {"shopMoney": {"amount": "10.00"}}, "customer": {"id": "gid://shopify/Customer/1"}}


def _line(n, order):
    return {"id": f"gid://shopify/LineItem/{n}", "quantity": 1, "originalUnitPriceSet": {"shopMoney": {"amount": "5"}},
            "product": {"id": "gid://shopify/Product/1"}, "variant": {"id": "gid://shopify/ProductVariant/1"},
            "__parentId": f"gid://shopify/Order/{order}"}


def _write(tmp_path, lines):
    path = tmp_path / "orders.jsonl"
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


def _count(conn, table, run_id=None):
    with conn.cursor() as cur:
        if run_id:
            cur.execute(f"select count(*) from raw_shopify.{table} where _run_id = %s", (run_id,))
        else:
            cur.execute(f"select count(*) from raw_shopify.{table}")
        return cur.fetchone()[0]


def test_lines_in_equal_loaded_plus_quarantined_and_reruns_replace(warehouse_conn, tmp_path):
    lines = [_order(1), _line(1, 1), _line(2, 1), "{broken", _order(2), _line(3, 2), {**_line(4, 2), "quantity": None}]
    path = _write(tmp_path, lines)
    report = load_bulk_jsonl(warehouse_conn, path, resource="orders", run_id="run_a")
    assert report.lines_in == 7
    assert report.rows_loaded == {"orders": 2, "order_line_items": 3}
    assert report.rows_quarantined == 2
    with warehouse_conn.cursor() as cur:
        cur.execute("select line_no, reason from raw_shopify._quarantine where run_id = 'run_a' order by line_no")
        assert cur.fetchall() == [(4, "not valid JSON: Expecting property name enclosed in double quotes at column 2"),
                                  (7, "quantity is missing")]
        cur.execute("select _record->'totalPriceSet'->'shopMoney'->>'amount', total_price::text from raw_shopify.orders "
                    "where id = 'gid://shopify/Order/1'")
        assert cur.fetchone() == ("10.00", "10.00")  # the whole record is kept beside the typed columns

    again = load_bulk_jsonl(warehouse_conn, path, resource="orders", run_id="run_a")
    assert again.rows_loaded == report.rows_loaded
    assert _count(warehouse_conn, "orders") == 2 and _count(warehouse_conn, "order_line_items") == 3
    with warehouse_conn.cursor() as cur:
        cur.execute("select count(*) from raw_shopify._quarantine")
        assert cur.fetchone()[0] == 2

    load_bulk_jsonl(warehouse_conn, path, resource="orders", run_id="run_b")  # another run keeps its own copy
    assert _count(warehouse_conn, "orders", "run_b") == 2 and _count(warehouse_conn, "orders") == 4


def test_a_crash_mid_load_leaves_the_previous_load_untouched(warehouse_conn, warehouse_db, tmp_path):
    path = _write(tmp_path, [_order(1), _line(1, 1)])
    load_bulk_jsonl(warehouse_conn, path, resource="orders", run_id="run_a")
    bigger = _write(tmp_path, [_order(1), _line(1, 1), _order(2), _line(2, 2)])

    original = warehouse_conn.cursor

    class CrashingCursor:
        def __init__(self):
            self._cur = original()
            self.copies = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._cur.close()

        def copy_expert(self, sql, f, size=8192):
            self.copies += 1
            self._cur.copy_expert(sql, f, size=size)
            if self.copies == 1:  # orders copied, line items not yet: the process dies here
                raise KeyboardInterrupt("killed mid-load")

        def __getattr__(self, name):
            return getattr(self._cur, name)

    class Conn:
        def __init__(self, conn):
            self._conn = conn

        def cursor(self):
            return CrashingCursor()

        def __getattr__(self, name):
            return getattr(self._conn, name)

    with pytest.raises(KeyboardInterrupt):
        load_bulk_jsonl(Conn(warehouse_conn), bigger, resource="orders", run_id="run_a")
    import psycopg2

    with psycopg2.connect(warehouse_db) as observer:  # what any other session sees after the crash
        assert _count(observer, "orders") == 1 and _count(observer, "order_line_items") == 1

    report = load_bulk_jsonl(warehouse_conn, bigger, resource="orders", run_id="run_a")  # rerun: nothing lost
    assert report.rows_loaded == {"orders": 2, "order_line_items": 2}
    assert _count(warehouse_conn, "orders") == 2 and _count(warehouse_conn, "order_line_items") == 2


def test_text_survives_copy_exactly(warehouse_conn, tmp_path):
    """Tabs, newlines, backslashes, a literal \\N and empty strings arrive as they were; None arrives as NULL."""
    nasty = ["tab\there", "line\nbreak\r\n", "back\\slash", "\\N", "", "ünï 🛍️", '"quoted", comma']
    lines = [{"id": f"gid://shopify/Product/{i}", "title": t, "handle": None, "updatedAt": "2026-01-01T00:00:00Z"}
             for i, t in enumerate(nasty, start=1)]
    path = tmp_path / "products.jsonl"
    path.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    report = load_bulk_jsonl(warehouse_conn, path, resource="products", run_id="r")
    assert report.rows_loaded["products"] == len(nasty)
    with warehouse_conn.cursor() as cur:
        cur.execute("select title, handle, _record->>'title' from raw_shopify.products order by id")
        rows = cur.fetchall()
    assert sorted(r[0] for r in rows) == sorted(nasty)
    assert all(r[1] is None and r[0] == r[2] for r in rows)


def test_a_kill_while_parsing_after_chunks_were_copied_leaves_the_previous_load(warehouse_db, warehouse_conn,
                                                                                   tmp_path):
    """Chunks are COPYed while later lines are still being parsed; a kill at that point must roll all of them back."""
    import psycopg2

    first = [_order(1), _line(1, 1)]
    load_bulk_jsonl(warehouse_conn, _write(tmp_path, first), resource="orders", run_id="run_a")

    def dying_lines():
        for n in range(1, 2_001):
            yield json.dumps(_order(n)) + "\n"
            yield json.dumps(_line(n, n)) + "\n"
        raise KeyboardInterrupt("killed while parsing")

    with pytest.raises(KeyboardInterrupt):
        load_bulk_jsonl(warehouse_conn, tmp_path / "unused", resource="orders", run_id="run_a", lines=dying_lines(),
                        chunk_bytes=2_000)  # dozens of chunks reach Postgres before the kill
    with psycopg2.connect(warehouse_db) as observer:
        assert _count(observer, "orders") == 1 and _count(observer, "order_line_items") == 1
    assert _count(warehouse_conn, "orders") == 1, "the killed batch's chunks were not rolled back"
