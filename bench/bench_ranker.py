"""The learned ranker against the baselines, on point-in-time dbt features of a simulated store.

    .venv/bin/python bench/bench_ranker.py --source sim:M:21 [--ablation]
    .venv/bin/python bench/bench_ranker.py --source cj          # The Complete Journey (bench/completejourney_exports.py)
    .venv/bin/python bench/bench_ranker.py --source cj-thin     # the same, 8 % of its baskets
    .venv/bin/python bench/bench_ranker.py --source fixture     # tests/fixtures/shopify/orders_export_small_store.csv

Fills a fresh database (`storeloop_bench_ranker`): a simulated store COPYd into the raw tables as a backfill
(bench_dbt_build.py's loader), or Shopify CSV exports through the export loader as shopify_ingest loads them. Runs `dbt run` for the whole project, then builds the four feature models the ranker
reads twice more with `--vars as_of`: at the training cutoff T = C - 30 days and at the evaluation cutoff C (the
start of the 30-day holdout), reading each into memory. The order lines come from `marts.fct_order_lines`.
Baselines (popularity, repeat purchase, TIFU-KNN) are fitted on the lines before C; the ranker learns from the
candidates as of T labelled by (T, C] and is evaluated with the features as of C, by `recsys/protocol.py` like
every candidate of `recommender_train`. Prints the metric table, times, the two lists' decisions
(`promotion.decide` for `buy_again`, `promotion.decide_for_you` for `for_you`), and with `--ablation` the ranker
without each feature group, plus the feature importances.

Peak RSS: the warehouse is filled and the features are read in a child process, which hands the split, the
evaluation data and the feature tables over in a pickle; the parent then fits and evaluates, so its peak RSS is
that of training and evaluation with their inputs in memory (what recommender_train's task holds), not of the
simulation or the loads.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include", ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench_dbt_build import copy_frames, fresh_database, raw_frames, run_dbt  # noqa: E402

from sandbox.store_simulator import simulate_store  # noqa: E402
from storeloop.recsys.card import comparison_table  # noqa: E402
from storeloop.recsys.interactions import not_cancelled  # noqa: E402
from storeloop.recsys.models import PopularityRecommender, RepeatPurchaseRecommender  # noqa: E402
from storeloop.recsys.promotion import decide, decide_for_you  # noqa: E402
from storeloop.recsys.protocol import evaluate_model, evaluation_data  # noqa: E402
from storeloop.recsys.ranker import (  # noqa: E402
    FEATURE_GROUPS,
    FEATURE_MODELS,
    FEATURE_READ_LIMITS,
    LABEL_DAYS,
    LearnedRanker,
    RankerDataError,
    feature_tables,
)
from storeloop.recsys.split import time_split  # noqa: E402
from storeloop.recsys.tifu_knn import TIFUKNNRecommender  # noqa: E402
from storeloop.warehouse.export_loader import load_csv_export  # noqa: E402
from storeloop.warehouse.feature_tables import read_feature_models  # noqa: E402
from storeloop.warehouse.marts import load_order_lines  # noqa: E402
from storeloop.warehouse.migrations import migrate  # noqa: E402

BENCH_DB = "storeloop_bench_ranker"


def features_as_of(as_of: pd.Timestamp, env: dict[str, str], url: str, work: Path):
    stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
    seconds, _ = run_dbt(["run", "--select", *FEATURE_MODELS, "--vars", f"{{as_of: '{stamp}'}}"], env, work)
    t0 = time.perf_counter()
    tables = feature_tables(read_feature_models(url, "marts", FEATURE_MODELS, FEATURE_READ_LIMITS), as_of)
    return tables, seconds, time.perf_counter() - t0


def load_source(source: str, url: str, work: Path) -> str:
    """Fill the fresh warehouse from `source`; returns a description."""
    conn = psycopg2.connect(url)
    try:
        migrate(conn)
        kind, _, rest = source.partition(":")
        if kind == "sim":
            size, _, seed = rest.partition(":")
            store = simulate_store(seed=int(seed or 1), size=size or "M")
            frames = raw_frames(store, store.orders, store.line_items, store.customers, store.products, store.variants)
            copy_frames(conn, frames, "bench_run_1", pd.Timestamp.now(tz="UTC").to_pydatetime())
            return f"simulated store {size} seed {seed}: {store.counts()}"
        if kind in ("cj", "cj-thin"):
            from completejourney_exports import write_exports

            thin = float(rest) if rest else (0.08 if kind == "cj-thin" else None)
            orders, products, n = write_exports(work / "exports", thin=thin, seed=0)
            for i, path in enumerate((products, orders)):
                report = load_csv_export(conn, path, run_id=f"manual__bench_{i}")
                conn.commit()
                print(f"  loaded {path.name}: {report}", flush=True)
            return f"The Complete Journey{f' thinned to {thin:.0%} of baskets' if thin else ''}: {n:,} lines"
        if kind == "fixture":
            path = ROOT / "tests" / "fixtures" / "shopify" / (rest or "orders_export_small_store.csv")
            load_csv_export(conn, path, run_id="manual__bench_fixture")
            conn.commit()
            return f"fixture export {path.name}"
        raise SystemExit(f"unknown source {source!r}: sim:SIZE:SEED, cj, cj-thin[:RATE] or fixture[:FILE]")
    finally:
        conn.close()


def prepare(source: str, holdout_days: int, timing: list[tuple[str, float]], db: str = BENCH_DB):
    """The warehouse of `source`, its time split, and the feature tables as of T and C."""
    env, url = fresh_database(db)
    work = ROOT / ".local" / "bench_ranker" / db
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    described = load_source(source, url, work)
    timing.append(("load raw", time.perf_counter() - t0))
    seconds, _ = run_dbt(["run", "--full-refresh"], env, work)
    timing.append(("dbt run --full-refresh (as of now)", seconds))

    lines = not_cancelled(load_order_lines(url))
    split = time_split(lines, holdout_days=holdout_days)
    data = evaluation_data(split)
    cutoff = pd.Timestamp(split.cutoff)
    cutoff = cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff
    train_at = cutoff - pd.Timedelta(days=LABEL_DAYS)
    print(f"{described}; {len(lines):,} lines in fct_order_lines, cutoff {cutoff:%Y-%m-%d %H:%M}, ranker examples "
          f"as of {train_at:%Y-%m-%d %H:%M}; {len(split.eval_customers):,} evaluated customers "
          f"({data.relevant['new']['customer_id'].nunique():,} new-items)", flush=True)
    at_t, dbt_s, read_s = features_as_of(train_at, env, url, work)
    timing += [("dbt run features as of T", dbt_s), ("read features as of T", read_s)]
    at_c, dbt_s, read_s = features_as_of(cutoff, env, url, work)
    timing += [("dbt run features as of C", dbt_s), ("read features as of C", read_s)]
    return split, data, at_t, at_c


def _prepare_to_file(source: str, holdout_days: int, db: str, path: str) -> None:
    timing: list[tuple[str, float]] = []
    prepared = prepare(source, holdout_days, timing, db)
    with open(path, "wb") as f:
        pickle.dump((prepared, timing, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), f,
                    protocol=pickle.HIGHEST_PROTOCOL)


def prepare_in_child(source: str, holdout_days: int, db: str):
    """`prepare` in a spawned process (its memory is freed before training starts); returns its results, timing and
    peak RSS in KB."""
    path = ROOT / ".local" / "bench_ranker" / db / "prepared.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    child = multiprocessing.get_context("spawn").Process(target=_prepare_to_file,
                                                         args=(source, holdout_days, db, str(path)))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"preparing {source} failed (exit {child.exitcode}): see above")
    with open(path, "rb") as f:
        prepared, timing, child_rss = pickle.load(f)
    path.unlink()
    return prepared, timing, child_rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="sim:M:21", help="sim:SIZE:SEED, cj, cj-thin[:RATE] or fixture[:FILE]")
    ap.add_argument("--holdout-days", type=int, default=30)
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--db", default=BENCH_DB, help="the database to (re)create for this run")
    opts = ap.parse_args()
    (split, data, at_t, at_c), timing, prepare_rss = prepare_in_child(opts.source, opts.holdout_days, opts.db)
    modelling_started = time.perf_counter()

    metrics: dict[str, dict[str, float]] = {}
    for model in (PopularityRecommender(), RepeatPurchaseRecommender(), TIFUKNNRecommender()):
        t0 = time.perf_counter()
        model.fit(split.train)
        metrics[model.name] = evaluate_model(model.recommend, data, 10).metrics
        timing.append((f"{model.name}: fit + evaluate", time.perf_counter() - t0))

    variants = [()] + ([(g,) for g in FEATURE_GROUPS] if opts.ablation else [])
    importance = None
    for drop in variants:
        name = "ranker" if not drop else f"ranker - {drop[0]}"
        ranker = LearnedRanker(seed=0, drop_groups=drop)
        t0 = time.perf_counter()
        try:
            ranker.fit(split.train, at_t)
        except RankerDataError as exc:
            print(f"  {name}: not trained: {exc}", flush=True)
            break
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        metrics[name] = evaluate_model(lambda h, k, r=ranker: r.recommend(h, k, features=at_c), data, 10).metrics
        timing.append((f"{name}: fit ({ranker.n_train_rows_:,} rows, {ranker.n_train_groups_:,} customers)", fit_s))
        timing.append((f"{name}: evaluate", time.perf_counter() - t0))
        if not drop:
            importance = ranker.importance_.sort_values(ascending=False)
        print(f"  {name}: all ndcg {metrics[name]['all.ndcg_at_10']:.4f}, new ndcg {metrics[name]['new.ndcg_at_10']:.4f}",
              flush=True)

    timing.append(("training and evaluation, all models above", time.perf_counter() - modelling_started))
    pd.set_option("display.width", 250)
    print("\n| step | seconds |\n|---|---:|")
    for step, seconds in timing:
        print(f"| {step} | {seconds:.1f} |")
    table = comparison_table(metrics, 10)
    cols = ["model", "all.ndcg@10", "all.hit_rate@10", "new.ndcg@10", "new.hit_rate@10", "new_in_list.ndcg@10",
            "new_in_list.hit_rate@10"]
    print("\n" + table[cols].to_markdown(index=False, floatfmt=".4f"))
    main_metrics = {n: m for n, m in metrics.items() if n in ("popularity", "repeat_purchase", "tifu_knn", "ranker")}
    print(f"\nbuy_again (promotion.decide, margin 1 %, no champion): {decide(main_metrics, 10, 0.01, None).reason}")
    print(f"for_you (promotion.decide_for_you, margin 1 %): {decide_for_you(main_metrics, 10, 0.01, None).reason}")
    if "ranker" not in metrics:
        _print_rss(prepare_rss)
        return
    best = max(("popularity", "repeat_purchase", "tifu_knn"), key=lambda n: metrics[n]["all.ndcg_at_10"])
    gain = metrics["ranker"]["all.ndcg_at_10"] / metrics[best]["all.ndcg_at_10"] - 1
    print(f"\nranker vs best baseline ({best}), all-items NDCG@10: {gain:+.1%}; new-items NDCG@10 vs popularity: "
          f"{metrics['ranker']['new.ndcg_at_10'] / max(metrics['popularity']['new.ndcg_at_10'], 1e-12):.2f}x")
    if importance is not None:
        print("\nfeature importance (gain, share):")
        print((importance / importance.sum()).round(4).to_string())
    _print_rss(prepare_rss)


def _print_rss(prepare_rss_kb: int) -> None:
    print(f"\npeak RSS: training and evaluation (this process) "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; preparing (child: simulation or "
          f"export load, dbt, feature reads) {prepare_rss_kb / 1024:.0f} MB")


if __name__ == "__main__":
    main()
