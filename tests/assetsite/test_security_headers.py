"""The Content-Security-Policy header on every kind of page, and templates without inline scripts.

tests/system/test_csp_browser.py proves in a real browser that the pages pass the policy; these check
the header itself and catch an inline script the moment a template gains one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/upload/", "/review/", "/integrations/token/", "/integrations/webhooks/",
                                  "/accounts/login/", "/admin/", "/api/docs/", "/api/", "/no-such-page/"])
def test_pages_allow_scripts_from_this_site_only(web_client, path):
    response = web_client.get(path, HTTP_ACCEPT="text/html")
    policy = directives(response)
    assert policy["script-src"] == "'self'", policy  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
    # Inline style attributes (label colours, box positions) are allowed; <style> elements are not.
    assert policy["style-src-attr"] == "'unsafe-inline'" and policy["style-src-elem"] == "'self'"


def test_only_redoc_may_add_style_elements_and_a_blob_worker(web_client):
    policy = directives(web_client.get("/api/redoc/"))
    assert policy["script-src"] == "'self'"
    assert policy["style-src-elem"] == "'self' 'unsafe-inline'" and policy["worker-src"] == "'self' blob:"


def test_api_answers_carry_the_policy_too(api_client):
    assert directives(api_client.get("/api/assets/"))["script-src"] == "'self'"


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", template.read_text())  # template comments may name what they avoid
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                offenders.append(f"{template.relative_to(TEMPLATES)}: {tag}")
        offenders += [f"{template.relative_to(TEMPLATES)}: {handler}"
                      for handler in re.findall(r"\son[a-z]+\s*=\s*[\"']", text)]
        offenders += [f"{template.relative_to(TEMPLATES)}: javascript: URL" for _ in re.findall("javascript:", text)]
        offenders += [f"{template.relative_to(TEMPLATES)}: <style>" for _ in re.findall(r"<style\b", text)]
    assert offenders == [], offenders


def test_a_report_uri_is_added_when_configured(monkeypatch):
    import importlib

    import assetsite.settings as site_settings

    monkeypatch.setenv("CSP_REPORT_URI", "https://reports.example.com/csp")
    try:
        reloaded = importlib.reload(site_settings)
        assert reloaded.CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] == ["https://reports.example.com/csp"]
    finally:
        monkeypatch.delenv("CSP_REPORT_URI")
        importlib.reload(site_settings)
    assert "report-uri" not in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
