"""Roll the `champion` alias back to the previous champion (one command); `--alias for_you` does the same for the
model of the `for_you` list.

    python -m storeloop.recsys.rollback --reason "CTR dropped after v7"          # to the recorded previous champion
    python -m storeloop.recsys.rollback --to 5 --reason "..."                     # to an explicit version
    python -m storeloop.recsys.rollback --dry-run                                 # say what would happen

Reads `MLFLOW_TRACKING_URI` and `STORELOOP_MODEL_NAME` (default `storeloop_recommender`) unless given as options.
Every promotion tags the new champion with `previous_champion_version` (a `for_you` promotion: `for_you.previous_version`); rollback moves `champion` there, tags the
version rolled back from (`rolled_back_at`, `rolled_back_to`, `rollback_reason`) and the restored one
(`restored_at`, `restored_from_version`). Rolling back again walks further back the chain. This moves the alias only:
`make rollback` then runs recommender_score with `force`, which republishes the restored model's lists through the
publish diff (docs/recommender.md, "Rollback").
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

CHAMPION_ALIAS = "champion"
PREVIOUS_TAGS = {CHAMPION_ALIAS: "previous_champion_version", "for_you": "for_you.previous_version"}


@dataclass(frozen=True)
class Rollback:
    model_name: str
    from_version: int
    to_version: int
    reason: str
    applied: bool


def rollback(
    tracking_uri: str,
    model_name: str,
    to_version: int | None = None,
    reason: str = "manual rollback",
    dry_run: bool = False,
    alias: str = CHAMPION_ALIAS,
) -> Rollback:
    """Move `alias` (`champion` or `for_you`) from its current version to `to_version` (default: the recorded
    previous one)."""
    if alias not in PREVIOUS_TAGS:
        raise ValueError(f"alias {alias!r} cannot be rolled back: one of {sorted(PREVIOUS_TAGS)}")
    previous_tag = PREVIOUS_TAGS[alias]
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        current = client.get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        raise LookupError(f"registered model {model_name!r} has no alias {alias!r} at {tracking_uri}: "
                          "nothing to roll back") from exc
    if to_version is None:
        recorded = current.tags.get(previous_tag)
        if not recorded or not recorded.isdigit():
            raise LookupError(
                f"{model_name} version {current.version} (@{alias}) has no {previous_tag!r} tag: it was the first "
                f"@{alias}, so there is nothing to roll back to; pass --to VERSION to choose one"
            )
        to_version = int(recorded)
    if int(to_version) == int(current.version):
        raise ValueError(f"version {to_version} is already @{alias} of {model_name}")
    try:
        target = client.get_model_version(model_name, str(to_version))
    except MlflowException as exc:
        raise LookupError(f"{model_name} has no version {to_version}") from exc
    result = Rollback(model_name, int(current.version), int(target.version), reason, applied=not dry_run)
    if dry_run:
        return result
    now = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_registered_model_alias(model_name, alias, str(target.version))
    prefix = "" if alias == CHAMPION_ALIAS else f"{alias}."
    for key, value in {"rolled_back_at": now, "rolled_back_to": target.version, "rollback_reason": reason}.items():
        client.set_model_version_tag(model_name, str(current.version), prefix + key, str(value))
    for key, value in {"restored_at": now, "restored_from_version": current.version, "restore_reason": reason}.items():
        client.set_model_version_tag(model_name, str(target.version), prefix + key, str(value))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storeloop.recsys.rollback", description=__doc__.split("\n")[0])
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"))
    parser.add_argument("--model-name", default=os.environ.get("STORELOOP_MODEL_NAME", "storeloop_recommender"))
    parser.add_argument("--to", type=int, default=None, help="version to restore (default: the previous champion)")
    parser.add_argument("--reason", default="manual rollback", help="recorded as a version tag")
    parser.add_argument("--dry-run", action="store_true", help="print what would happen, change nothing")
    parser.add_argument("--alias", choices=sorted(PREVIOUS_TAGS), default=CHAMPION_ALIAS,
                        help="which list's model to roll back (default: champion)")
    args = parser.parse_args(argv)
    if not args.tracking_uri:
        parser.error("no tracking URI: set MLFLOW_TRACKING_URI (see .env) or pass --tracking-uri")
    try:
        done = rollback(args.tracking_uri, args.model_name, args.to, args.reason, args.dry_run, args.alias)
    except (LookupError, ValueError) as exc:
        print(f"rollback failed: {exc}", file=sys.stderr)
        return 1
    verb = "would move" if args.dry_run else "moved"
    print(f"{done.model_name}: {verb} @{args.alias} from version {done.from_version} to {done.to_version} "
          f"({done.reason})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
