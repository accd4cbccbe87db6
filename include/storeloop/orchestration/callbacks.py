"""What the DAGs tell the team in Slack: which task failed and why (`notify_failure`, every DAG's failure callback),
which CSV export a run could not ingest and set aside (`notify_rejected_exports`, shopify_ingest), and which guardrail
stopped a publish (`notify_publish_aborted`, recommender_score: its task then fails without a second message).

Both post through one helper to the `slack` connection's client and STORELOOP_SLACK_CHANNEL; a broken Slack only logs a
warning, never fails (or hides the failure of) a task. Text that comes from an error goes out with every URL's query
string and credentials removed (a signed S3 URL in an error message must not reach a channel).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# scheme://user:password@  →  scheme://   (a bare `conn_id@`, as ObjectStoragePath prints s3 paths, stays)
_URL_CREDENTIALS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@:]+:[^\s/@]*@")
# scheme://host/path?query  →  scheme://host/path (a sentence's punctuation right after the query stays)
_URL_QUERY = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#'\"<>]*)\?[^\s'\"<>)\]]*?(?=[:,.;]?(?:[\s'\"<>)\]]|$))")


def redact_urls(text: str) -> str:
    """`text` with the query string (signatures, tokens) and the user:password of every URL in it removed."""
    return _URL_QUERY.sub(r"\1", _URL_CREDENTIALS.sub(r"\1", text))


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters, so that text from a file or an error shows as it is."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ids(context) -> tuple[str, str, str]:
    """(dag_id, task_id, run_id) of the task the context belongs to."""
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", None) or "?"
    run_id = getattr(ti, "run_id", None) or context.get("run_id") or "?"
    return dag_id, task_id, run_id


def _post(text: str, what: str) -> bool:
    """Post `text` to the alerts channel; False (with a warning in the log) when Slack cannot be reached."""
    try:
        from storeloop.orchestration.connections import slack_channel, slack_client

        slack_client().chat_postMessage(channel=slack_channel(), text=text)
        return True
    except Exception as err:  # a broken Slack must never fail a task, nor hide its original failure
        log.warning("could not post %s to Slack: %s", what, redact_urls(str(err)))
        return False


def notify_failure(context) -> None:
    exc = context.get("exception")
    if getattr(exc, "already_alerted", False):  # the task told Slack itself, with more to say (a stopped publish)
        return
    dag_id, task_id, run_id = _ids(context)
    text = (f":red_circle: *Storeloop* `{dag_id}` failed at task `{task_id}` (run `{run_id}`)\n"
            f"> {redact_urls(str(exc))[:500] if exc else 'no exception recorded'}\n"
            "Open the task's log in the Airflow UI, fix the cause, then clear the task to rerun it: every task "
            "replaces its own run's output, so a rerun never duplicates.")
    _post(text, "the failure")


def notify_rejected_exports(rejected: list[dict], context) -> int:
    """One Slack message per rejected export (`{"file", "reason", "moved_to", ...}`, as ingest_exports reports them):
    the file, why, where it was moved and what to do, with the dag and run ids. Returns how many were posted.

    Called right after each file is moved out of exports/: the next night does not see the file again, and a retry of
    the task does not find it to alert about a second time."""
    dag_id, task_id, run_id = _ids(context)
    posted = 0
    for entry in rejected:
        name = _escape(str(entry.get("file", "?")))
        reason = _escape(redact_urls(str(entry.get("reason", "")))[:1000])
        moved_to = _escape(redact_urls(str(entry.get("moved_to", "<landing>/exports/rejected/"))))
        text = (f":warning: *Storeloop* `{dag_id}` could not ingest the CSV export `{name}` (task `{task_id}`, "
                f"run `{run_id}`): it was set aside and the run goes on with the other files.\n"
                f"> {reason}\n"
                f"Moved to `{moved_to}`, with `{name}.reason.txt` beside it. Fix the file (or download the export "
                f"again from the Shopify admin) and drop the corrected file into `exports/` again under the same "
                f"name, `{name}`: the next run ingests it.")
        posted += _post(text, f"the rejection of {entry.get('file', '?')}")
    return posted


def notify_publish_aborted(reasons: list[str], *, run_id: str, model_version: int) -> bool:
    """One Slack message naming every guardrail (or the canary) that stopped a publish, and what to do."""
    lines = "\n".join(f"> {_escape(redact_urls(r))[:600]}" for r in reasons)
    text = (f":octagonal_sign: *Storeloop* `recommender_score` did not publish model v{model_version} "
            f"(run `{run_id}`): nothing more was written to the store, which keeps its current lists.\n{lines}\n"
            "See the task log for the plan; `ml.publish_runs` has the record. Trigger recommender_score with "
            "`{\"dry_run\": true}` to inspect the change, `{\"force\": true}` to accept a mass change, or "
            "`make rollback` to restore the previous champion.")
    return _post(text, "the stopped publish")
