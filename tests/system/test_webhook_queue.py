"""A webhook ping to a receiver that never answers does not hold up tagging, and is not retried.

Through real processes, as docker-compose.yml runs them: gunicorn, a detection worker (-Q
detection,celery, one process) and a webhook worker (-Q webhooks), with the shipped shapes detector.
The receiver accepts the connection and never answers, like an address that drops packets: the ping
waits WEBHOOK_TIMEOUT on the webhook worker while an upload made right after it is tagged by the
detection worker. The ping then ends failed, with no second attempt.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from testkit.shapes import three_shapes_scene
from testkit.stack import free_port, wait_until
from tests.system.conftest import running_stack

pytestmark = [pytest.mark.stack, pytest.mark.worker]

TIMEOUT = 12  # WEBHOOK_TIMEOUT in the stack: how long the silent receiver holds the ping
ENV = {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "1", "WEBHOOK_ALLOWED_PORTS": "*", "WEBHOOK_TIMEOUT": str(TIMEOUT),
       "WEBHOOK_RETRY_BASE": "2"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("webhook-queue"), env=ENV,
                       workers=("detection,celery", "webhooks")) as stack:
        yield stack


@pytest.fixture
def silent_receiver() -> Iterator[str]:
    """A listening socket that never accepts: connections succeed, no answer ever comes."""
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        yield f"http://127.0.0.1:{port}/hook"


def test_a_ping_to_a_silent_receiver_neither_delays_tagging_nor_is_retried(stack, silent_receiver):
    detection_worker, webhook_worker = stack.workers
    token = stack.create_users("hooker")["hooker"]
    headers = {"Authorization": f"Token {token}"}
    # Only failures: the upload's own asset.tagged event would be a second delivery to the silent receiver.
    hook = requests.post(stack.url("/api/webhooks/"), json={"url": silent_receiver, "events": ["asset.failed"]},
                         headers=headers, timeout=30)
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]

    pinged = requests.post(stack.url(f"/api/webhooks/{hook_id}/ping/"), headers=headers, timeout=30)
    assert pinged.status_code == 202
    # The ping is being sent (and waits on the silent receiver) before the upload arrives.
    wait_until(lambda: stack.query("SELECT COUNT(*) FROM integrations_webhookdelivery WHERE delivered_at IS NOT NULL")
               == [(1,)], timeout=30, what="the ping to be claimed")
    buffer = io.BytesIO()
    three_shapes_scene(size=(480, 320), background=(200, 210, 220)).image.save(buffer, "PNG")
    started = time.monotonic()
    upload = requests.post(stack.url("/api/assets/"), files={"file": ("scene.png", buffer.getvalue(), "image/png")},
                           headers=headers, timeout=60)
    assert upload.status_code == 201, upload.text
    asset_id = upload.json()["id"]

    def tagged() -> bool:
        return stack.query("SELECT tagging_status FROM media_asset WHERE id::text = %s", (asset_id,)) == [("tagged",)]

    wait_until(tagged, timeout=120, what="the upload to be tagged")
    tagged_after = time.monotonic() - started
    ping_state = stack.query("SELECT status_code, error FROM integrations_webhookdelivery")
    assert tagged_after < TIMEOUT - 2, (tagged_after, detection_worker.log(3000))
    assert ping_state == [(None, "No answer was recorded: the worker stopped during the attempt.")]  # still waiting

    def ping_done() -> bool:
        return stack.query("SELECT COUNT(*) FROM integrations_webhookdelivery WHERE duration_ms IS NOT NULL") == [(1,)]

    wait_until(ping_done, timeout=TIMEOUT * 4 + 30, what="the ping to time out")
    time.sleep(5)  # longer than WEBHOOK_RETRY_BASE: a retry would exist by now
    rows = stack.query("SELECT event, attempt, status_code, next_retry, duration_ms, error "
                       "FROM integrations_webhookdelivery ORDER BY id")
    assert len(rows) == 1, rows
    event, attempt, status_code, next_retry, duration_ms, error = rows[0]
    assert (event, attempt, status_code, next_retry) == ("webhook.ping", 1, None, None)
    assert duration_ms >= (TIMEOUT - 1) * 1000 and "timed out" in error, rows
    log = requests.get(stack.url(f"/api/webhooks/{hook_id}/deliveries/"), headers=headers, timeout=30).json()
    assert [entry["state"] for entry in log["results"]] == ["failed"]
    # Who did what ("Task <name>[<id>] received" lines): the webhook worker sent the ping, the detection
    # worker never saw it.
    assert "integrations.tasks.deliver_webhook[" in webhook_worker.log(10_000_000)
    assert "integrations.tasks.deliver_webhook[" not in detection_worker.log(10_000_000)
    assert "tagging.tasks.detect_objects[" in detection_worker.log(10_000_000)
