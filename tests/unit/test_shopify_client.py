"""ShopifyClient: cost-aware pacing, retries and error handling, against a fake session and a fake clock."""

from __future__ import annotations

import json

import pytest
import requests

from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.cost import CostBudget, document_key
from storeloop.shopify.errors import ShopifyAuthError, ShopifyError, ShopifyGraphQLError


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


class FakeResponse:
    def __init__(self, status: int = 200, body=None, text: str | None = None, headers=None):
        self.status_code = status
        self._body = body
        self.text = text if text is not None else (json.dumps(body) if body is not None else "")
        self.headers = headers or {}

    def json(self):
        if self._body is None:
            raise ValueError("not json")
        return self._body


class FakeSession:
    """Answers with scripted responses (or raises scripted exceptions); records the time of each post."""

    def __init__(self, script, clock: FakeClock):
        self.script = list(script)
        self.clock = clock
        self.headers: dict = {}
        self.posts: list[float] = []

    def post(self, url, json=None, timeout=None):
        self.posts.append(self.clock.now)
        item = self.script.pop(0)
        if callable(item):
            item = item(self.clock.now)
        if isinstance(item, Exception):
            raise item
        return item


def cost(requested, available, maximum=100.0, rate=50.0, actual=None):
    return {"requestedQueryCost": requested, "actualQueryCost": requested if actual is None else actual,
            "throttleStatus": {"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate}}


def ok(data=None, c=None):
    body = {"data": data if data is not None else {"shop": {"name": "x"}}}
    if c is not None:
        body["extensions"] = {"cost": c}
    return FakeResponse(200, body)


def make(script, **kw):
    clock = FakeClock()
    session = FakeSession(script, clock)
    client = ShopifyClient(ShopifyConfig("http://shop.test", "shpat_x"), session=session, sleep=clock.sleep,
                           clock=clock, rng=lambda: 0.5, backoff_s=0.1, **kw)
    return client, session, clock


Q = "{ shop { name } }"


def test_budget_estimates_restore_and_cap():
    clock = FakeClock()
    b = CostBudget(clock=clock)
    assert b.available_now() is None and b.delay_for("k") == 0.0
    b.observe(cost(40, 10, maximum=100, rate=50), "k")
    assert b.expected_cost("k") == 40 and b.expected_cost("other") == 50
    assert b.delay_for("k") == pytest.approx(30 / 50)
    clock.now += 0.5
    assert b.available_now() == pytest.approx(35)
    clock.now += 100
    assert b.available_now() == 100  # capped at maximumAvailable
    assert b.delay_for(cost=500) == 0.0  # never wait for more than the bucket can hold


def test_paces_before_a_request_that_would_be_throttled():
    # First answer: this document costs 40 and leaves 10 points; the next send must wait (40-10)/50 = 0.6 s.
    client, session, clock = make([ok(c=cost(40, 10)), ok(c=cost(40, 60))])
    client.execute(Q)
    client.execute(Q)
    assert clock.sleeps == [pytest.approx(0.6)]
    assert session.posts[1] - session.posts[0] == pytest.approx(0.6)
    assert client.requests_sent == 2 and client.last_cost["throttleStatus"]["currentlyAvailable"] == 60


def test_no_pacing_when_enough_points():
    client, _s, clock = make([ok(c=cost(10, 90)), ok(c=cost(10, 80)), ok(c=cost(10, 70))])
    for _ in range(3):
        client.execute(Q)
    assert clock.sleeps == []


def test_reserve_accounts_for_responses_without_cost():
    # After a 5xx (no cost info), the estimate still debits the request that was sent.
    b = CostBudget(clock=FakeClock())
    b.observe(cost(30, 40), "k")
    b.reserve("k")
    assert b.available_now() == pytest.approx(10)


def test_throttled_waits_requested_minus_available_over_rate_and_retries():
    throttled = FakeResponse(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                   "extensions": {"cost": {**cost(80, 5), "actualQueryCost": None}}})
    client, session, clock = make([throttled, ok(c=cost(80, 20))], pace=False)
    assert client.execute(Q) == {"shop": {"name": "x"}}
    assert len(session.posts) == 2
    assert clock.sleeps[0] == pytest.approx((80 - 5) / 50 + 0.1 * 0.2 * 0.5)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retries_5xx_and_429_with_exponential_backoff(status):
    html = FakeResponse(status, None, text="<html><body><h1>502 Bad Gateway</h1></body></html>")
    client, session, clock = make([html, html, ok()])
    assert client.execute(Q) == {"shop": {"name": "x"}}
    assert len(session.posts) == 3
    assert clock.sleeps == [pytest.approx(0.1), pytest.approx(0.2)]  # backoff_s * 2**(n-1) * (0.5 + 0.5)


def test_retry_after_header_is_honoured():
    client, _s, clock = make([FakeResponse(429, None, text="slow down", headers={"Retry-After": "2.5"}), ok()])
    client.execute(Q)
    assert clock.sleeps == [2.5]


def test_gives_up_after_max_attempts_with_the_html_snippet():
    html = FakeResponse(503, None, text="<html>\n  <body>Service   Unavailable</body></html>")
    client, session, _ = make([html] * 3, max_attempts=3)
    with pytest.raises(ShopifyError, match=r"HTTP 503 3 times.*Service Unavailable"):
        client.execute(Q)
    assert len(session.posts) == 3


def test_network_errors_and_timeouts_are_retried():
    client, session, _ = make([requests.ConnectionError("refused"), requests.Timeout("slow"), ok()])
    assert client.execute(Q)
    assert len(session.posts) == 3


def test_non_json_200_is_retried():
    client, session, _ = make([FakeResponse(200, None, text="<html>proxy</html>"), ok()])
    assert client.execute(Q)
    assert len(session.posts) == 2


def test_internal_server_error_code_is_retried():
    err = FakeResponse(200, {"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
    client, session, _ = make([err, ok()])
    assert client.execute(Q)
    assert len(session.posts) == 2


def test_validation_errors_are_never_retried():
    bad = FakeResponse(200, {"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'",
                                         "locations": [{"line": 1, "column": 9}],
                                         "extensions": {"code": "undefinedField"}}]})
    client, session, _ = make([bad, ok()])
    with pytest.raises(ShopifyGraphQLError, match="nope"):
        client.execute(Q)
    assert len(session.posts) == 1


def test_400_is_not_retried():
    client, session, _ = make([FakeResponse(400, {"errors": "bad json"}), ok()])
    with pytest.raises(ShopifyError, match="HTTP 400"):
        client.execute(Q)
    assert len(session.posts) == 1


def test_auth_errors_name_the_scopes():
    client, _, _ = make([FakeResponse(403, {"errors": "no"})])
    with pytest.raises(ShopifyAuthError, match="read_products.*write_products"):
        client.execute(Q)
    client, _, _ = make([FakeResponse(401, {"errors": "[API] Invalid API key"})])
    with pytest.raises(ShopifyAuthError, match="access token"):
        client.execute(Q)


def test_expected_cost_is_per_document():
    clock = FakeClock()
    b = CostBudget(clock=clock)
    b.observe(cost(7, 100), document_key("{ a }"))
    assert b.expected_cost(document_key("{  a  }")) == 7
    assert b.expected_cost(document_key("{ b }")) == 50


def test_a_request_costing_more_than_the_bucket_fails_at_once():
    throttled = FakeResponse(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                   "extensions": {"cost": {**cost(150, 100), "actualQueryCost": None}}})
    client, session, _ = make([throttled, ok()])
    with pytest.raises(ShopifyError, match="costs 150 points but the shop's bucket holds at most 100"):
        client.execute(Q)
    assert len(session.posts) == 1
