"""Failure callback shared by every DAG: tells the team in Slack which task failed and why."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def notify_failure(context) -> None:
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", context.get("run_id", "?"))
    text = (f":red_circle: *Storeloop* `{dag_id}` failed at task `{task_id}` (run `{run_id}`)\n"
            f"> {str(exc)[:500] if exc else 'no exception recorded'}\n"
            "Open the task's log in the Airflow UI, fix the cause, then clear the task to rerun it: every task "
            "replaces its own run's output, so a rerun never duplicates.")
    try:
        from storeloop.orchestration.connections import slack_channel, slack_client

        slack_client().chat_postMessage(channel=slack_channel(), text=text)
    except Exception as err:  # a broken Slack must never hide the original failure
        log.warning("could not post the failure to Slack: %s", err)
