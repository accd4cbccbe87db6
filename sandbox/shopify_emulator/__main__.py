"""CLI: python -m sandbox.shopify_emulator --host 127.0.0.1 --port 8010 --state-dir DIR --token TOKEN --seed 42 --size S"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from sandbox.store_simulator import SIZES

from .server import EmulatorConfig, make_server


def _date(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox.shopify_emulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("STORELOOP_SHOPIFY_PORT", 8010)))
    p.add_argument("--state-dir", type=Path, required=True, help="where the store and metafields persist")
    p.add_argument(
        "--token",
        default=os.environ.get("STORELOOP_SHOPIFY_TOKEN"),
        help="the access token clients must send (default: $STORELOOP_SHOPIFY_TOKEN)",
    )
    p.add_argument("--seed", type=int, default=42, help="store simulator seed (only used to seed an empty state)")
    p.add_argument("--size", choices=sorted(SIZES), default="S", help="store size (only used to seed)")
    p.add_argument("--days", type=int, default=365, help="days of order history (only used to seed)")
    p.add_argument(
        "--end",
        type=_date,
        default=None,
        help="end of the simulated period, ISO date (default: midnight UTC today; only used to seed)",
    )
    p.add_argument("--bucket-size", type=float, default=2000.0, help="leaky bucket size in cost points")
    p.add_argument("--restore-rate", type=float, default=100.0, help="cost points restored per second")
    p.add_argument("--max-query-cost", type=int, default=1000, help="single query max cost")
    p.add_argument(
        "--bulk-min-seconds",
        type=float,
        default=0.0,
        help="keep bulk operations RUNNING at least this long (to exercise polling)",
    )
    p.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fraction of GraphQL requests and bulk downloads answered 502/503 (change at runtime: POST /_sandbox/faults)",
    )
    p.add_argument("--slow-ms", type=int, default=0, help="delay every GraphQL response by this many milliseconds")
    p.add_argument("--fault-seed", type=int, default=None, help="seed of the fault stream (default: --seed)")
    args = p.parse_args(argv)
    if not args.token:
        p.error("--token (or $STORELOOP_SHOPIFY_TOKEN) is required")
    logging.basicConfig(level=logging.INFO, format="[shopify-emulator] %(message)s", stream=sys.stderr)
    config = EmulatorConfig(
        state_dir=args.state_dir,
        token=args.token,
        seed=args.seed,
        size=args.size,
        days=args.days,
        end=args.end,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
        max_query_cost=args.max_query_cost,
        bulk_min_seconds=args.bulk_min_seconds,
        error_rate=args.error_rate,
        slow_ms=args.slow_ms,
        fault_seed=args.fault_seed,
    )
    server = make_server(config, args.host, args.port)
    host, port = server.server_address[:2]
    sys.stderr.write(
        f"[shopify-emulator] serving http://{host}:{port}/admin/api/2025-01/graphql.json "
        f"(state: {args.state_dir}, {server.app.store.stats()})\n"
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
