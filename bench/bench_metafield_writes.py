"""Benchmark: writing N product metafields through the Shopify Admin API, metafieldsSet batches vs one bulk mutation.

Starts the Shopify emulator in-process with the standard plan's GraphQL cost limits and writes N metafield inputs
(distinct (owner, namespace, key): `ceil(N / products)` keys per product) twice — once with `metafieldsSet` in
batches of 25 (its per-call maximum), once with one `bulkOperationRunMutation` whose JSONL lines hold 25 inputs each —
then prints: method | HTTP requests | wall time (s) | metafields written.

Rate limits. Shopify's GraphQL Admin API limits by calculated query cost with a leaky bucket per app and store;
the documented restore rates are Standard 100 points/second, Advanced 200, Plus 1000, enterprise 2000
(https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits and https://shopify.dev/docs/api/usage/limits,
"Compare rate limits by API"). The bucket size is not in that table; 2000 points is what responses' throttleStatus
report with a 100 points/s restore rate (`"maximumAvailable": 2000.0, "restoreRate": 100.0`) and is the emulator's
default. Older material (community posts, pre-2024) quotes Standard as 1000 points / 50 per second: pass
`--bucket 1000 --restore 50` to reproduce that.

HTTP requests counts every HTTP call made (Admin API calls including THROTTLED/5xx retries, the staged upload
POST and the result download). Run: .venv/bin/python bench/bench_metafield_writes.py [--n 20000] [--size M]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from sandbox.shopify_emulator import start_emulator, stop_emulator  # noqa: E402
from storeloop.shopify.bulk import iter_bulk_records, run_bulk_query  # noqa: E402
from storeloop.shopify.bulk_mutation import write_metafields  # noqa: E402
from storeloop.shopify.client import ShopifyClient  # noqa: E402
from storeloop.shopify.config import ShopifyConfig  # noqa: E402

TOKEN = "shpat_bench"


class CountingSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.count = 0
        self.statuses: dict[int, int] = {}

    def request(self, *args, **kwargs):
        resp = super().request(*args, **kwargs)
        self.count += 1
        self.statuses[resp.status_code] = self.statuses.get(resp.status_code, 0) + 1
        return resp


def product_ids(base_url: str, tmp: Path) -> list[str]:
    client = ShopifyClient(ShopifyConfig(base_url, TOKEN))
    path = tmp / "products.jsonl"
    run_bulk_query(client, "{ products { edges { node { id } } } }", path, poll_s=0.2)
    return [rec["id"] for rec, parent in iter_bulk_records(path) if parent is None]


def make_inputs(products: list[str], n: int, namespace: str) -> list[dict]:
    keys = math.ceil(n / len(products))
    out = []
    for k in range(keys):
        for p in products:
            if len(out) == n:
                return out
            out.append({"ownerId": p, "namespace": namespace, "key": f"rec_{k:03d}", "type": "number_integer",
                        "value": str(len(out))})
    return out


def supports_bulk_mutation(base_url: str) -> bool:
    """Probe stagedUploadsCreate through the client (paced, THROTTLED retried): an unknown field is a GraphQL error."""
    from storeloop.shopify.errors import ShopifyError

    q = ('mutation { stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename: "probe.jsonl", '
         'mimeType: "text/jsonl", httpMethod: POST}]) { stagedTargets { url } userErrors { message } } }')
    try:
        data = ShopifyClient(ShopifyConfig(base_url, TOKEN)).execute(q)
    except ShopifyError:
        return False
    return bool((data.get("stagedUploadsCreate") or {}).get("stagedTargets"))


def run(method: str, base_url: str, inputs: list[dict], tmp: Path) -> tuple[str, int, float, int, int, dict]:
    session = CountingSession()
    client = ShopifyClient(ShopifyConfig(base_url, TOKEN), session=session)
    upload_session = CountingSession()  # the staged upload and the result download do not go through the client
    orig_get, orig_post = requests.get, requests.post
    requests.get, requests.post = upload_session.get, upload_session.post
    try:
        started = time.monotonic()
        if method == "metafieldsSet":
            report = write_metafields(client, inputs, bulk_threshold=len(inputs) + 1)
        else:
            report = write_metafields(client, inputs, bulk_threshold=1, tmp_dir=tmp, bulk_kw={"poll_s": 0.5})
        wall = time.monotonic() - started
    finally:
        requests.get, requests.post = orig_get, orig_post
    statuses = dict(session.statuses)
    for s, n in upload_session.statuses.items():
        statuses[s] = statuses.get(s, 0) + n
    return method, session.count + upload_session.count, wall, report.metafields_written, len(report.user_errors), \
        statuses


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="metafields to write per method (default 20000)")
    ap.add_argument("--size", default="M", help="emulator store size (XS/S/M/L; M = 1,000 products)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--bucket", type=float, default=2000.0, help="cost bucket size in points (default 2000)")
    ap.add_argument("--restore", type=float, default=100.0, help="restore rate, points/s (standard plan: 100)")
    ap.add_argument("--state-dir", type=Path, default=None,
                    help="emulator state dir to reuse (seeding an M store takes a while; default: a temp dir)")
    ap.add_argument("--methods", default="metafieldsSet,bulk", help="comma-separated: metafieldsSet,bulk")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-metafields-"))
    state_dir = args.state_dir or tmp / "state"
    t0 = time.monotonic()
    server, _thread, base_url = start_emulator(state_dir, TOKEN, seed=args.seed, size=args.size, port=0,
                                               bucket_size=args.bucket, restore_rate=args.restore)
    try:
        products = product_ids(base_url, tmp)
        print(f"store {args.size}: {len(products)} products (ready in {time.monotonic() - t0:.1f}s); "
              f"bucket {args.bucket:g} points, restore {args.restore:g} points/s; N={args.n} "
              f"({math.ceil(args.n / len(products))} keys per product)")
        rows = []
        bulk_ok = supports_bulk_mutation(base_url)
        for i, method in enumerate(m.strip() for m in args.methods.split(",")):
            if method == "bulk" and not bulk_ok:
                print("bulk: this emulator does not support stagedUploadsCreate/bulkOperationRunMutation yet; "
                      "skipping the bulk path")
                continue
            inputs = make_inputs(products, args.n, f"bench_{method.lower()}_{i}_{int(time.time())}")
            time.sleep(args.bucket / args.restore if args.restore else 0)  # start each method with a full bucket
            rows.append(run(method, base_url, inputs, tmp))
        written = requests.get(f"{base_url}/_sandbox/stats", timeout=30).json().get("metafields")
    finally:
        stop_emulator(server)

    print()
    print(f"{'method':<14} | {'HTTP requests':>13} | {'wall time (s)':>13} | {'metafields written':>18} | "
          f"{'user errors':>11} | statuses")
    print("-" * 95)
    for method, n_req, wall, n_written, n_err, statuses in rows:
        print(f"{method:<14} | {n_req:>13} | {wall:>13.1f} | {n_written:>18} | {n_err:>11} | {statuses}")
    print(f"\nemulator now holds {written} metafields")
    return 0 if all(r[3] == args.n for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
