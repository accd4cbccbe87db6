"""What a publish would change in the store: the desired lists against what the store holds (`ml.published_lists`).

A list is written only when its value digest differs from the one recorded for its owner and key (or none is
recorded); a recorded list whose owner gets no list any more is deleted. A rerun of a publish that completed finds
nothing to do. Pure: the caller reads the state and writes the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

LIST_COLUMNS = ("owner_gid", "key", "value", "digest", "items")
STATE_COLUMNS = ("owner_gid", "key", "value_digest")


@dataclass
class PublishPlan:
    desired: pd.DataFrame  # LIST_COLUMNS: every list the store should hold
    to_set: pd.DataFrame  # LIST_COLUMNS: new or changed lists, plus `change`: "new" / "changed"
    to_delete: pd.DataFrame  # owner_gid, key: recorded lists whose owner gets none any more
    unchanged: int
    recorded: int  # lists the store holds according to the state

    @property
    def first_publish(self) -> bool:
        return self.recorded == 0

    def counts(self) -> dict[str, int]:
        """Counts by action (and by key), for logs, the dry run and the publish record."""
        out = {"desired": len(self.desired), "new": int((self.to_set["change"] == "new").sum()),
               "changed": int((self.to_set["change"] == "changed").sum()), "delete": len(self.to_delete),
               "unchanged": self.unchanged}
        for key, n in self.to_set.groupby("key").size().items():
            out[f"set.{key}"] = int(n)
        for key, n in self.to_delete.groupby("key").size().items():
            out[f"delete.{key}"] = int(n)
        return out

    def changed_share(self) -> float:
        """Share of the lists involved (held or desired) that this publish would write or delete."""
        involved = max(self.recorded, len(self.desired), 1)
        return (len(self.to_set) + len(self.to_delete)) / involved

    def sample(self, n: int = 5) -> list[str]:
        """A few changed lists and deletions, as lines for a log."""
        lines = [f"{row.change:7} {row.owner_gid} {row.key} = {row.value}" for row in self.to_set.head(n).itertuples()]
        lines += [f"delete  {row.owner_gid} {row.key}" for row in self.to_delete.head(n).itertuples()]
        return lines


def plan_publish(desired: pd.DataFrame, state: pd.DataFrame) -> PublishPlan:
    """Compare `desired` (LIST_COLUMNS) with `state` (STATE_COLUMNS, what the store holds)."""
    if desired.duplicated(["owner_gid", "key"]).any():
        raise ValueError("desired lists hold an owner and key twice: one list per owner and key")
    merged = desired.merge(state[list(STATE_COLUMNS)], on=["owner_gid", "key"], how="left")
    recorded = merged["value_digest"].notna()
    changed = merged["digest"] != merged["value_digest"]
    to_set = merged.loc[changed, list(LIST_COLUMNS)].copy()
    to_set["change"] = recorded[changed].map({True: "changed", False: "new"}).to_numpy()
    kept = pd.MultiIndex.from_frame(desired[["owner_gid", "key"]])
    held = state[["owner_gid", "key"]]
    to_delete = held.loc[~pd.MultiIndex.from_frame(held).isin(kept)].reset_index(drop=True)
    return PublishPlan(desired=desired, to_set=to_set.reset_index(drop=True), to_delete=to_delete,
                       unchanged=int((~changed).sum()), recorded=len(state))
