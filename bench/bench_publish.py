"""Benchmark: scoring every customer and product, publishing the lists to the emulator, and the next night's diff.

Three parts, one table each:

1. Scoring. Builds `marts.fct_order_lines` of a simulated store in memory (`sandbox.store_simulator.simulate_store`
   + `sandbox.synthetic_order_lines.order_lines_from_simulation`, as bench_train.py does; L = 20k products, 250k
   customers, 1M orders), fits the models like recommender_train does (on the lines before the 30-day holdout cutoff;
   the related-products table `RelatedProductsModel().related_products(30)` with training's filter), pickles them
   (as MLflow would), then, for each model in a fresh subprocess that loads the pickled model and the lines (as the
   score task loads the champion and reads the marts), times exactly what `orchestration/score.py` `_score_model`
   computes: `customer_recommendations(model, lines, customers, eligible, k=10)` over every customer and
   `product_recommendations(related, products, model.popularity(), k=10)` over every product, with ~5 % of the
   products made ineligible at random (seeded). Peak RSS per stage is the subprocess' VmHWM after the stage, reset
   before it (`echo 5 > /proc/self/clear_refs`); the RSS after loading the inputs is printed beside it. The warehouse
   writes of `_score_model` (ml.*_recommendations) are not timed.

2. First publish. Starts the Shopify emulator (`sandbox.shopify_emulator.start_emulator`, in a child process so that
   its CPU time is its own and it does not share the bench's GIL: Shopify is another machine) with Standard-plan
   cost limits (bucket 2000 points, restore 100 points/s; see bench_metafield_writes.py for the sources), on a copy
   of a seeded state cached in `.local/bench/emulator-<size>-seed<seed>/` (seeding L takes about a minute and 4 GB;
   it is reused by later runs, and copied so that each run starts with no metafields). Reads the emulator's product
   and customer GIDs with bulk queries and maps the scoring output onto them, then publishes with the product's own
   pieces in the order `orchestration/score.py` `publish` runs them: `desired_lists` (→ `publish.metafields.
   metafield_lists`), `publish_state.load_published` + `publish.plan.plan_publish`, `publish.guardrails.check`,
   `publish_state.start_publish`, the metafield definitions, a 5 % canary (`write_lists` + `read_back_mismatches`),
   the rest (`write_lists`), `delete_lists`, `publish_state.finish_publish`, with `PublishStateTable` on a fresh
   PostgreSQL database (created and dropped). Per step: lists, Admin API requests (`ShopifyClient.requests_sent`),
   staged-upload and result-download requests (counted through a counting session), wall seconds, seconds the
   client slept to stay under the cost limit, and CPU seconds of the bench process, the emulator process and the
   PostgreSQL backend (from /proc).

3. The next night. One more day of orders (`store_simulator.advance(store, 1)`: the emulator's own way of evolving
   the store; no new customers or products), rescored with the SAME fitted model in a fresh subprocess, planned
   against the state the first publish left, and the diff published; the ratio to the first publish.

Run: .venv/bin/python bench/bench_publish.py --size L --seed 1        (about 10 minutes on 2 cores)
     .venv/bin/python bench/bench_publish.py --size M --seed 1        (about a minute)
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import requests  # noqa: E402

TOKEN = "shpat_bench"
PUBLISH_DB = "storeloop_bench_publish"
CACHE = ROOT / ".local" / "bench"


# ------------------------------------------------------------------------------------------------ measuring helpers

def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def proc_cpu_s(pid: int | None) -> float:
    """utime + stime of a process (all its threads), from /proc; NaN when it cannot be read."""
    if pid is None:
        return float("nan")
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CountingSession(requests.Session):
    """Counts every HTTP request, and the Admin API answers that were THROTTLED."""

    def __init__(self):
        super().__init__()
        self.count = 0
        self.throttled = 0
        self.statuses: dict[int, int] = {}

    def request(self, *args, **kwargs):
        resp = super().request(*args, **kwargs)
        self.count += 1
        self.statuses[resp.status_code] = self.statuses.get(resp.status_code, 0) + 1
        if resp.headers.get("Content-Type", "").startswith("application/json") and b'"THROTTLED"' in resp.content:
            self.throttled += 1
        return resp


# ---------------------------------------------------------------------------------------------------- part 1: score

def score_worker(work: Path, model_name: str, night: int, k: int, save: bool) -> None:
    """Run in a fresh subprocess: load the pickled model and the night's inputs, score like `_score_model`."""
    from storeloop.recsys.scoring import customer_recommendations, product_recommendations, recommender_of

    started = time.perf_counter()
    with open(work / f"inputs-night{night}.pkl", "rb") as f:
        inputs = pickle.load(f)
    with open(work / f"model-{model_name}.pkl", "rb") as f:
        model = pickle.load(f)
    with open(work / "related.pkl", "rb") as f:
        related = pickle.load(f)
    load_s = time.perf_counter() - started
    gc.collect()
    rss_loaded = _status_kb("VmRSS")

    recommender = recommender_of(model)
    products = inputs["products"]
    _reset_peak_rss()
    t0 = time.perf_counter()
    eligible = products.loc[products["is_eligible"], "product_id"]
    customers = customer_recommendations(recommender, inputs["order_lines"], inputs["customers"], eligible, k)
    customer_s = time.perf_counter() - t0
    customer_hwm = _status_kb("VmHWM")

    _reset_peak_rss()
    t0 = time.perf_counter()
    owners = products.loc[~products["is_deleted"]]
    related_out = product_recommendations(related, owners, recommender.popularity(), k)
    product_s = time.perf_counter() - t0
    product_hwm = _status_kb("VmHWM")

    by_source = customers.drop_duplicates("customer_id")["source"].value_counts().to_dict()
    result = {"model": model_name, "night": night, "load_s": load_s, "rss_loaded_mb": rss_loaded / 1024,
              "customers": int(customers["customer_id"].nunique()), "customers_by_source": by_source,
              "customer_rows": len(customers), "customer_s": customer_s, "customer_peak_mb": customer_hwm / 1024,
              "products": int(related_out["product_id"].nunique()), "product_s": product_s,
              "product_peak_mb": product_hwm / 1024,
              "related_by_source": related_out["source"].value_counts().to_dict()}
    if save:
        with open(work / f"scored-{model_name}-night{night}.pkl", "wb") as f:
            pickle.dump({"customers": customers, "related": related_out}, f, protocol=pickle.HIGHEST_PROTOCOL)
    with open(work / f"result-{model_name}-night{night}.json", "w") as f:
        json.dump(result, f)


def run_score_worker(work: Path, model_name: str, night: int, k: int, save: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_score-worker", str(work), model_name, str(night),
           "--k", str(k), *(["--_save"] if save else [])]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    result = json.loads((work / f"result-{model_name}-night{night}.json").read_text())
    result["process_s"] = time.perf_counter() - started
    return result


def fit_models(lines: pd.DataFrame, names: list[str], work: Path) -> list[dict]:
    """Fit like recommender_train (on the lines before the holdout cutoff) and pickle the fitted models."""
    from storeloop.recsys.models import RelatedProductsModel
    from storeloop.recsys.pyfunc import DEFAULT_RELATED_K
    from storeloop.recsys.split import time_split
    from storeloop.recsys.training import RELATED_DEPTH, default_candidates

    split = time_split(lines, holdout_days=30)
    print(f"training lines (before the 30-day holdout cutoff {split.cutoff:%Y-%m-%d}): {len(split.train):,}",
          flush=True)
    rows = []
    t0 = time.perf_counter()
    related = RelatedProductsModel().fit(split.train).related_products(k=RELATED_DEPTH)
    related = related.loc[(related["rank"] <= DEFAULT_RELATED_K) | (related["score"] > 0)].reset_index(drop=True)
    rows.append({"model": "related_products", "fit_s": time.perf_counter() - t0, "rows": len(related)})
    with open(work / "related.pkl", "wb") as f:
        pickle.dump(related, f, protocol=pickle.HIGHEST_PROTOCOL)
    candidates = {m.name: m for m in default_candidates(seed=0)}
    unknown = set(names) - set(candidates)
    if unknown:
        raise SystemExit(f"unknown model(s) {sorted(unknown)}: use some of {sorted(candidates)}")
    for name in names:
        model = candidates[name]
        gc.collect()
        t0 = time.perf_counter()
        model.fit(split.train)
        rows.append({"model": name, "fit_s": time.perf_counter() - t0})
        with open(work / f"model-{name}.pkl", "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        print(f"  fitted {name} in {rows[-1]['fit_s']:.1f}s", flush=True)
        del model
    return rows


def write_inputs(work: Path, night: int, lines: pd.DataFrame, customers: list[str], products: pd.DataFrame) -> None:
    with open(work / f"inputs-night{night}.pkl", "wb") as f:
        pickle.dump({"order_lines": lines, "customers": customers, "products": products}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)


def print_score_table(results: list[dict], fits: dict[str, float]) -> None:
    rows = []
    for r in results:
        with_history = r["customers_by_source"].get("model", 0)
        rows.append({
            "night": r["night"], "model": r["model"], "fit s": round(fits.get(r["model"], float("nan")), 1),
            "customers": f"{r['customers']:,}", "with history": f"{with_history:,}",
            "customer s": round(r["customer_s"], 1), "customers/s": f"{r['customers'] / r['customer_s']:,.0f}",
            "products": f"{r['products']:,}", "product s": round(r["product_s"], 1),
            "products/s": f"{r['products'] / r['product_s']:,.0f}",
            "RSS loaded MB": round(r["rss_loaded_mb"]), "peak customers MB": round(r["customer_peak_mb"]),
            "peak products MB": round(r["product_peak_mb"]), "load s": round(r["load_s"], 1),
        })
    print(pd.DataFrame(rows).to_string(index=False))


# ------------------------------------------------------------------------------------------------- the emulator

def _meta(state_dir: Path) -> dict[str, str]:
    db = state_dir / "shopify.sqlite3"
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("select key, value from meta").fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        conn.close()


def _seed_state(state_dir: str, seed: int, size: str) -> None:
    from sandbox.shopify_emulator.store import Store

    Store(state_dir, seed=seed, size=size).close()


def ensure_seeded_state(size: str, seed: int) -> tuple[Path, dict[str, str], float | None]:
    """The cached, seeded (never written to) emulator state of this size and seed; seeds it once (child process)."""
    pristine = CACHE / f"emulator-{size}-seed{seed}"
    meta = _meta(pristine)
    if meta.get("seeded") == "1":
        return pristine, meta, None
    if pristine.exists():
        shutil.rmtree(pristine)
    started = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_seed_state, args=(str(pristine), seed, size))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"seeding the {size} emulator state in {pristine} failed (exit {proc.exitcode})")
    return pristine, _meta(pristine), time.perf_counter() - started


def _emulator_child(state_dir: str, seed: int, size: str, bucket: float, restore: float, pipe) -> None:
    from sandbox.shopify_emulator import start_emulator, stop_emulator

    sys.stderr = open(Path(state_dir).parent / "emulator.log", "w", buffering=1)  # its one line per request  # noqa: SIM115

    server, _thread, base_url = start_emulator(state_dir, TOKEN, seed=seed, size=size, port=0, bucket_size=bucket,
                                               restore_rate=restore)
    pipe.send(base_url)
    pipe.recv()  # until told to stop
    stop_emulator(server)
    pipe.send("stopped")


@dataclass
class Emulator:
    proc: multiprocessing.Process
    pipe: object
    base_url: str

    @classmethod
    def start(cls, state_dir: Path, seed: int, size: str, bucket: float, restore: float) -> Emulator:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_emulator_child, args=(str(state_dir), seed, size, bucket, restore, child),
                           daemon=True)
        proc.start()
        if not parent.poll(900):
            proc.kill()
            raise SystemExit("the emulator did not start within 15 minutes")
        return cls(proc, parent, parent.recv())

    def stop(self) -> None:
        try:
            self.pipe.send("stop")
            self.pipe.poll(60)
        finally:
            self.proc.join(30)
            if self.proc.is_alive():
                self.proc.kill()


# --------------------------------------------------------------------------------------------- part 2/3: publish

class TimedState:
    """`PublishStateTable` with the time spent in its recording calls (PostgreSQL round trips) added up."""

    def __init__(self, inner):
        self.inner = inner
        self.seconds = 0.0

    def _timed(self, name, *args):
        t0 = time.perf_counter()
        try:
            return getattr(self.inner, name)(*args)
        finally:
            self.seconds += time.perf_counter() - t0

    def record_written(self, lists):
        return self._timed("record_written", lists)

    def record_deleted(self, pairs):
        return self._timed("record_deleted", pairs)

    def record_failures(self, failures):
        return self._timed("record_failures", failures)


class BulkWait:
    """Adds up the wall time spent in `poll_bulk_operation` (from a bulk operation's start until the client sees it
    finished: the emulator's work plus the client's poll intervals), by wrapping it where bulk.py and
    bulk_mutation.py look it up."""

    def __init__(self):
        self.seconds = 0.0
        self._patched: list[tuple[object, object]] = []

    def __enter__(self) -> BulkWait:
        from storeloop.shopify import bulk, bulk_mutation

        for module in (bulk, bulk_mutation):
            original = module.poll_bulk_operation

            def timed(*args, _original=original, **kwargs):
                t0 = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t0

            self._patched.append((module, original))
            module.poll_bulk_operation = timed
        return self

    def __exit__(self, *exc) -> None:
        for module, original in self._patched:
            module.poll_bulk_operation = original


@dataclass
class Meter:
    client: object
    api_session: CountingSession
    file_session: CountingSession
    bulk_wait: BulkWait
    emulator_pid: int | None
    pg_pid: int | None
    rows: list[dict] = field(default_factory=list)

    def snapshot(self) -> dict[str, float]:
        return {"wall": time.perf_counter(), "api": self.client.requests_sent, "files": self.file_session.count,
                "throttled": self.api_session.throttled, "paced": self.client.paced_s,
                "bulk_wait": self.bulk_wait.seconds,
                "bench_cpu": time.process_time(), "emulator_cpu": proc_cpu_s(self.emulator_pid),
                "pg_cpu": proc_cpu_s(self.pg_pid)}

    def step(self, phase: str, name: str, lists: int | None, fn, note: str = ""):
        before = self.snapshot()
        out = fn()
        after = self.snapshot()
        d = {k: after[k] - before[k] for k in before}
        row = {"phase": phase, "step": name, "lists": lists, "api requests": d["api"], "file requests": d["files"],
               "wall s": d["wall"], "paced s": d["paced"], "bulk wait s": d["bulk_wait"], "bench cpu s": d["bench_cpu"],
               "emulator cpu s": d["emulator_cpu"], "pg cpu s": d["pg_cpu"], "throttled": d["throttled"],
               "note": note() if callable(note) else note}
        self.rows.append(row)
        print(f"  {phase} {name}: {d['wall']:.1f}s, {d['api']} API + {d['files']} file requests", flush=True)
        return out


def emulator_gids(client, tmp: Path) -> tuple[list[str], list[str]]:
    from storeloop.shopify.bulk import iter_bulk_records, run_bulk_query

    out = []
    for resource in ("products", "customers"):
        path = tmp / f"{resource}.jsonl"
        run_bulk_query(client, f"{{ {resource} {{ edges {{ node {{ id }} }} }} }}", path, poll_s=0.5)
        out.append([rec["id"] for rec, parent in iter_bulk_records(path) if parent is None])
        path.unlink()
    return out[0], out[1]


def id_map(ours: pd.Series, theirs: list[str], kind: str) -> dict[str, str] | None:
    """Our ids → the emulator's GIDs: None when they are the same ids (the emulator was seeded from the same
    simulation); else matched by creation order (GIDs increase with creation), which needs the same count."""
    ours_sorted = sorted(set(ours), key=lambda g: int(g.rsplit("/", 1)[1]))
    theirs_sorted = sorted(set(theirs), key=lambda g: int(g.rsplit("/", 1)[1]))
    if ours_sorted == theirs_sorted:
        return None
    if len(ours_sorted) != len(theirs_sorted):
        raise SystemExit(f"the emulator holds {len(theirs_sorted):,} {kind}, the scored store {len(ours_sorted):,}: "
                         "seed the emulator with the same --size and --seed")
    return dict(zip(ours_sorted, theirs_sorted, strict=True))


def publish_night(meter: Meter, phase: str, conn, client, customers: pd.DataFrame, related: pd.DataFrame,
                  products: pd.DataFrame, run_id: str, model_version: int, canary_share: float, chunk: int) -> dict:
    """One publish, step by step as `orchestration/score.py` `publish` runs it (no Slack, no abort: the bench
    reports guardrail violations and goes on)."""
    from storeloop.orchestration.score import desired_lists, ensure_definitions
    from storeloop.publish import guardrails
    from storeloop.publish.plan import plan_publish
    from storeloop.publish.writer import canary_sample, delete_lists, read_back_mismatches, write_lists
    from storeloop.warehouse import publish_state

    lists, items, skipped = meter.step(phase, "desired lists (desired_lists → metafield_lists)", None,
                                       lambda: desired_lists(customers, related))
    meter.rows[-1]["lists"] = len(lists)
    meter.rows[-1]["note"] = (f"{(lists['key'] == 'related_products').sum():,} product + "
                              f"{(lists['key'] == 'buy_again').sum():,} customer lists; {skipped}")

    def plan_step():
        state = publish_state.load_published(conn)
        return state, plan_publish(lists, state)

    state, plan = meter.step(phase, "load_published + plan_publish", None, plan_step)
    counts = plan.counts()
    meter.rows[-1]["lists"] = len(plan.to_set) + len(plan.to_delete)
    meter.rows[-1]["note"] = (f"state held {len(state):,}; new {counts['new']:,}, changed {counts['changed']:,}, "
                              f"delete {counts['delete']:,}, unchanged {counts['unchanged']:,}")

    def guard_step():
        ineligible = dict(zip(products.loc[~products["is_eligible"], "product_id"],
                              products.loc[~products["is_eligible"], "ineligible_reason"], strict=True))
        eligible_count = int(products["is_eligible"].sum())
        cov = guardrails.coverage(items, eligible_count)
        violations = guardrails.check(items, plan, ineligible, eligible_count,
                                      publish_state.last_complete_coverage(conn, run_id),
                                      guardrails.GuardrailLimits(), force=False)
        return cov, violations

    cov, violations = meter.step(phase, "guardrails.check", len(lists), guard_step)
    meter.rows[-1]["note"] = f"coverage {cov:.1%}; violations: {[v.rule for v in violations] or 'none'}"
    meter.step(phase, "start_publish", None,
               lambda: publish_state.start_publish(conn, run_id, model_version, counts, cov, False))
    definitions = meter.step(phase, "metafield definitions", None, lambda: ensure_definitions(client))
    meter.rows[-1]["note"] = str(definitions)
    sink = TimedState(publish_state.PublishStateTable(conn, run_id, model_version))
    canary = plan.to_set.loc[canary_sample(plan.to_set, canary_share)]
    first = meter.step(phase, f"canary write_lists ({canary_share:.0%})", len(canary),
                       lambda: write_lists(client, canary, sink, chunk=chunk))
    meter.rows[-1]["note"] = (f"written {first.written:,}, failed {len(first.failures)}; recording in PostgreSQL "
                              f"{sink.seconds:.1f}s")
    mismatches = meter.step(phase, "canary read_back_mismatches", len(canary),
                            lambda: read_back_mismatches(client, canary))
    meter.rows[-1]["note"] = f"{len(mismatches)} mismatches"
    pg_before = sink.seconds
    rest_frame = plan.to_set.drop(index=canary.index)
    rest = meter.step(phase, "write_lists (the rest)", len(rest_frame),
                      lambda: write_lists(client, rest_frame, sink, chunk=chunk))
    meter.rows[-1]["note"] = (f"written {rest.written:,}, failed {len(rest.failures)}; recording in PostgreSQL "
                              f"{sink.seconds - pg_before:.1f}s")
    removed = meter.step(phase, "delete_lists", len(plan.to_delete), lambda: delete_lists(client, plan.to_delete, sink))
    meter.rows[-1]["note"] = f"deleted {removed.deleted:,}, failed {len(removed.failures)}"
    failures = first.failures + rest.failures + removed.failures
    status = "complete_with_failures" if failures else "complete"
    meter.step(phase, "finish_publish", None, lambda: publish_state.finish_publish(
        conn, run_id, status))
    return {"desired": len(lists), "to_set": len(plan.to_set), "new": counts["new"], "changed": counts["changed"],
            "deleted": removed.deleted, "unchanged": plan.unchanged, "written": first.written + rest.written,
            "failures": len(failures), "mismatches": len(mismatches), "status": status,
            "violations": [str(v) for v in violations]}


def print_publish_table(rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    totals = []
    for phase, part in frame.groupby("phase", sort=False):
        total = {c: part[c].sum() for c in ("api requests", "file requests", "wall s", "paced s", "bulk wait s",
                                            "bench cpu s", "emulator cpu s", "pg cpu s", "throttled")}
        totals.append({"phase": phase, "step": "TOTAL", "lists": np.nan, **total, "note": ""})
    frame = pd.concat([frame, pd.DataFrame(totals)], ignore_index=True)
    frame["lists"] = frame["lists"].map(lambda v: "" if v is None or pd.isna(v) else f"{int(v):,}")
    for c in ("wall s", "paced s", "bulk wait s", "bench cpu s", "emulator cpu s", "pg cpu s"):
        frame[c] = frame[c].map(lambda v: "n/a" if pd.isna(v) else f"{v:.1f}")
    order = ["phase", "step", "lists", "api requests", "file requests", "throttled", "wall s", "paced s",
             "bulk wait s", "bench cpu s", "emulator cpu s", "pg cpu s", "note"]
    print(frame[order].to_string(index=False, max_colwidth=110))


# ---------------------------------------------------------------------------------------------------------- main

def simulate(size: str, seed: int, end: datetime | None):
    from sandbox.store_simulator import simulate_store

    return simulate_store(seed=seed, size=size, end=end)


def lines_of(store) -> pd.DataFrame:
    from sandbox.synthetic_order_lines import order_lines_from_simulation
    from storeloop.recsys.interactions import not_cancelled

    return not_cancelled(order_lines_from_simulation(store)).reset_index(drop=True)


def products_frame(store, share: float, seed: int) -> pd.DataFrame:
    """`product_id, product_type, vendor, is_eligible, ineligible_reason, is_deleted`: `share` of the products
    ineligible, drawn at random (seeded)."""
    rng = np.random.default_rng([seed, 5])
    n = len(store.products)
    ineligible = np.zeros(n, dtype=bool)
    ineligible[rng.choice(n, size=round(n * share), replace=False)] = True
    return pd.DataFrame({"product_id": store.products["product_id"].to_numpy(dtype=object),
                         "product_type": store.products["product_type"].to_numpy(dtype=object),
                         "vendor": store.products["vendor"].to_numpy(dtype=object),
                         "is_eligible": ~ineligible,
                         "ineligible_reason": np.where(ineligible, "made ineligible at random (bench)", None),
                         "is_deleted": False})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="L", choices=["XS", "S", "M", "L"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--models", default="repeat_purchase,item_knn,hybrid",
                    help="models to score (names of recsys.training.default_candidates)")
    ap.add_argument("--publish-model", default="hybrid", help="whose lists are published (the L champion: hybrid)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ineligible-share", type=float, default=0.05)
    ap.add_argument("--bucket", type=float, default=2000.0, help="cost bucket, points (Standard: 2000)")
    ap.add_argument("--restore", type=float, default=100.0, help="restore rate, points/s (Standard: 100)")
    ap.add_argument("--canary-share", type=float, default=0.05, help="STORELOOP_PUBLISH_CANARY_SHARE's default")
    ap.add_argument("--chunk", type=int, default=None, help="lists per chunk (default: publish.writer.CHUNK)")
    ap.add_argument("--skip-publish", action="store_true", help="part 1 only")
    ap.add_argument("--keep-db", action="store_true", help=f"keep the database {PUBLISH_DB}")
    ap.add_argument("--_score-worker", nargs=3, metavar=("DIR", "MODEL", "NIGHT"), help=argparse.SUPPRESS)
    ap.add_argument("--_save", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._score_worker:
        work, model, night = args._score_worker
        score_worker(Path(work), model, int(night), args.k, args._save)
        return 0

    from storeloop.publish.writer import CHUNK

    chunk = args.chunk or CHUNK
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.publish_model not in names:
        names.append(args.publish_model)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 50)
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-publish-", dir=CACHE))
    t_start = time.perf_counter()
    try:
        # the emulator's seeded state first: the scored store is simulated with the same seed, size and end, so
        # that the two hold the same products and customers
        pristine, meta, seed_s = (None, {}, None) if args.skip_publish else ensure_seeded_state(args.size, args.seed)
        if seed_s is not None:
            print(f"seeded the {args.size} emulator state in {pristine} in {seed_s:.1f}s (cached for later runs)")
        elif pristine is not None:
            print(f"reusing the emulator state cached in {pristine} (seeded {meta.get('seeded_at')}, "
                  f"size {meta.get('size')}, seed {meta.get('seed')}, ending {meta.get('end')})")
        end = datetime.fromisoformat(meta["end"]) if meta.get("end") else None

        t0 = time.perf_counter()
        store = simulate(args.size, args.seed, end)
        lines = lines_of(store)
        customers = store.customers["customer_id"].tolist()
        products = products_frame(store, args.ineligible_share, args.seed)
        print(f"store {args.size} seed {args.seed} ending {store.end:%Y-%m-%d}: {store.counts()} -> "
              f"{len(lines):,} non-cancelled order lines; {int((~products['is_eligible']).sum()):,} products "
              f"ineligible ({time.perf_counter() - t0:.1f}s)", flush=True)

        # ---- part 1
        fit_rows = fit_models(lines, names, work)
        fits = {r["model"]: r["fit_s"] for r in fit_rows}
        write_inputs(work, 1, lines, customers, products)
        results = []
        for name in names:
            results.append(run_score_worker(work, name, 1, args.k, save=name == args.publish_model))
            print(f"  scored {name}: customers {results[-1]['customer_s']:.1f}s, products "
                  f"{results[-1]['product_s']:.1f}s", flush=True)
        print(f"\nPart 1 — scoring ({args.size}: {len(customers):,} customers, {len(products):,} products, "
              f"k={args.k}; each model in a fresh subprocess; peak = VmHWM of the stage, reset before it):")
        print_score_table(results, fits)
        print(f"related_products (RelatedProductsModel, related_products(30), training's filter): fit "
              f"{fits['related_products']:.1f}s, {fit_rows[0]['rows']:,} rows")
        if args.skip_publish:
            return 0

        # ---- part 2
        with open(work / f"scored-{args.publish_model}-night1.pkl", "rb") as f:
            scored = pickle.load(f)
        ok = publish_part(args, pristine, meta, work, store, products, scored, chunk, results)
        print(f"\nwhole bench: {time.perf_counter() - t_start:.0f}s")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def publish_part(args, pristine: Path, meta: dict, work: Path, store, products: pd.DataFrame, scored: dict,
                 chunk: int, score_results: list[dict]) -> bool:
    import psycopg2

    from sandbox.store_simulator import advance
    from storeloop.shopify.client import ShopifyClient
    from storeloop.shopify.config import ShopifyConfig
    from storeloop.warehouse.migrations import migrate

    state_dir = work / "emulator-state"
    t0 = time.perf_counter()
    shutil.copytree(pristine, state_dir)
    copy_s = time.perf_counter() - t0
    admin_url = os.environ.get("STORELOOP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{PUBLISH_DB}" with (force)')
        cur.execute(f'create database "{PUBLISH_DB}"')
    conn = psycopg2.connect(admin_url.rsplit("/", 1)[0] + f"/{PUBLISH_DB}")
    emulator = None
    orig_get, orig_post = requests.get, requests.post
    bulk_wait = BulkWait().__enter__()
    try:
        migrate(conn)
        conn.commit()
        t0 = time.perf_counter()
        emulator = Emulator.start(state_dir, args.seed, args.size, args.bucket, args.restore)
        start_s = time.perf_counter() - t0
        stats = requests.get(f"{emulator.base_url}/_sandbox/stats", timeout=60).json()
        print(f"\nemulator: state copied in {copy_s:.1f}s, started (state loaded) in {start_s:.1f}s at "
              f"{emulator.base_url}: {stats}; bucket {args.bucket:g} points, restore {args.restore:g} points/s",
              flush=True)
        pg_pid = conn.get_backend_pid()
        if np.isnan(proc_cpu_s(pg_pid)):
            print(f"(the PostgreSQL backend {pg_pid} is not visible in /proc here: its CPU is not measured)")
        api_session = CountingSession()
        client = ShopifyClient(ShopifyConfig(emulator.base_url, TOKEN), session=api_session)
        file_session = CountingSession()  # staged uploads and result downloads do not go through the client
        requests.get, requests.post = file_session.get, file_session.post
        meter = Meter(client, api_session, file_session, bulk_wait, emulator.proc.pid, pg_pid)

        product_gids, customer_gids = meter.step("setup", "read the emulator's GIDs (2 bulk queries)", None,
                                                    lambda: emulator_gids(client, work))
        meter.rows[-1]["note"] = f"{len(product_gids):,} products, {len(customer_gids):,} customers"
        pmap = id_map(store.products["product_id"], product_gids, "products")
        cmap = id_map(store.customers["customer_id"], customer_gids, "customers")
        print(f"  GIDs: products {'identical' if pmap is None else 'mapped by creation order'}, customers "
              f"{'identical' if cmap is None else 'mapped by creation order'}")

        def mapped(frames: dict, products: pd.DataFrame):
            customers, related = frames["customers"], frames["related"]
            if pmap is not None:
                customers = customers.assign(product_id=customers["product_id"].map(pmap))
                related = related.assign(product_id=related["product_id"].map(pmap),
                                         related_product_id=related["related_product_id"].map(pmap))
                products = products.assign(product_id=products["product_id"].map(pmap))
            if cmap is not None:
                customers = customers.assign(customer_id=customers["customer_id"].map(cmap))
            return customers, related, products

        customers1, related1, products_pub = mapped(scored, products)
        publish_s = time.perf_counter()
        first = publish_night(meter, "night 1", conn, client, customers1, related1, products_pub, "bench_night_1", 1,
                              args.canary_share, chunk)
        first_wall = time.perf_counter() - publish_s
        first_rows = [r for r in meter.rows if r["phase"] == "night 1"]
        print(f"\nPart 2 — first publish of {args.publish_model}'s lists to the {args.size} emulator (Standard plan: "
              f"bucket {args.bucket:g}, restore {args.restore:g}/s; chunk {chunk:,} lists; fresh PostgreSQL "
              f"database {PUBLISH_DB}):")
        print_publish_table([r for r in meter.rows if r["phase"] in ("setup", "night 1")])
        print(f"outcome: {first}")

        # ---- part 3: one more day of orders, the same model
        requests.get, requests.post = orig_get, orig_post
        del scored, customers1, related1
        gc.collect()
        t0 = time.perf_counter()
        store2 = advance(store, 1, seed=len(store.orders))
        lines2 = lines_of(store2)
        new_orders = len(store2.orders) - len(store.orders)
        new_lines = len(store2.line_items) - len(store.line_items)
        buyers = store2.orders["customer_id"].iloc[len(store.orders):].dropna().nunique()
        write_inputs(work, 2, lines2, store2.customers["customer_id"].tolist(), products)
        sim2_s = time.perf_counter() - t0
        del store2, lines2
        gc.collect()
        night2_score = run_score_worker(work, args.publish_model, 2, args.k, save=True)
        print(f"\nnight 2: {new_orders:,} new orders ({new_lines:,} lines, {buyers:,} customers with an order) "
              f"simulated in {sim2_s:.1f}s; rescored with the same {args.publish_model} in "
              f"{night2_score['customer_s'] + night2_score['product_s']:.1f}s", flush=True)
        with open(work / f"scored-{args.publish_model}-night2.pkl", "rb") as f:
            scored2 = pickle.load(f)
        requests.get, requests.post = file_session.get, file_session.post
        customers2, related2, _ = mapped(scored2, products)
        publish_s = time.perf_counter()
        second = publish_night(meter, "night 2", conn, client, customers2, related2, products_pub, "bench_night_2",
                               1, args.canary_share, chunk)
        second_wall = time.perf_counter() - publish_s
        second_rows = [r for r in meter.rows if r["phase"] == "night 2"]
        print("\nPart 3 — the next night: one more day of orders, rescored with the same fitted model, planned "
              "against the state the first publish left, the diff published:")
        print_publish_table(second_rows)
        print(f"outcome: {second}")

        def req(rows, kind=("api requests", "file requests")):
            return sum(r[c] for r in rows for c in kind)

        summary = pd.DataFrame([
            {"publish": "night 1 (first)", "lists desired": first["desired"], "lists written": first["written"],
             "lists deleted": first["deleted"], "unchanged": first["unchanged"], "requests": req(first_rows),
             "of which API": req(first_rows, ("api requests",)), "wall s": round(first_wall, 1)},
            {"publish": "night 2 (diff)", "lists desired": second["desired"], "lists written": second["written"],
             "lists deleted": second["deleted"], "unchanged": second["unchanged"], "requests": req(second_rows),
             "of which API": req(second_rows, ("api requests",)), "wall s": round(second_wall, 1)},
        ])
        ratio_req = req(second_rows) / max(req(first_rows), 1)
        summary.loc[len(summary)] = {"publish": "night 2 / night 1", "lists desired": "", "lists written":
                                     f"{second['written'] / max(first['written'], 1):.2%}", "lists deleted": "",
                                     "unchanged": "", "requests": f"{ratio_req:.2%}", "of which API": "",
                                     "wall s": f"{second_wall / first_wall:.2%}"}
        print("\nFirst publish vs the next night's (wall = from desired lists to finish_publish):")
        print(summary.to_string(index=False))
        night1_score = next(r for r in score_results if r["model"] == args.publish_model)
        print(f"\nscoring {args.publish_model} (customers + products): night 1 {night1_score['customer_s']:.1f}s + "
              f"{night1_score['product_s']:.1f}s, night 2 {night2_score['customer_s']:.1f}s + "
              f"{night2_score['product_s']:.1f}s")
        written = requests.get(f"{emulator.base_url}/_sandbox/stats", timeout=60).json().get("metafields")
        print(f"the emulator now holds {written:,} metafields; HTTP statuses seen: API {api_session.statuses}, "
              f"files {file_session.statuses}")
        return first["failures"] == 0 and second["failures"] == 0
    finally:
        requests.get, requests.post = orig_get, orig_post
        bulk_wait.__exit__()
        if emulator is not None:
            emulator.stop()
        conn.close()
        if not args.keep_db:
            with admin.cursor() as cur:
                cur.execute(f'drop database if exists "{PUBLISH_DB}" with (force)')
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
