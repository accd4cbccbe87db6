"""bulk_mutation.py: the staged upload → bulkOperationRunMutation → result parsing flow, and write_metafields."""

from __future__ import annotations

import json

import pytest

from storeloop.shopify import bulk_mutation as bm
from storeloop.shopify.bulk_mutation import MetafieldWriteError, run_bulk_mutation, write_metafields
from storeloop.shopify.errors import BulkOperationError

PARAMS = [{"name": "Content-Type", "value": "text/jsonl"}, {"name": "success_action_status", "value": "201"},
          {"name": "key", "value": "tmp/1/bulk/abc/vars.jsonl"}, {"name": "policy", "value": "p"}]


class FakeClient:
    def __init__(self, statuses=("COMPLETED",), start_errors=()):
        self.requests_sent = 0
        self.calls: list[tuple[str, dict]] = []
        self.statuses = list(statuses)
        self.start_errors = list(start_errors)
        self.metafields_set_batches: list[list] = []

    def execute(self, query, variables=None):
        self.requests_sent += 1
        for name in ("StagedUploadsCreate", "StartBulkMutation", "BulkOperationStatus", "CurrentBulkOperation",
                     "SetMetafields"):
            if name in query:
                break
        self.calls.append((name, variables))
        if name == "StagedUploadsCreate":
            return {"stagedUploadsCreate": {"stagedTargets": [{"url": "http://upload.test/", "resourceUrl": None,
                                                               "parameters": PARAMS}], "userErrors": []}}
        if name == "StartBulkMutation":
            if self.start_errors:
                return {"bulkOperationRunMutation": {"bulkOperation": None, "userErrors": [self.start_errors.pop(0)]}}
            return {"bulkOperationRunMutation": {"bulkOperation": {"id": "gid://shopify/BulkOperation/5",
                                                                   "status": "CREATED"}, "userErrors": []}}
        if name == "CurrentBulkOperation":
            return {"currentBulkOperation": {"id": "x", "status": "COMPLETED", "type": "MUTATION"}}
        if name == "BulkOperationStatus":
            status = self.statuses.pop(0)
            return {"node": {"id": "gid://shopify/BulkOperation/5", "status": status, "errorCode": None,
                             "objectCount": "0", "url": "http://results.test/r.jsonl" if status == "COMPLETED" else None,
                             "partialDataUrl": None}}
        if name == "SetMetafields":
            batch = variables["metafields"]
            self.metafields_set_batches.append(batch)
            errors = [{"field": ["metafields", str(i), "value"], "message": "Value must be an integer.",
                       "code": "INVALID_VALUE", "elementIndex": i} for i, m in enumerate(batch) if m["value"] == "bad"]
            return {"metafieldsSet": {"metafields": [] if errors else [{"id": "m"} for _ in batch],
                                      "userErrors": errors}}
        raise AssertionError(name)


class FakeUpload:
    """Records the multipart POST and makes the result file from what was uploaded."""

    def __init__(self):
        self.posts = []
        self.uploaded: list[dict] = []

    def post(self, url, data=None, files=None, timeout=None):
        name, (filename, fh, mime) = files[0]
        self.uploaded = [json.loads(line) for line in fh.read().decode().splitlines()]
        self.posts.append((url, data, name, mime))

        class R:
            status_code = 201
            text = ""
        return R()


def fake_results(upload: FakeUpload):
    def fake_download(url, dest, **kw):
        lines = []
        for i, v in enumerate(upload.uploaded):
            errors = [{"field": ["metafields", str(j), "value"], "message": "Value must be an integer.",
                       "code": "INVALID_VALUE", "elementIndex": j} for j, m in enumerate(v["metafields"])
                      if m["value"] == "bad"]
            ok = [] if errors else [{"id": f"gid://shopify/Metafield/{i}-{j}"} for j in range(len(v["metafields"]))]
            lines.append({"data": {"metafieldsSet": {"metafields": ok, "userErrors": errors}}, "__lineNumber": i})
        dest.write_text("".join(json.dumps(x) + "\n" for x in lines))
        return 1
    return fake_download


def mf(i, value=None):
    return {"ownerId": f"gid://shopify/Product/{i // 20 + 1}", "namespace": "storeloop", "key": f"k{i % 20}",
            "type": "number_integer", "value": value or str(i)}


@pytest.fixture
def upload(monkeypatch):
    up = FakeUpload()
    monkeypatch.setattr(bm, "download", fake_results(up))
    monkeypatch.setattr(bm.requests, "post", up.post)
    return up


def test_run_bulk_mutation_protocol(upload, tmp_path):
    client = FakeClient(statuses=["RUNNING", "COMPLETED"])
    lines = [{"metafields": [mf(0), mf(1, "bad")]}, {"metafields": [mf(2)]}]
    result = run_bulk_mutation(client, "mutation M($metafields: [MetafieldsSetInput!]!) { x }", lines,
                               tmp_dir=tmp_path, poll_s=0.0, sleep=lambda s: None)
    staged = client.calls[0]
    assert staged == ("StagedUploadsCreate", {"input": [{"resource": "BULK_MUTATION_VARIABLES",
                                                         "filename": staged[1]["input"][0]["filename"],
                                                         "mimeType": "text/jsonl", "httpMethod": "POST",
                                                         "fileSize": staged[1]["input"][0]["fileSize"]}]})
    url, fields, file_field, mime = upload.posts[0]
    assert url == "http://upload.test/" and fields == [(p["name"], p["value"]) for p in PARAMS]
    assert file_field == "file" and mime == "text/jsonl"
    assert upload.uploaded == lines
    start = next(v for n, v in client.calls if n == "StartBulkMutation")
    assert start["stagedUploadPath"] == "tmp/1/bulk/abc/vars.jsonl"
    assert (result.lines_sent, result.lines_succeeded, result.lines_with_user_errors) == (2, 1, 1)
    assert result.user_errors[0].line == 0 and result.user_errors[0].element_index == 1
    assert result.lines_missing == 0
    assert not list(tmp_path.glob("bulk-vars-*.jsonl")) or all("result" in p.name for p in tmp_path.glob("*.jsonl"))


def test_in_progress_mutation_is_waited_out(upload, tmp_path):
    busy = {"field": None, "code": "OPERATION_IN_PROGRESS",
            "message": "A bulk mutation operation for this app and shop is already in progress: gid://x."}
    client = FakeClient(start_errors=[busy])
    result = run_bulk_mutation(client, "mutation { x }", [{"metafields": [mf(0)]}], tmp_dir=tmp_path, poll_s=0,
                               sleep=lambda s: None)
    assert result.status == "COMPLETED"
    assert ("CurrentBulkOperation", {"type": "MUTATION"}) in client.calls


def test_failed_mutation_without_restarts_raises(upload, tmp_path):
    client = FakeClient(statuses=["FAILED"])
    with pytest.raises(BulkOperationError, match="ended FAILED"):
        run_bulk_mutation(client, "mutation { x }", [{"a": 1}], tmp_dir=tmp_path, poll_s=0, sleep=lambda s: None)


def test_write_metafields_batches_of_25_below_threshold():
    client = FakeClient()
    inputs = [mf(i) for i in range(60)]
    inputs[30]["value"] = "bad"
    report = write_metafields(client, inputs, bulk_threshold=1000)
    assert report.method == "metafieldsSet"
    assert [len(b) for b in client.metafields_set_batches] == [25, 25, 10]
    assert report.requests == 3
    assert report.metafields_written == 35  # the batch holding input 30 is rejected as a whole (atomic)
    assert report.user_errors[0].input_index == 30 and report.user_errors[0].code == "INVALID_VALUE"
    with pytest.raises(MetafieldWriteError, match="25 of 60 metafields were not written.*input 30"):
        report.raise_for_errors()


def test_write_metafields_bulk_at_threshold(upload, tmp_path):
    client = FakeClient()
    inputs = [mf(i) for i in range(100)]
    inputs[57]["value"] = "bad"
    report = write_metafields(client, inputs, bulk_threshold=100, tmp_dir=tmp_path,
                              bulk_kw={"poll_s": 0, "sleep": lambda s: None})
    assert report.method == "bulk"
    assert [len(line["metafields"]) for line in upload.uploaded] == [25, 25, 25, 25]
    assert report.requests == 3  # staged upload, start, one poll
    assert report.metafields_written == 75
    assert [e.input_index for e in report.user_errors] == [57]
    with pytest.raises(MetafieldWriteError):
        report.raise_for_errors()


def test_clean_report_does_not_raise():
    client = FakeClient()
    report = write_metafields(client, [mf(i) for i in range(5)])
    assert report.ok and report.metafields_written == 5
    report.raise_for_errors()
