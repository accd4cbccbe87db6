"""The emulator's HTTP side: Shopify's Admin GraphQL endpoint plus a few `/_sandbox/*` helper endpoints."""

from __future__ import annotations

import html
import json
import logging
import re
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from graphql import GraphQLError, GraphQLSyntaxError, execute, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import FragmentDefinitionNode, OperationDefinitionNode

from sandbox.store_simulator import SCENARIOS

from . import errors as shopify_errors
from . import uploads
from .bulk.runner import BulkRunner
from .cost import CostContext, LeakyBucket, actual_cost, pagination_errors, requested_cost
from .faults import ERROR_BODIES, FaultError, Faults
from .mutations import MUTATIONS
from .resolvers import ExecContext, field_resolver, type_resolver
from .schema import load_schema
from .store import Store

log = logging.getLogger("sandbox.shopify_emulator")

GRAPHQL_PATH = re.compile(r"^/admin/api/(?P<version>[^/]+)/graphql\.json$")
VERSION = re.compile(r"^(?:20\d{2}-(?:01|04|07|10)|unstable)$")
BULK_FILE_PATH = re.compile(r"^/_sandbox/bulk/(?P<num>\d+)\.jsonl$")
PRODUCT_PATH = re.compile(r"^/_sandbox/products/(?P<id>.+)$")
METAFIELD_NAMESPACE = "storeloop"


@dataclass
class EmulatorConfig:
    state_dir: Path
    token: str
    seed: int = 42
    size: str = "XS"
    days: int = 365
    end: datetime | None = None
    bucket_size: float = 2000.0
    restore_rate: float = 100.0
    max_query_cost: int = 1000
    bulk_min_seconds: float = 0.0
    shop_name: str = "Storeloop Sandbox"
    error_rate: float = 0.0
    slow_ms: int = 0
    fault_seed: int | None = None  # seed of the fault stream (default: `seed`)


class ShopifyEmulator:
    """The emulated shop: store, schema, cost bucket and bulk runner. `handle_graphql` is transport-free."""

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.schema = load_schema()
        self.store = Store(
            config.state_dir,
            seed=config.seed,
            size=config.size,
            days=config.days,
            end=config.end,
            shop_name=config.shop_name,
        )
        self.bucket = LeakyBucket(config.bucket_size, config.restore_rate)
        self.mutations: dict[str, Any] = dict(MUTATIONS)
        self.faults = Faults(
            config.error_rate, config.slow_ms, config.seed if config.fault_seed is None else config.fault_seed
        )
        self.bulk = BulkRunner(
            self.store, self.schema, self.mutations, min_seconds=config.bulk_min_seconds, faults=self.faults
        )
        self.mutations["bulkOperationRunQuery"] = self.bulk.run_query_mutation
        self.mutations["bulkOperationRunMutation"] = self.bulk.run_mutation_mutation
        self.mutations["bulkOperationCancel"] = self.bulk.cancel_mutation

    def advance(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`POST /_sandbox/advance` {"days": 7, "scenario": null | name, "params": {...}}."""
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        days = payload.get("days", 7)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
            raise ValueError("days must be an integer between 1 and 366")
        scenario = payload.get("scenario")
        if scenario is not None and scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: use one of {', '.join(SCENARIOS)}")
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError("params must be a JSON object")
        return self.store.advance(days, scenario, params)

    def _cost_extension(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": self.bucket.status()}
        }

    def handle_graphql(self, body: dict[str, Any], base_url: str) -> tuple[dict[str, Any], int | None]:
        """Run one GraphQL request; returns (response body, actual cost or None)."""
        query = body.get("query")
        variables = body.get("variables") or {}
        operation_name = body.get("operationName") or None
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return {"errors": [shopify_errors.syntax_error(exc)]}, None
        problems = validate(self.schema, document)
        if problems:
            return {"errors": [shopify_errors.validation_error(e, document) for e in problems]}, None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            operation = next((o for o in operations if o.name and o.name.value == operation_name), None)
            if operation is None:
                return {"errors": [{"message": f'No operation named "{operation_name}"'}]}, None
        elif len(operations) == 1:
            operation = operations[0]
        else:
            return {"errors": [{"message": "An operation name is required"}]}, None
        if not isinstance(variables, dict):
            return {
                "errors": [{"message": "Variables must be a JSON object", "extensions": {"code": "INVALID_VARIABLE"}}]
            }, None
        coerced = get_variable_values(self.schema, operation.variable_definitions or [], variables)
        if isinstance(coerced, list):
            return {"errors": [shopify_errors.variable_error(e, variables) for e in coerced]}, None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        ctx = CostContext(self.schema, fragments, coerced)
        page_errors = pagination_errors(operation, ctx)
        if page_errors:
            return {"errors": page_errors}, None
        requested = requested_cost(operation, ctx)
        if requested > self.config.max_query_cost:
            return {
                "errors": [shopify_errors.max_cost_error(requested, self.config.max_query_cost)],
                "extensions": self._cost_extension(requested, None),
            }, None
        if not self.bucket.try_take(requested):
            self.faults.count("throttled")
            return {
                "errors": [shopify_errors.throttled_error()],
                "extensions": self._cost_extension(requested, None),
            }, None
        exec_ctx = ExecContext(store=self.store, base_url=base_url, mutations=self.mutations)
        result = execute(
            self.schema,
            document,
            context_value=exec_ctx,
            variable_values=variables,
            operation_name=operation_name,
            field_resolver=field_resolver,
            type_resolver=type_resolver,
        )
        actual = actual_cost(operation, ctx, result.data) if result.data is not None else 0
        actual = min(actual, requested)
        self.bucket.refund(requested - actual)
        response: dict[str, Any] = {}
        if result.errors:
            response["errors"] = [shopify_errors.execution_error(e) for e in result.errors]
        response["data"] = result.data
        response["extensions"] = self._cost_extension(requested, actual)
        return response, actual

    # --------------------------------------------------------------------------------------------- side pages

    def index_html(self) -> str:
        store = self.store
        catalogue = store.catalogue
        product_titles = {gid: catalogue.products.cols["title"][i] for gid, i in catalogue.products.index.items()}

        def fmt(mf) -> str:
            if mf.type.startswith("list.") and mf.type.endswith("_reference"):
                try:
                    refs = json.loads(mf.value)
                except ValueError:
                    refs = []
                return ", ".join(html.escape(product_titles.get(r, r)) for r in refs)
            return html.escape(mf.value)

        def mf_cell(owner: str) -> str:
            mfs = store.metafields.of_owner(owner, METAFIELD_NAMESPACE)
            return "<br>".join(f"<b>{html.escape(m.key)}</b> ({html.escape(m.type)}): {fmt(m)}" for m in mfs) or "—"

        stats = store.stats()
        rows_p = "".join(
            f"<tr><td>{html.escape(catalogue.products.cols['title'][i])}</td>"
            f"<td>{html.escape(catalogue.products.cols['product_type'][i])}</td><td><code>{html.escape(gid)}</code></td>"
            f"<td>{mf_cell(gid)}</td></tr>"
            for i, gid in enumerate(catalogue.products.ids)
        )
        customers = catalogue.customers
        customers_with = [gid for gid in customers.ids if store.metafields.of_owner(gid, METAFIELD_NAMESPACE)]
        shown = customers_with or customers.ids[:50]
        rows_c = "".join(
            f"<tr><td>{html.escape(customers.cols['email'][customers.index[gid]])}</td>"
            f"<td><code>{html.escape(gid)}</code></td><td>{mf_cell(gid)}</td></tr>"
            for gid in shown
        )
        note = (
            "customers with storeloop metafields"
            if customers_with
            else f"first {len(shown)} customers (none has storeloop metafields yet)"
        )
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(store.shop_name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}code{{font-size:85%}}</style>
</head><body><h1>{html.escape(store.shop_name)} — Shopify Admin API emulator</h1>
<p>{", ".join(f"{k}: {v}" for k, v in stats.items())}</p>
<h2>Products ({len(catalogue.products)})</h2><table><tr><th>title</th><th>type</th><th>id</th>
<th>metafields ({METAFIELD_NAMESPACE})</th></tr>{rows_p}</table>
<h2>Customers — {note}</h2><table><tr><th>email</th><th>id</th><th>metafields ({METAFIELD_NAMESPACE})</th></tr>
{rows_c}</table></body></html>"""


def _product_summary(record: dict[str, Any]) -> dict[str, Any]:
    """What `POST /_sandbox/products` answers: the product's publish-relevant fields after the change."""
    keys = ("id", "status", "isGiftCard", "publishedAt", "onlineStoreUrl", "totalInventory", "tracksInventory")
    return {k: (v() if callable(v) else v) for k, v in ((k, record[k]) for k in keys)}


class _Handler(BaseHTTPRequestHandler):
    server: _EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "StoreloopShopifyEmulator/0.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall per request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # one line per request is written by _log instead (never with headers, so never the token)

    def _log(self, status: int) -> None:
        """One line per request, written before the response so it is never lost to a fast shutdown."""
        path = self.path.split("?", 1)[0]
        cost = getattr(self, "_cost", None)
        started = getattr(self, "_started", time.monotonic())
        sys.stderr.write(
            f"[shopify-emulator] {self.command} {path} {status} cost={'-' if cost is None else cost}"
            f" {1000 * (time.monotonic() - started):.0f}ms\n"
        )
        sys.stderr.flush()

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", extra)

    def _base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._started, self._cost = time.monotonic(), None
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/_sandbox/health":
            self._json(200, {"ok": True})
        elif path == "/_sandbox/stats":
            self._json(200, {**app.store.stats(), **app.faults.counters()})
        elif path == "/_sandbox/faults":
            self._json(200, app.faults.settings())
        elif path == "/_sandbox/metafields":
            self._json(200, app.store.metafields.all_as_dicts())
        elif path == "/":
            self._send(200, app.index_html().encode("utf-8"), "text/html; charset=utf-8")
        elif m := BULK_FILE_PATH.match(path):
            file = app.store.bulk_operations.result_file(int(m["num"]))
            injected = app.faults.injected_error()
            if injected is not None:
                self._json(injected, ERROR_BODIES[injected], {"Retry-After": "1"} if injected == 503 else None)
            elif file is None:
                self._json(404, {"errors": "Not Found"})
            else:
                self._send(
                    200,
                    file.read_bytes(),
                    "application/jsonl",
                    {"Content-Disposition": f'attachment; filename="{file.name}"'},
                )
        elif GRAPHQL_PATH.match(path):
            self._json(405, {"errors": "GraphQL requests must be POSTed"})
        else:
            self._json(404, {"errors": "Not Found"})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        self._started, self._cost = time.monotonic(), None
        app = self.server.app
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if path.startswith("/_sandbox/"):
                self._sandbox_post(path, raw)
                return
            m = GRAPHQL_PATH.match(path)
            if not m or not VERSION.match(m["version"]):
                self._json(404, {"errors": "Not Found"})
                return
            app.faults.count("requests")
            injected = app.faults.injected_error()
            if injected is not None:  # before any work: no state change, no cost
                self._json(injected, ERROR_BODIES[injected], {"Retry-After": "1"} if injected == 503 else None)
                return
            delay = app.faults.slow_seconds()
            if delay > 0:
                time.sleep(delay)
            if self.headers.get("X-Shopify-Access-Token") != app.config.token:
                self._json(401, shopify_errors.INVALID_TOKEN_BODY)
                return
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            try:
                if content_type == "application/graphql":
                    body = {"query": raw.decode("utf-8")}
                else:
                    body = json.loads(raw or b"null")
            except (UnicodeDecodeError, ValueError):
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
                self._json(400, shopify_errors.MISSING_QUERY_BODY)
                return
            try:
                response, self._cost = app.handle_graphql(body, self._base_url())
            except GraphQLError as exc:
                response = {"errors": [shopify_errors.execution_error(exc)]}
            self._json(200, response, {"X-Shopify-API-Version": m["version"]})
        except Exception:
            log.exception("internal error handling %s", path)
            self._json(500, {"errors": "Internal Server Error"})

    def _sandbox_post(self, path: str, raw: bytes) -> None:
        app = self.server.app
        if path == uploads.UPLOAD_PATH:
            status, body, content_type = uploads.handle_upload(
                app.store.staged_uploads, self.headers.get("Content-Type") or "", raw, self._base_url()
            )
            self._send(status, body, content_type)
            return
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": "the body must be JSON"})
            return
        if path == "/_sandbox/faults":
            try:
                self._json(200, app.faults.update(payload))
            except FaultError as exc:
                self._json(400, {"error": str(exc)})
        elif path == "/_sandbox/products":
            try:
                self._json(200, _product_summary(app.store.update_product(payload)))
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
        elif path == "/_sandbox/advance":
            advance = getattr(app, "advance", None)
            if advance is None:
                self._json(404, {"errors": "Not Found"})
                return
            try:
                self._json(200, advance(payload))
            except (ValueError, TypeError) as exc:
                self._json(400, {"error": str(exc)})
            except RuntimeError as exc:
                self._json(409, {"error": str(exc)})
        else:
            self._json(404, {"errors": "Not Found"})

    def do_DELETE(self) -> None:  # noqa: N802
        self._started, self._cost = time.monotonic(), None
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/_sandbox/faults":
            self._json(200, app.faults.reset())
        elif path == "/_sandbox/stats":
            app.faults.reset_counters()
            self._json(200, {**app.store.stats(), **app.faults.counters()})
        elif m := PRODUCT_PATH.match(path):
            # the product's numeric id or GID (URL-encoded or not: /_sandbox/products/gid://shopify/Product/1 works)
            try:
                self._json(200, app.store.delete_product(unquote(m["id"])))
            except LookupError as exc:
                self._json(404, {"error": str(exc)})
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
            except RuntimeError as exc:
                self._json(409, {"error": str(exc)})
        else:
            self._json(405, {"errors": "Method Not Allowed"})

    def do_PUT(self) -> None:  # noqa: N802
        self._started, self._cost = time.monotonic(), None
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith(uploads.UPLOAD_PATH + "/"):
            try:
                status, body, content_type = uploads.handle_put(self.server.app.store.staged_uploads, self.path, raw)
            except Exception:
                log.exception("internal error handling a staged PUT")
                status, body, content_type = 500, b"", "text/plain"
            self._send(status, body, content_type)
        else:
            self._json(405, {"errors": "Method Not Allowed"})


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: ShopifyEmulator):
        self.app = app
        super().__init__(address, _Handler)


def make_server(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> _EmulatorHTTPServer:
    return _EmulatorHTTPServer((host, port), ShopifyEmulator(config))


def start_emulator(
    state_dir: str | Path,
    token: str,
    seed: int = 42,
    size: str = "XS",
    port: int = 0,
    host: str = "127.0.0.1",
    **options: Any,
) -> tuple[_EmulatorHTTPServer, threading.Thread, str]:
    """Start the emulator in a background thread; returns (server, thread, base_url like "http://127.0.0.1:PORT").

    `options` are further `EmulatorConfig` fields (bucket_size, restore_rate, max_query_cost, bulk_min_seconds,
    days, end, shop_name). Stop it with `stop_emulator(server)`."""
    config = EmulatorConfig(state_dir=Path(state_dir), token=token, seed=seed, size=size, **options)
    server = make_server(config, host, port)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="shopify-emulator", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, thread, f"http://{bound_host}:{bound_port}"


def stop_emulator(server: _EmulatorHTTPServer, timeout: float = 10.0) -> None:
    """Stop serving, wait for running bulk operations, close the state database."""
    server.shutdown()
    server.server_close()
    server.app.bulk.wait(timeout)
    server.app.store.close()
