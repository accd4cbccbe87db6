"""The Slack sink over real HTTP, driven by the real slack_sdk clients."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_sink import start_slack_sink, stop_slack_sink
from sandbox.testing import wait_for_health

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sink(tmp_path):
    server, _thread, base_url = start_slack_sink(tmp_path)
    yield base_url, tmp_path
    stop_slack_sink(server)


def messages(base_url: str) -> list[dict]:
    return requests.get(base_url + "/_sandbox/messages", timeout=10).json()


def test_web_client_posts_messages(sink):
    base_url, _ = sink
    client = WebClient(token="xoxb-sandbox", base_url=base_url + "/api/")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Drift detected* in `basket_size`"}}]
    resp = client.chat_postMessage(channel="#storeloop-alerts", text="Drift detected", blocks=blocks)
    assert resp["ok"] is True
    assert resp["channel"].startswith("C")
    assert resp["message"]["text"] == "Drift detected" and resp["message"]["blocks"] == blocks
    assert float(resp["ts"]) > 0 and resp["ts"] == resp["message"]["ts"]
    second = client.chat_postMessage(channel="#storeloop-alerts", text="again")
    assert float(second["ts"]) > float(resp["ts"]), "ts values are unique and increasing"
    assert client.auth_test()["ok"] is True
    got = messages(base_url)
    assert [m["text"] for m in got] == ["Drift detected", "again"]
    assert got[0]["kind"] == "chat.postMessage" and got[0]["channel"] == "#storeloop-alerts"
    assert got[0]["blocks"] == blocks and got[0]["received_at"].endswith("Z")


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_web_api_errors_like_slack(sink):
    base_url, _ = sink
    with pytest.raises(SlackApiError) as exc:
        WebClient(token=None, base_url=base_url + "/api/").chat_postMessage(channel="#a", text="x")
    assert exc.value.response.data == {"ok": False, "error": "not_authed"}
    client = WebClient(token="xoxb-sandbox", base_url=base_url + "/api/")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="", text="x")
    assert exc.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="#a")
    assert exc.value.response["error"] == "no_text"
    assert messages(base_url) == []


def test_form_encoded_body_with_token_field(sink):
    base_url, _ = sink
    r = requests.post(
        base_url + "/api/chat.postMessage",
        data={"token": "xoxb-form", "channel": "C0123456789", "text": "form body", "blocks": '[{"type": "divider"}]'},
        timeout=10,
    )
    assert r.json()["ok"] is True and r.json()["channel"] == "C0123456789"
    assert messages(base_url)[0]["blocks"] == [{"type": "divider"}]


def test_incoming_webhook(sink):
    base_url, _ = sink
    resp = WebhookClient(base_url + "/services/T000/B000/XXXX").send(text="retraining triggered")
    assert resp.status_code == 200 and resp.body == "ok"
    got = messages(base_url)
    assert got[0]["kind"] == "webhook" and got[0]["text"] == "retraining triggered"
    bad = requests.post(base_url + "/services/T000/B000/XXXX", json={}, timeout=10)
    assert bad.status_code == 400 and bad.text == "no_text"


def test_messages_persist_and_can_be_cleared(tmp_path):
    server, _t, base_url = start_slack_sink(tmp_path)
    try:
        WebClient(token="t", base_url=base_url + "/api/").chat_postMessage(channel="#x", text="kept")
    finally:
        stop_slack_sink(server)
    assert (tmp_path / "messages.jsonl").read_text().count("\n") == 1
    server, _t, base_url = start_slack_sink(tmp_path)
    try:
        assert [m["text"] for m in messages(base_url)] == ["kept"]
        assert requests.delete(base_url + "/_sandbox/messages", timeout=10).json() == {"ok": True, "deleted": 1}
        assert messages(base_url) == []
    finally:
        stop_slack_sink(server)


def test_fixed_token_is_enforced(tmp_path):
    server, _t, base_url = start_slack_sink(tmp_path, token="xoxb-right")
    try:
        with pytest.raises(SlackApiError) as exc:
            WebClient(token="xoxb-wrong", base_url=base_url + "/api/").chat_postMessage(channel="#a", text="x")
        assert exc.value.response["error"] == "invalid_auth"
        assert WebClient(token="xoxb-right", base_url=base_url + "/api/").chat_postMessage(channel="#a", text="x")["ok"]
    finally:
        stop_slack_sink(server)


def test_cli(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.slack_sink",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_health(base_url, timeout=20)
        resp = WebClient(token="xoxb-cli", base_url=base_url + "/api/").chat_postMessage(channel="#c", text="hi")
        assert resp["ok"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "POST /api/chat.postMessage 200" in err
    assert "xoxb-cli" not in err
