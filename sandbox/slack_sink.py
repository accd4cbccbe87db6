"""A local stand-in for Slack that records every message it receives.

Speaks enough of Slack's protocols for `slack_sdk` and the Airflow Slack providers:

- Web API `POST /api/chat.postMessage` (token as `Authorization: Bearer ...` or a `token` body field; JSON or
  form-encoded body) → `{"ok": true, "channel", "ts", "message"}`; without a token `{"ok": false, "error":
  "not_authed"}`, without `channel` `channel_not_found`, without text/blocks/attachments `no_text`.
  `POST /api/auth.test` → `{"ok": true, ...}`; other methods → `unknown_method`.
- Incoming webhooks `POST /services/{anything}` with a JSON body (or form field `payload`) → plain text `ok`.
- `GET /_sandbox/messages` → every message received, oldest first (kind, channel, text, blocks, received_at, ...);
  `DELETE /_sandbox/messages` clears them; `GET /_sandbox/health` → `{"ok": true}`.

Messages are appended to `messages.jsonl` in the state directory, so they survive restarts.

Run: `python -m sandbox.slack_sink --host 127.0.0.1 --port 8020 --state-dir DIR [--token xoxb-...]`, or in-process
with `start_slack_sink(state_dir, port=0)`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

__all__ = ["SlackSink", "start_slack_sink", "stop_slack_sink", "main"]

MESSAGES_FILE = "messages.jsonl"
TEAM_ID, USER_ID, BOT_ID = "T0SANDBOX", "U0SANDBOX", "B0SANDBOX"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")


def channel_id(channel: str) -> str:
    """Slack answers with channel ids: keep an id, map a name (#alerts) to a stable fake id."""
    if _CHANNEL_ID.match(channel):
        return channel
    return "C" + hashlib.sha1(channel.lstrip("#").encode()).hexdigest()[:10].upper()


class SlackSink:
    """The recorded messages (thread-safe) and the Slack semantics, independent of HTTP."""

    def __init__(self, state_dir: str | Path, token: str | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / MESSAGES_FILE
        self.token = token
        self._lock = threading.Lock()
        self._last_ts = 0.0
        self.messages: list[dict[str, Any]] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    self.messages.append(json.loads(line))

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 1e-6)
        self._last_ts = now
        return f"{now:.6f}"

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            message["ts"] = message.get("ts") or self._next_ts()
            message["received_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self.messages.append(message)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(message, ensure_ascii=False) + "\n")
            return message

    def clear(self) -> int:
        with self._lock:
            n = len(self.messages)
            self.messages = []
            self.path.write_text("", encoding="utf-8")
            return n

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def _auth_error(self, token: str | None) -> dict[str, Any] | None:
        if not token:
            return {"ok": False, "error": "not_authed"}
        if self.token is not None and token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        return None

    def web_api(self, method: str, token: str | None, params: dict[str, Any]) -> dict[str, Any]:
        if method == "api.test":
            return {"ok": True, "args": params}
        error = self._auth_error(token)
        if error:
            return error
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://storeloop-sandbox.slack.com/",
                "team": "Storeloop Sandbox",
                "user": "storeloop-bot",
                "team_id": TEAM_ID,
                "user_id": USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "chat.postMessage":
            channel = params.get("channel")
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            blocks = _maybe_json(params.get("blocks"))
            attachments = _maybe_json(params.get("attachments"))
            text = params.get("text")
            if not text and not blocks and not attachments:
                return {"ok": False, "error": "no_text"}
            cid = channel_id(str(channel))
            message = self._record(
                {
                    "kind": "chat.postMessage",
                    "channel": str(channel),
                    "channel_id": cid,
                    "text": text or "",
                    "blocks": blocks,
                    "attachments": attachments,
                    "thread_ts": params.get("thread_ts"),
                    "username": params.get("username"),
                    "icon_emoji": params.get("icon_emoji"),
                }
            )
            reply = {
                "type": "message",
                "user": USER_ID,
                "bot_id": BOT_ID,
                "text": text or "",
                "ts": message["ts"],
                "team": TEAM_ID,
            }
            if blocks:
                reply["blocks"] = blocks
            if attachments:
                reply["attachments"] = attachments
            if params.get("thread_ts"):
                reply["thread_ts"] = params["thread_ts"]
            return {"ok": True, "channel": cid, "ts": message["ts"], "message": reply}
        return {"ok": False, "error": "unknown_method"}

    def webhook(self, path: str, payload: Any) -> tuple[int, str]:
        if not isinstance(payload, dict):
            return 400, "invalid_payload"
        blocks = _maybe_json(payload.get("blocks"))
        attachments = _maybe_json(payload.get("attachments"))
        text = payload.get("text")
        if not text and not blocks and not attachments:
            return 400, "no_text"
        self._record(
            {
                "kind": "webhook",
                "channel": payload.get("channel") or path,
                "webhook": path,
                "text": text or "",
                "blocks": blocks,
                "attachments": attachments,
                "thread_ts": payload.get("thread_ts"),
                "username": payload.get("username"),
                "icon_emoji": payload.get("icon_emoji"),
            }
        )
        return 200, "ok"


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class _Handler(BaseHTTPRequestHandler):
    server: _SinkHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "StoreloopSlackSink/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _log(self, status: int) -> None:
        """One line per request, written before the response so it is never lost to a fast shutdown."""
        started = getattr(self, "_started", time.monotonic())
        sys.stderr.write(
            f"[slack-sink] {self.command} {self.path.split('?', 1)[0]} {status} "
            f"{1000 * (time.monotonic() - started):.0f}ms\n"
        )
        sys.stderr.flush()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _body(self) -> tuple[dict[str, Any] | Any, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            try:
                return json.loads(raw or b"{}"), ctype
            except ValueError:
                return None, ctype
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        return form, ctype

    def do_GET(self) -> None:  # noqa: N802
        self._started, path = time.monotonic(), self.path.split("?", 1)[0]
        if path == "/_sandbox/health":
            self._json(200, {"ok": True})
        elif path == "/_sandbox/messages":
            self._json(200, self.server.sink.all())
        else:
            self._json(404, {"ok": False, "error": "not_found"})

    def do_DELETE(self) -> None:  # noqa: N802
        self._started, path = time.monotonic(), self.path.split("?", 1)[0]
        if path == "/_sandbox/messages":
            self._json(200, {"ok": True, "deleted": self.server.sink.clear()})
        else:
            self._json(404, {"ok": False, "error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        self._started, path = time.monotonic(), self.path.split("?", 1)[0]
        sink = self.server.sink
        body, ctype = self._body()
        if path.startswith("/api/"):
            params = body if isinstance(body, dict) else {}
            auth = self.headers.get("Authorization") or ""
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.pop("token", None)
            if body is None:
                result = {"ok": False, "error": "invalid_json"}
            else:
                result = sink.web_api(path[len("/api/") :], token, params)
            self._json(200, result)
        elif path.startswith("/services/"):
            payload = body
            if isinstance(body, dict) and ctype != "application/json" and "payload" in body:
                payload = _maybe_json(body["payload"])
            status, text = sink.webhook(path[len("/services/") :], payload)
            self._send(status, text.encode(), "text/html")
        else:
            self._json(404, {"ok": False, "error": "not_found"})


class _SinkHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sink: SlackSink):
        self.sink = sink
        super().__init__(address, _Handler)


def start_slack_sink(
    state_dir: str | Path, port: int = 0, host: str = "127.0.0.1", token: str | None = None
) -> tuple[_SinkHTTPServer, threading.Thread, str]:
    """Start the sink in a background thread; returns (server, thread, base_url like "http://127.0.0.1:PORT").
    With `token`, Web API calls must carry exactly that token (else `invalid_auth`); without, any token works."""
    server = _SinkHTTPServer((host, port), SlackSink(state_dir, token))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="slack-sink", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, thread, f"http://{bound_host}:{bound_port}"


def stop_slack_sink(server: _SinkHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sandbox.slack_sink", description="Local Slack API sink")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("STORELOOP_SLACK_PORT", 8020)))
    p.add_argument("--state-dir", type=Path, required=True)
    p.add_argument("--token", default=None, help="if given, Web API calls must use exactly this token")
    args = p.parse_args(argv)
    server = _SinkHTTPServer((args.host, args.port), SlackSink(args.state_dir, args.token))
    host, port = server.server_address[:2]
    sys.stderr.write(f"[slack-sink] serving http://{host}:{port}/api/ (state: {args.state_dir})\n")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
