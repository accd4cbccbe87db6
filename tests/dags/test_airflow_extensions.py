"""Airflow discovers Storeloop's `shopify` connection type (provider entry point) and its UI links plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from devstack.settings import ROOT, load_settings

PROBE = r"""
import json
from airflow.providers_manager import ProvidersManager
from airflow import plugins_manager
pm = ProvidersManager()
hooks = pm.hooks
info = hooks.get("shopify")
behaviour = pm.field_behaviours.get("shopify", {})
widgets = sorted(k for k in pm.connection_form_widgets if k.startswith("extra__shopify__"))
plugins = plugins_manager.get_plugin_info() if hasattr(plugins_manager, "get_plugin_info") else []
from airflow.plugins_manager import _get_plugins
views = [v for p in _get_plugins()[0] if p.name == "storeloop_links" for v in p.external_views]
print("PROBE" + json.dumps({"hook": info.hook_class_name if info else None,
                            "hook_name": info.hook_name if info else None,
                            "behaviour": behaviour, "widgets": widgets, "views": views}))
"""


def _probe() -> dict:
    env = {**os.environ, **load_settings().process_env()}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("PROBE")), None)
    assert line, out.stderr[-3000:]
    return json.loads(line[5:])


def test_shopify_connection_type_and_links_plugin(monkeypatch):
    # the links come from the stack's settings, which the process environment overrides: an MLFLOW_TRACKING_URI left
    # behind by an earlier test in this process (mlflow.set_tracking_uri sets it) must not stand in for the stack's
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    probe = _probe()
    assert probe["hook"] == "storeloop.orchestration.shopify_hook.ShopifyHook"
    assert probe["hook_name"] == "Shopify Admin API"
    assert probe["behaviour"]["relabeling"] == {"host": "Shop domain", "password": "Admin API access token"}
    assert "login" in probe["behaviour"]["hidden_fields"]
    assert probe["widgets"] == ["extra__shopify__api_version"]
    names = {v["name"]: v["href"] for v in probe["views"]}
    assert names["MLflow"].startswith("http://127.0.0.1:") and names["dbt docs"].endswith("/dbt/index.html")


def test_shopify_config_from_a_shopify_connection():
    from storeloop.shopify.config import ShopifyConfig

    cfg = ShopifyConfig.from_connection("my-shop.myshopify.com", "shpat_x", {"api_version": "2024-10"})
    assert cfg.graphql_url == "https://my-shop.myshopify.com/admin/api/2024-10/graphql.json"
    assert "shpat_x" not in repr(cfg)
    assert ShopifyConfig.from_connection("http://127.0.0.1:8010", "t", {}).graphql_url.startswith("http://127.0.0.1")
