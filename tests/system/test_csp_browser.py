"""Every page passes its Content-Security-Policy in a real browser, with no inline-script exception.

A disposable stack (gunicorn with DEBUG=0 and collected static files, as in production) with real data;
headless Chromium (Debian's /usr/bin/chromium) visits every page there is: as a stranger (login,
password reset, the lockout page, a 404), as a user (library and search, upload with a dropped file,
an asset with its boxes, the review queue, the bulk confirmation, API tokens with a new key, webhooks
with a secret, Swagger UI and Redoc, the browsable API, password change) and as staff (the admin),
and uses each page's scripts a little. A listener installed before any page script records every
``securitypolicyviolation`` event, and the console is watched for CSP messages; both must stay
empty. A canary (an inline script injected on purpose) proves the listener hears violations.
"""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
import requests

from testkit.shapes import three_shapes_scene
from tests.system.conftest import make_user, running_stack

pytestmark = [pytest.mark.stack, pytest.mark.browser]

PASSWORD = "a-long-unusual-passphrase-42"
ENV = {"LOGIN_FAILURE_LIMIT": "2", "LOGIN_FAILURE_LIMIT_PER_IP": "100", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
       "WEBHOOK_ALLOWED_PORTS": "*"}  # the hook points at 127.0.0.1:9

# Reports that are the policy doing its job, not a page breaking it. None: Redoc's bundle, which asks for
# its vendor's logo from cdn.redoc.ly, is served with that address pointing here (assetsite/api_docs.py).
EXPECTED: tuple[str, ...] = ()

LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolation({directive: event.effectiveDirective, blocked: event.blockedURI,
                         sample: event.sample, source: `${event.sourceFile}:${event.lineNumber}`});
});
"""


def scene_png(background: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    three_shapes_scene(size=(480, 320), background=background).image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The stack, with an owner who has assets (automatic and manual boxes), a webhook and a delivery."""
    with running_stack(tmp_path_factory.mktemp("csp"), env=ENV, collectstatic=True) as stack:
        make_user(stack, "owner", PASSWORD)
        make_user(stack, "root", PASSWORD, staff=True)
        token = stack.manage("create_token", "owner").strip()
        headers = {"Authorization": f"Token {token}"}
        ids = []
        for n, background in enumerate(((200, 210, 220), (40, 60, 50))):
            answer = requests.post(stack.url("/api/assets/"), headers=headers, timeout=60,
                                   files={"file": (f"scene{n}.png", scene_png(background), "image/png")})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        # Automatic detections as the pipeline stores them (the review queue shows unreviewed ones).
        stack.python(
            "import sys\n"
            "from tagging.boxes import Box, DetectedObject\n"
            "from tagging.services import RunInfo, detections_replace\n"
            "for asset_id in sys.argv[1:]:\n"
            "    detections_replace(asset_id=asset_id, info=RunInfo(model_name='csp-test'), objects=[\n"
            "        DetectedObject('circle', 0.93, Box(20, 20, 120, 100)),\n"
            "        DetectedObject('square', 0.55, Box(200, 40, 90, 90))])\n",
            *ids,
        )
        manual = requests.post(stack.url(f"/api/assets/{ids[0]}/detections/"), headers=headers, timeout=30,
                               json={"label": "triangle", "box": {"x": 300, "y": 150, "width": 80, "height": 70}})
        assert manual.status_code == 201, manual.text
        hook = requests.post(stack.url("/api/webhooks/"), headers=headers, timeout=30,
                             json={"url": "http://127.0.0.1:9/receiver"}).json()
        assert requests.post(stack.url(f"/api/webhooks/{hook['id']}/ping/"), headers=headers,
                             timeout=30).status_code == 202
        yield {"stack": stack, "assets": ids, "hook": hook["id"]}


class Watched:
    """A browser context whose pages report CSP violations (events and console messages) into one list."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.violations: list[str] = []
        self.visited: dict[str, str] = {}  # url -> its Content-Security-Policy header
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.expose_binding("__cspViolation", lambda source, data: self.violations.append(
            f"{source['page'].url}: {json.dumps(data)}"))
        self.context.add_init_script(LISTENER)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.violations.append(f"{self.page.url}: console: {message.text}")

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.visited[response.url] = response.headers.get("content-security-policy", "")
            assert response.status < 500, f"{response.url} answered {response.status}"

    def go(self, path: str, *, wait_for: str = "") -> None:
        self.page.goto(self.base + path)
        if wait_for:
            self.page.locator(wait_for).first.wait_for()
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(300)  # violation events are dispatched after the fact

    def log_in(self, username: str) -> None:
        self.go("/accounts/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(re.compile(r"/$"))
        self.settle()

    def submit(self, action: str, fields: dict[str, str]) -> None:
        """POST a plain form from the current page (as a browser without the page's scripts would)."""
        self.page.evaluate(
            """([action, fields]) => {
                 const form = document.createElement("form");
                 form.method = "post"; form.action = action;
                 const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
                 for (const [name, value] of Object.entries({csrfmiddlewaretoken: csrf.value, ...fields})) {
                   const input = document.createElement("input");
                   input.type = "hidden"; input.name = name; input.value = value; form.append(input);
                 }
                 document.body.append(form);
                 HTMLFormElement.prototype.submit.call(form);
               }""",
            [action, fields],
        )
        self.page.wait_for_load_state("load")
        self.settle()


def test_the_listener_hears_a_violation(world, browser):
    """The canary: an inline script added on purpose is blocked and reported, so silence below means something."""
    tab = Watched(browser, world["stack"].url(""))
    tab.go("/accounts/login/")
    ran = tab.page.evaluate("""() => { const s = document.createElement("script");
                                      s.textContent = "window.__inlineRan = true"; document.head.append(s);
                                      return window.__inlineRan === true; }""")
    tab.settle()
    assert ran is False
    assert len(tab.violations) >= 1 and "script-src" in tab.violations[0], tab.violations
    tab.context.close()


def test_every_page_passes_the_policy(world, browser):
    stack, assets = world["stack"], world["assets"]
    base = stack.url("")

    # --- a stranger ---
    stranger = Watched(browser, base)
    for path in ("/accounts/login/", "/accounts/password_reset/", "/accounts/password_reset/done/",
                 "/accounts/reset/done/", "/no-such-page/", "/admin/login/", "/api/docs/", "/api/redoc/"):
        stranger.go(path)
    stranger.go("/accounts/password_reset/")
    stranger.page.get_by_label(re.compile("Email")).fill("nobody@example.com")
    stranger.page.get_by_role("button", name=re.compile("reset", re.I)).click()
    stranger.settle()
    for _ in range(2):  # the lockout page
        stranger.go("/accounts/login/")
        stranger.page.get_by_label("Username").fill("victim")
        stranger.page.get_by_label("Password").fill("guess")
        stranger.page.get_by_role("button", name="Log in").click()
        stranger.settle()
    assert "Too many failed logins" in stranger.page.content()

    # --- the owner ---
    owner = Watched(browser, base)
    owner.log_in("owner")
    owner.go("/", wait_for="#grid")
    owner.page.locator("#q").fill("cir")  # autocomplete
    owner.page.locator("#q-suggestions li").first.wait_for()
    owner.page.keyboard.press("Escape")
    owner.go("/?q=circle+-dog")
    owner.page.locator("#grid .card-link").first.click()  # the viewer: zoom to the original, boxes, keys
    owner.page.locator("#lightbox-img").wait_for()
    for key in ("1", "b", "ArrowRight", "Escape"):
        owner.page.keyboard.press(key)
    owner.settle()
    owner.go(f"/?view={assets[0]}", wait_for="#lightbox-img")
    owner.go("/?sort=taken", wait_for="#timeline-month")  # the timeline and its jump control
    owner.page.locator("#theme-toggle").click()  # the dark theme
    owner.go("/?q=(((")  # a query error
    owner.go("/")
    owner.page.locator(f"#select-{assets[0]}").check(force=True)  # the bulk bar and its dialog
    owner.page.get_by_role("button", name="Delete…").click()
    owner.page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    owner.settle()
    owner.submit("/assets/bulk/", {"action": "delete", "ids": assets[1], "next": "/"})  # the confirmation page
    assert "to the trash?" in owner.page.content()
    owner.go(f"/assets/{assets[0]}/", wait_for=".box")
    owner.page.locator(".box").first.hover()
    owner.page.locator("#min-confidence").fill("0.6")
    owner.page.locator("#min-confidence").dispatch_event("input")
    owner.settle()
    owner.go("/review/", wait_for=".queue-item")
    owner.page.keyboard.press("j")
    owner.page.keyboard.press("?")
    owner.settle()
    owner.go("/upload/", wait_for="#dropzone")
    payload = [{"name": "dropped.png", "type": "image/png", "b64": base64.b64encode(scene_png((90, 90, 200))).decode()}]
    owner.page.evaluate(
        """([files]) => { const data = new DataTransfer();
             for (const f of files) { const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                                     data.items.add(new File([bytes], f.name, {type: f.type})); }
             const zone = document.getElementById("dropzone");
             for (const type of ["dragenter", "dragover", "drop"]) {
               zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data})); } }""",
        [payload],
    )
    owner.page.locator("text=dropped.png").first.wait_for()
    owner.settle()
    owner.go("/integrations/token/")
    owner.page.get_by_label("Name").fill("csp check")
    owner.page.get_by_role("button", name="Create a token").click()
    owner.page.locator("#token-key").wait_for()
    owner.settle()
    owner.go("/integrations/webhooks/")
    owner.go(f"/integrations/webhooks/{world['hook']}/")
    owner.page.get_by_role("button", name=re.compile("Show secret", re.I)).click()
    owner.settle()
    # Hearts, collections, a share link opened by a stranger, the trash.
    owner.go("/", wait_for="#grid")
    owner.page.locator("button.heart-toggle").first.click()
    owner.page.locator("button.heart-toggle[aria-pressed=true]").first.wait_for()
    owner.go("/collections/")
    owner.page.get_by_label("Name").fill("CSP walk")
    owner.page.get_by_role("button", name="Create collection").click()
    owner.page.locator("h1", has_text="CSP walk").wait_for()
    owner.submit("/collections/add/", {"ids": assets[0], "collection_name": "CSP walk", "next": "/collections/"})
    owner.page.locator(".collection-link").first.click()
    owner.page.locator("h1", has_text="CSP walk").wait_for()
    owner.page.get_by_role("button", name="Make a share link").click()
    share_url = owner.page.locator("#share-url").input_value()
    owner.settle()
    stranger.go(share_url.removeprefix(base.rstrip("/")), wait_for="#grid")
    stranger.page.locator("#grid .card-link").first.click()
    stranger.page.locator(".shared-asset").wait_for()
    stranger.page.keyboard.press("ArrowRight")
    stranger.settle()
    owner.go("/trash/")
    owner.go("/api/docs/", wait_for=".swagger-ui .info")
    owner.go("/api/redoc/", wait_for="h1")
    owner.page.get_by_placeholder("Search...").fill("asset")  # Redoc searches in a blob: worker
    owner.settle()
    owner.go("/api/")
    owner.go(f"/api/assets/{assets[0]}/")
    owner.go("/accounts/password_change/")
    owner.go("/")
    owner.page.get_by_role("button", name=re.compile("Log out")).click()
    owner.page.wait_for_url(re.compile(r"/accounts/login/"))
    owner.settle()

    # --- staff, in the admin ---
    staff = Watched(browser, base)
    staff.log_in("root")
    for path in ("/admin/", "/admin/media/asset/", f"/admin/media/asset/{assets[0]}/change/",
                 "/admin/tagging/detection/", "/admin/integrations/apitoken/", "/admin/integrations/webhook/",
                 f"/admin/integrations/webhook/{world['hook']}/change/", "/admin/axes/accessattempt/",
                 "/admin/auth/user/", "/admin/auth/user/add/", "/admin/password_change/"):
        staff.go(path)

    violations = [violation for violation in stranger.violations + owner.violations + staff.violations
                  if not any(expected in violation for expected in EXPECTED)]
    assert violations == [], "\n".join(violations)
    visited = {**stranger.visited, **owner.visited, **staff.visited}
    assert len(visited) >= 30, sorted(visited)
    for url, policy in visited.items():
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
        assert directives.get("script-src") == "'self'", (url, policy)  # no inline or eval exception anywhere
    for watched in (stranger, owner, staff):
        watched.context.close()
