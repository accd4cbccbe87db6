"""Writing a publish plan to the store, resumably: lists go out in chunks and each chunk's outcome is recorded
(through `PublishState`) before the next one starts, so a crash or a Shopify failure mid-way leaves the record true
to the store (at worst a list written but not yet recorded, which the next run writes again: metafieldsSet is
idempotent), and the next run finishes the job.

One bad owner never blocks the others: metafieldsSet is all-or-nothing per call, so when Shopify names the input at
fault (a product deleted in Shopify, say), that owner is recorded as a failure with Shopify's message and the other
inputs of its call are sent again without it. A list that names a product Shopify no longer has ("references
non-existent resource") is sent again without that product (and recorded with the digest of what was written), so a
deletion the warehouse has not seen yet costs one entry, not the whole list.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from storeloop.publish.metafields import NAMESPACE, metafield_inputs, value_digest
from storeloop.shopify.bulk_mutation import DEFAULT_BULK_THRESHOLD, write_metafields
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.metafield_admin import delete_metafields, read_metafield_values

log = logging.getLogger(__name__)

CHUNK = 5000  # lists per recorded chunk: what a crash can cost to redo (a bulk mutation each above 1,000)
GONE = "does not exist"  # Shopify's message for an owner that is not there (deleted)


@dataclass(frozen=True)
class Failure:
    owner_gid: str
    key: str
    action: str  # set / delete
    message: str
    code: str | None = None


class PublishState(Protocol):
    """Where each chunk's outcome is recorded (storeloop.warehouse.publish_state.PublishStateTable)."""

    def record_written(self, lists: pd.DataFrame) -> None: ...  # owner_gid, key, digest, items

    def record_deleted(self, pairs: pd.DataFrame) -> None: ...  # owner_gid, key

    def record_failures(self, failures: list[Failure]) -> None: ...


@dataclass
class WriteOutcome:
    written: int = 0
    deleted: int = 0
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def _write_chunk(client: ShopifyClient, lists: pd.DataFrame, bulk_threshold: int) -> tuple[pd.DataFrame, list[Failure],
                                                                                          int]:
    """Write one chunk; returns (the lists written, failures, requests). Inputs Shopify names as faulty fail; the
    innocent inputs of their calls are sent once more without them."""
    pending = lists.reset_index(drop=True)
    written: list[pd.DataFrame] = []
    failures: list[Failure] = []
    requests = 0
    for attempt in (1, 2):
        report = write_metafields(client, metafield_inputs(pending), bulk_threshold=bulk_threshold)
        requests += report.requests
        unwritten = sorted(set(report.unwritten))
        written.append(pending.drop(index=unwritten))
        if not unwritten:
            break
        blamed: dict[int, tuple[str, str | None]] = {}
        for error in report.user_errors:
            if error.input_index is not None and error.input_index in unwritten:
                blamed.setdefault(error.input_index, (error.message, error.code))
        general = "; ".join(e.message for e in report.user_errors if e.input_index is None)[:500]
        repaired = {}
        for i, (message, code) in blamed.items():
            missing = _MISSING_ITEM.search(message)
            if attempt == 1 and missing:  # the list names a product deleted in Shopify: send it without that one
                repaired[i] = _without(pending.loc[i], missing.group(1))
                log.warning("publish: %s %s names %s, which Shopify no longer has: written without it",
                            pending.at[i, "owner_gid"], pending.at[i, "key"], missing.group(1))
            else:
                failures.append(Failure(pending.at[i, "owner_gid"], pending.at[i, "key"], "set", message, code))
        innocent = [i for i in unwritten if i not in blamed]
        if attempt == 2 or not (innocent or repaired) or not blamed:
            # nothing left out changed the call: the rest fails for a reason that is not one owner's
            failures.extend(Failure(pending.at[i, "owner_gid"], pending.at[i, "key"], "set",
                                    general or "not written (Shopify gave no reason)") for i in innocent)
            break
        retry = pending.loc[innocent]
        if repaired:
            retry = pd.concat([retry, pd.DataFrame(list(repaired.values()))])
        pending = retry.loc[retry["items"] > 0].reset_index(drop=True)
    return pd.concat(written, ignore_index=True), failures, requests


_MISSING_ITEM = re.compile(r"non-existent resource (gid://shopify/Product/\d+)")


def _without(row: pd.Series, gid: str) -> pd.Series:
    """A list row (owner_gid, key, value, digest, items) with product `gid` taken out of its value."""
    items = [item for item in json.loads(row["value"]) if item != gid]
    value = json.dumps(items)
    return pd.Series({**row.to_dict(), "value": value, "digest": value_digest(pd.Series([value])).iloc[0],
                      "items": len(items)})


def write_lists(client: ShopifyClient, to_set: pd.DataFrame, state: PublishState, *, chunk: int = CHUNK,
                bulk_threshold: int = DEFAULT_BULK_THRESHOLD) -> WriteOutcome:
    """Write `to_set` (owner_gid, key, value, digest, items) chunk by chunk, recording each chunk's outcome."""
    outcome = WriteOutcome()
    for n, part in enumerate(_chunks(to_set, chunk), start=1):
        done, failures, requests = _write_chunk(client, part, bulk_threshold)
        state.record_written(done)
        if failures:
            state.record_failures(failures)
        outcome.written += len(done)
        outcome.failures.extend(failures)
        outcome.requests += requests
        log.info("publish: chunk %d: %d lists written, %d failed (%d of %d written so far)", n, len(done),
                 len(failures), outcome.written, len(to_set))
    return outcome


def delete_lists(client: ShopifyClient, to_delete: pd.DataFrame, state: PublishState) -> WriteOutcome:
    """Delete the metafields of `to_delete` (owner_gid, key). An owner gone from Shopify has lost its metafield with
    it: its record is removed too (and the failure noted)."""
    outcome = WriteOutcome()
    for key, rows in to_delete.groupby("key", sort=True):
        for part in _chunks(rows, CHUNK):
            report = delete_metafields(client, part["owner_gid"].tolist(), NAMESPACE, str(key))
            gone = [f.owner_id for f in report.failed if GONE in f.message]
            failures = [Failure(f.owner_id, str(key), "delete", f.message, f.code) for f in report.failed]
            removed = pd.DataFrame({"owner_gid": report.deleted + gone, "key": key})
            state.record_deleted(removed)
            if failures:
                state.record_failures(failures)
            outcome.deleted += len(report.deleted)
            outcome.failures.extend(failures)
            outcome.requests += report.requests
    return outcome


def read_back_mismatches(client: ShopifyClient, lists: pd.DataFrame) -> list[str]:
    """Read the metafields of `lists` back from the store; one line per list whose value differs from the one
    written (the canary check)."""
    problems = []
    for key, rows in lists.groupby("key", sort=True):
        held = read_metafield_values(client, rows["owner_gid"].tolist(), NAMESPACE, str(key))
        for owner, value in zip(rows["owner_gid"], rows["value"], strict=True):
            got = held.get(owner)
            if got is None or json.loads(got) != json.loads(value):
                problems.append(f"{owner} {key}: wrote {value[:120]}, read back {str(got)[:120]}")
    return problems


# Reading a list back costs 2 query points (the node and its metafield): bench/bench_publish.py measured the read-back
# of a 5 % canary of 212,307 lists at 195 s of a 253 s first publish under the Standard plan's 100 points/s. A canary
# of at most 1,000 lists (~20 s) says as much about the write path.
CANARY_MAX = 1000


def canary_sample(to_set: pd.DataFrame, share: float, most: int = CANARY_MAX) -> pd.Index:
    """Row labels of the canary: `share` of the lists to write (at least one when any, at most `most`), spread over
    owners by a hash of the owner id rather than the first ones in id order."""
    if to_set.empty or share <= 0:
        return to_set.index[:0]
    n = min(most, max(1, round(len(to_set) * min(share, 1.0))))
    spread = pd.util.hash_pandas_object(to_set["owner_gid"] + "|" + to_set["key"], index=False)
    return spread.sort_values(kind="stable").index[:n]
