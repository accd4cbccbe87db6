"""Benchmark: recommender training + evaluation on a simulated store, per candidate, with peak memory.

Builds `marts.fct_order_lines` in memory from `sandbox.store_simulator.simulate_store(seed, size)` (no database, no
MLflow), splits it like recommender_train (last `--holdout-days` days), then for every candidate of
`storeloop.recsys.training.default_candidates` (plus the related-products model) measures:

- fit seconds, evaluation seconds (both settings: all items and new items, see storeloop.recsys.protocol),
- peak traced memory during fit + evaluation (tracemalloc, which sees numpy/scipy/pandas buffers),

and prints a timing table, the metric table of every candidate and baseline in both settings, and the decision the
promotion rule (storeloop.recsys.promotion.decide, first run: no champion) takes on them. The process' peak RSS
(resource.getrusage) is printed at the end; it includes the simulation itself.

Run: .venv/bin/python bench/bench_train.py --size L --seed 1      (the L store: 1M orders, ~1.9M lines)
     .venv/bin/python bench/bench_train.py --size S --seed 42     (the demo store)
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import pandas as pd  # noqa: E402

from sandbox.store_simulator import simulate_store  # noqa: E402
from sandbox.synthetic_order_lines import customers_from_simulation, order_lines_from_simulation  # noqa: E402
from storeloop.recsys.card import comparison_table  # noqa: E402
from storeloop.recsys.interactions import not_cancelled  # noqa: E402
from storeloop.recsys.models import RelatedProductsModel  # noqa: E402
from storeloop.recsys.promotion import decide, promotion_margin  # noqa: E402
from storeloop.recsys.protocol import (  # noqa: E402
    customer_segments,
    evaluate_model,
    evaluate_related,
    evaluation_data,
)
from storeloop.recsys.split import time_split  # noqa: E402
from storeloop.recsys.training import default_candidates  # noqa: E402


def _mb(n_bytes: float) -> float:
    return n_bytes / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="L", choices=["XS", "S", "M", "L"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", default=None, help="end of the simulated period, YYYY-MM-DD (default: today)")
    parser.add_argument("--holdout-days", type=int, default=30)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip memory tracing (faster)")
    args = parser.parse_args()
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC) if args.end else None

    started = time.perf_counter()
    store = simulate_store(seed=args.seed, size=args.size, end=end)
    lines = order_lines_from_simulation(store)
    customers = customers_from_simulation(store, lines)
    lines = not_cancelled(lines)
    print(f"store {args.size} seed {args.seed} ending {store.end:%Y-%m-%d}: {store.counts()} -> {len(lines):,} "
          f"non-cancelled order lines ({time.perf_counter() - started:.1f}s)")
    del store
    gc.collect()
    compare_candidates(lines, customers, holdout_days=args.holdout_days, k=args.k, trace=not args.no_tracemalloc)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"process peak RSS: {rss / 1024:.0f} MB (includes the store simulation)")


def compare_candidates(lines: pd.DataFrame, customers: pd.DataFrame | None, *, holdout_days: int, k: int,
                       trace: bool) -> pd.DataFrame:
    """Split, fit and evaluate every candidate and the related-products model; print timing, metrics and the decision
    the promotion rule takes on a first run. Returns the metric table."""
    started = time.perf_counter()
    split = time_split(lines, holdout_days=holdout_days)
    data = evaluation_data(split, customer_segments(lines, customers))
    print(f"split at {split.cutoff:%Y-%m-%d}: {len(split.train):,} train lines, {len(split.holdout):,} holdout lines, "
          f"{len(split.eval_customers):,} evaluated customers (new-items setting: "
          f"{data.relevant['new']['customer_id'].nunique():,}), {data.n_catalogue:,} products "
          f"({time.perf_counter() - started:.1f}s)")

    timing_rows, metrics = [], {}
    if trace:
        tracemalloc.start()
    for model in [*default_candidates(seed=0), RelatedProductsModel()]:
        gc.collect()
        if trace:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        model.fit(split.train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if isinstance(model, RelatedProductsModel):
            related = evaluate_related(model.related_products(5), split.holdout, 5)
            summary = f"basket completion hit@5 {related['related_hit_rate_at_5']:.4f}"
        else:
            evaluation = evaluate_model(model.recommend, data, k)
            metrics[model.name] = evaluation.metrics
            summary = (f"all ndcg {evaluation.metrics[f'all.ndcg_at_{k}']:.4f}, "
                       f"new ndcg {evaluation.metrics[f'new.ndcg_at_{k}']:.4f}")
        eval_s = time.perf_counter() - t0
        peak = _mb(tracemalloc.get_traced_memory()[1] - base) if trace else float("nan")
        timing_rows.append({"model": model.name, "fit_s": round(fit_s, 2), "eval_s": round(eval_s, 2),
                            "peak_traced_MB": round(peak, 1), "result": summary})
        print(f"  {model.name}: fit {fit_s:.2f}s, eval {eval_s:.2f}s, peak {peak:.0f} MB; {summary}", flush=True)
        del model
    if trace:
        tracemalloc.stop()

    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 50)
    print("\nTiming (fit = training on the lines before the cutoff; eval = scoring the evaluated customers in both "
          "settings + metrics):")
    print(pd.DataFrame(timing_rows).to_string(index=False))
    table = comparison_table(metrics, k)
    print(f"\nMetrics at {k} (all = all items, new = items the customer never bought before the cutoff):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    margin = promotion_margin()
    decision = decide(metrics, k, margin, champion=None)
    print(f"\nPromotion rule (first run, margin {margin:.1%}): {decision.decision}, challenger {decision.challenger}"
          f"{', fallback champion ' + decision.fallback if decision.fallback else ''}: {decision.reason}")
    return table


if __name__ == "__main__":
    main()
