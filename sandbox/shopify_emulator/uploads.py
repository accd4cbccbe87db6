"""Staged uploads: `stagedUploadsCreate` for BULK_MUTATION_VARIABLES and the storage endpoint the file is POSTed to.

Shopify answers `stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename, mimeType: "text/jsonl",
httpMethod: POST}])` with a Google Cloud Storage POST-policy target (shopify.dev, "Bulk import data with the GraphQL
Admin API"): `url` is the bucket, `resourceUrl` is null, and `parameters` are the form fields to send before the file:
`key` (`tmp/<shop id>/bulk/<uuid>/<filename>`, also the `stagedUploadPath` of `bulkOperationRunMutation`),
`Content-Type`, `success_action_status` ("201"), `acl` ("private"), `policy`, `x-goog-credential`,
`x-goog-algorithm`, `x-goog-date` and `x-goog-signature`. The emulator's bucket is `POST /_sandbox/staged-uploads`:
a multipart/form-data body with those fields and the file as the last field, `file`. It answers like GCS: 201 with an
XML `PostResponse` (or 204 when `success_action_status` is not 201), 400/403 with an XML `Error`.

`StagedUploads` keeps the staged keys (in the state file) and the uploaded files (under `<state dir>/staged/`), and
finds the uploaded JSONL file a `bulkOperationRunMutation` names.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from .scalars import now_iso

if TYPE_CHECKING:
    from .persistence import StateDatabase
    from .store import Store

UPLOAD_PATH = "/_sandbox/staged-uploads"
BUCKET = "shopify-staged-uploads"
SHOP_NUMERIC_ID = "1"
SUPPORTED_RESOURCES = {"BULK_MUTATION_VARIABLES"}
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # Shopify's limit for bulk mutation variables files
_SECRET = b"storeloop-sandbox-staged-uploads"
_XML = "application/xml; charset=UTF-8"
_UPLOAD_FIELDS = ("key", "filename", "mime_type", "created_at", "uploaded_at", "size")


class StagedUploads:
    """The staged upload targets handed out (rows of the state file's `staged_uploads`) and their uploaded files."""

    def __init__(self, db: StateDatabase, state_dir: Path):
        self._db = db
        self._state_dir = state_dir

    def add(self, key: str, filename: str, mime_type: str) -> None:
        with self._db.lock:
            self._db.connection.execute(
                "insert or replace into staged_uploads (key, filename, mime_type, created_at) values (?, ?, ?, ?)",
                (key, filename, mime_type, now_iso()),
            )

    def get(self, key: str) -> dict[str, Any] | None:
        """The staged upload of `key` (filename, mime_type, created_at, uploaded_at, size), or None."""
        with self._db.lock:
            row = self._db.connection.execute(
                "select key, filename, mime_type, created_at, uploaded_at, size from staged_uploads where key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return dict(zip(_UPLOAD_FIELDS, row, strict=True))

    def mark_uploaded(self, key: str, size: int) -> None:
        with self._db.lock:
            self._db.connection.execute(
                "update staged_uploads set uploaded_at = ?, size = ? where key = ?", (now_iso(), size, key)
            )

    def path(self, key: str) -> Path:
        """Where the uploaded file of a staged key lives (inside the state directory)."""
        return self._state_dir / "staged" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".jsonl")

    def uploaded_jsonl(self, staged_upload_path: str) -> tuple[Path | None, list[dict[str, Any]]]:
        """The uploaded JSONL file a `bulkOperationRunMutation(stagedUploadPath:)` names, or userErrors: the key
        must have been staged and uploaded, and every non-blank line must be a JSON object."""
        key = staged_upload_path
        if f"{UPLOAD_PATH}/" in key:  # a resource URL-like path: take the key part
            key = key.split(f"{UPLOAD_PATH}/", 1)[1]
        record = self.get(key) if key else None
        path = self.path(key) if record else None
        if record is None or not record.get("uploaded_at") or path is None or not path.exists():
            return None, [
                {
                    "field": ["stagedUploadPath"],
                    "code": "NO_SUCH_FILE",
                    "message": "The JSONL file could not be found. Try uploading the file again, and check that "
                    "you've entered the URL correctly for the stagedUploadPath mutation argument.",
                }
            ]
        try:
            with open(path, encoding="utf-8") as fh:
                for raw in fh:
                    if raw.strip() and not raw.lstrip().startswith("{"):
                        raise ValueError("not an object")
                    if raw.strip() and not isinstance(json.loads(raw), dict):
                        raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            return None, [
                {
                    "field": ["stagedUploadPath"],
                    "code": "INVALID_STAGED_UPLOAD_FILE",
                    "message": "Unexpected file structure - expected JSONL",
                }
            ]
        return path, []


def _signature(policy: str) -> str:
    return hmac.new(_SECRET, policy.encode(), hashlib.sha256).hexdigest()


def _policy(key: str, mime_type: str, expires: datetime) -> str:
    doc = {
        "conditions": [
            {"Content-Type": mime_type},
            {"success_action_status": "201"},
            {"acl": "private"},
            ["content-length-range", 1, MAX_UPLOAD_BYTES],
            {"bucket": BUCKET},
            {"key": key},
        ],
        "expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def staged_uploads_create(store: Store, info: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The `stagedUploadsCreate` mutation (BULK_MUTATION_VARIABLES targets only)."""
    inputs = list(args.get("input") or [])
    errors: list[dict[str, Any]] = []
    for i, inp in enumerate(inputs):
        resource = inp.get("resource")
        if resource not in SUPPORTED_RESOURCES:
            errors.append(
                {
                    "field": ["input", str(i), "resource"],
                    "message": f"The Storeloop emulator only supports staged uploads of resource "
                    f"BULK_MUTATION_VARIABLES, not {resource}.",
                }
            )
        if not str(inp.get("filename") or "").strip():
            errors.append({"field": ["input", str(i), "filename"], "message": "Filename can't be blank"})
    if errors:
        return {"stagedTargets": [], "userErrors": errors}
    base_url = info.context.base_url
    now = datetime.now(UTC)
    targets = []
    for inp in inputs:
        filename = str(inp["filename"]).replace("/", "_")
        mime_type = str(inp.get("mimeType") or "text/jsonl")
        key = f"tmp/{SHOP_NUMERIC_ID}/bulk/{uuid.uuid4()}/{filename}"
        store.staged_uploads.add(key, filename, mime_type)
        policy = _policy(key, mime_type, now + timedelta(days=1))
        date = now.strftime("%Y%m%dT%H%M%SZ")
        if inp.get("httpMethod") == "PUT":  # a signed URL to PUT the file to (GraphQL's default httpMethod)
            targets.append(
                {
                    "url": f"{base_url}{UPLOAD_PATH}/{quote(key)}?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Date={date}"
                    f"&X-Goog-Expires=86400&X-Goog-Signature={_signature(key)}",
                    "resourceUrl": None,
                    "parameters": [{"name": "content_type", "value": mime_type}, {"name": "acl", "value": "private"}],
                }
            )
            continue
        targets.append(
            {
                "url": f"{base_url}{UPLOAD_PATH}",
                "resourceUrl": None,
                "parameters": [
                    {"name": "key", "value": key},
                    {"name": "Content-Type", "value": mime_type},
                    {"name": "success_action_status", "value": "201"},
                    {"name": "acl", "value": "private"},
                    {"name": "policy", "value": policy},
                    {
                        "name": "x-goog-credential",
                        "value": f"storeloop-sandbox@shopify-tiers.iam.gserviceaccount.com/{date[:8]}/auto/storage/"
                        "goog4_request",
                    },
                    {"name": "x-goog-algorithm", "value": "GOOG4-RSA-SHA256"},
                    {"name": "x-goog-date", "value": date},
                    {"name": "x-goog-signature", "value": _signature(policy)},
                ],
            }
        )
    return {"stagedTargets": targets, "userErrors": []}


# ---------------------------------------------------------------------------------------------- storage endpoint


def xml_error(code: str, message: str, details: str | None = None) -> bytes:
    extra = f"<Details>{escape(details)}</Details>" if details else ""
    return (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message>{extra}</Error>"
    ).encode()


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes, str | None]]:
    """(field name, value bytes, filename or None) for each part, in order."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts.append((str(name or ""), payload if isinstance(payload, bytes) else b"", filename))
    return parts


def _unknown_key(key: str) -> tuple[int, bytes, str]:
    return 400, xml_error("InvalidArgument", "Invalid argument.", f"Unknown staged upload key {key}."), _XML


def _signature_mismatch() -> tuple[int, bytes, str]:
    return (
        403,
        xml_error(
            "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
        ),
        _XML,
    )


def _too_small() -> tuple[int, bytes, str]:
    return 400, xml_error("EntityTooSmall", "Your proposed upload is smaller than the minimum object size."), _XML


def handle_put(uploads: StagedUploads, raw_path: str, body: bytes) -> tuple[int, bytes, str]:
    """A PUT to a signed staged-upload URL (`httpMethod: PUT` targets)."""
    parts = urlsplit(raw_path)
    key = unquote(parts.path[len(UPLOAD_PATH) + 1 :])
    signature = (parse_qs(parts.query).get("X-Goog-Signature") or [""])[0]
    if uploads.get(key) is None:
        return _unknown_key(key)
    if signature != _signature(key):
        return _signature_mismatch()
    if not body:
        return _too_small()
    path = uploads.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    uploads.mark_uploaded(key, len(body))
    return 200, b"", _XML


def handle_upload(uploads: StagedUploads, content_type: str, body: bytes, base_url: str) -> tuple[int, bytes, str]:
    """A POST to the staged-upload bucket; returns (status, body, content type)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return 400, xml_error("InvalidArgument", "POST requires a multipart/form-data body."), _XML
    if len(body) > MAX_UPLOAD_BYTES:
        return 400, xml_error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."), _XML
    try:
        parts = parse_multipart(content_type, body)
    except Exception:  # noqa: BLE001 - any malformed body is the client's error
        return 400, xml_error("InvalidArgument", "Cannot parse the multipart/form-data body."), _XML
    fields: dict[str, str] = {}
    file_bytes: bytes | None = None
    for name, value, _filename in parts:
        if name == "file":
            file_bytes = value
            break  # like GCS: fields after the file are ignored
        fields[name.lower()] = value.decode("utf-8", "replace")
    if file_bytes is None:
        return 400, xml_error("InvalidArgument", "POST requires a file field, sent last."), _XML
    key = fields.get("key")
    if not key:
        return 400, xml_error("InvalidArgument", "Invalid argument.", "POST object expects key field."), _XML
    if uploads.get(key) is None:
        return _unknown_key(key)
    policy = fields.get("policy")
    if policy is not None and fields.get("x-goog-signature") != _signature(policy):
        return _signature_mismatch()
    if not file_bytes:
        return _too_small()
    path = uploads.path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(file_bytes)
    tmp.replace(path)
    uploads.mark_uploaded(key, len(file_bytes))
    if fields.get("success_action_status") == "201":
        etag = hashlib.md5(file_bytes).hexdigest()  # noqa: S324 - an ETag, not security
        location = f"{base_url}{UPLOAD_PATH}/{key}"
        body_out = (
            "<?xml version='1.0' encoding='UTF-8'?><PostResponse>"
            f"<Location>{escape(location)}</Location><Bucket>{BUCKET}</Bucket><Key>{escape(key)}</Key>"
            f'<ETag>"{etag}"</ETag></PostResponse>'
        ).encode()
        return 201, body_out, _XML
    return 204, b"", _XML
