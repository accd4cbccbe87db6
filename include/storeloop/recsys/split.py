"""Time-based train/holdout split: train on the past, evaluate on the last `holdout_days`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from storeloop.recsys.interactions import to_utc_naive


@dataclass(frozen=True)
class TimeSplit:
    train: pd.DataFrame  # lines ordered before `cutoff`
    holdout: pd.DataFrame  # lines ordered at or after `cutoff`
    cutoff: pd.Timestamp  # naive UTC: max(ordered_at) - holdout_days
    eval_customers: np.ndarray  # customers with purchases in both train and holdout (sorted)


def cutoff_of(order_lines: pd.DataFrame, holdout_days: int = 30) -> pd.Timestamp:
    """The start of the holdout: the last `ordered_at` minus `holdout_days` (naive UTC)."""
    if holdout_days <= 0:
        raise ValueError(f"holdout_days must be positive, got {holdout_days}")
    if order_lines.empty:
        raise ValueError("cannot split an empty order-lines frame: is marts.fct_order_lines loaded?")
    return to_utc_naive(order_lines["ordered_at"]).max() - pd.Timedelta(days=holdout_days)


def time_split(order_lines: pd.DataFrame, holdout_days: int = 30) -> TimeSplit:
    """Holdout = lines in the `holdout_days` before the last `ordered_at`; train = every earlier line.

    Evaluation customers are those who bought both before and after the cutoff: only they have a history to
    recommend from and purchases to check against.
    """
    cutoff = cutoff_of(order_lines, holdout_days)
    ordered_at = to_utc_naive(order_lines["ordered_at"])
    in_holdout = (ordered_at >= cutoff).to_numpy()
    train = order_lines.loc[~in_holdout].reset_index(drop=True)
    holdout = order_lines.loc[in_holdout].reset_index(drop=True)
    if train.empty:
        raise ValueError(
            f"no training data before the cutoff {cutoff}: the order history spans {ordered_at.min()} to "
            f"{ordered_at.max()}, shorter than the {holdout_days}-day holdout the models are evaluated on. Load more "
            "history (a longer orders export, or the API pull with read_all_orders), or set STORELOOP_HOLDOUT_DAYS "
            "lower"
        )
    both = np.intersect1d(train["customer_id"].dropna().astype(str), holdout["customer_id"].dropna().astype(str))
    return TimeSplit(train=train, holdout=holdout, cutoff=cutoff, eval_customers=both)
