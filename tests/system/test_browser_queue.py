"""The queue as people see it, in a real headless Chromium: uploads made while no worker runs show
their place in the queue and "N waiting · about T" on the upload and library pages; once a real worker
starts, the polling pages follow it to the end and the line goes away. Nothing is timed."""

from __future__ import annotations

import io
import re

import pytest
from django.utils import timezone

from media.services import asset_create
from tagging.models import DetectionRun
from testkit.shapes import three_shapes_scene
from testkit.worker_process import celery_worker, purge_queues
from tests.factories import UserFactory
from tests.images import upload
from tests.system.test_browser import DESKTOP, PASSWORD, WAIT_MS, drop, logged_in_page, scene_file

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def idle_site(settings, worker_media, live_server):
    """The live server with no worker yet: uploads wait on the broker."""
    settings.MEDIA_ROOT = worker_media
    purge_queues()
    return live_server.url


def test_places_in_the_queue_and_the_progress_line(browser, idle_site, worker_media):
    site = idle_site
    earlier = UserFactory(username="early-bird", password=PASSWORD)
    buffer = io.BytesIO()
    three_shapes_scene(background=(90, 90, 200)).image.save(buffer, "PNG")
    ahead = asset_create(owner=earlier, file=upload(buffer.getvalue(), "first.png")).asset  # first in line
    for _ in range(3):  # the pace the estimate goes by: 1 s per image, one worker
        DetectionRun.objects.create(asset=ahead, model_name="m", started_at=timezone.now(), duration_ms=1000,
                                    succeeded=True, worker="w@host")

    user = UserFactory(username="queue-watcher", password=PASSWORD)
    context = browser.new_context(viewport=DESKTOP)
    page = logged_in_page(context, site, user)
    page.goto(site + "/upload/")
    drop(page, [scene_file("one.png", (200, 90, 90)), scene_file("two.png", (90, 200, 90))])

    line = page.locator("#queue-status")
    line.filter(has_text=re.compile(r"^2 waiting · about 3 s$")).wait_for(timeout=WAIT_MS)
    for name in ("one.png", "two.png"):
        page.locator(".upload-item", has_text=name).locator(
            ".file-status", has_text=re.compile(r"number [23] in the queue")
        ).wait_for()
    places = sorted(
        re.search(r"number (\d+) in the queue", text).group(1)
        for text in page.locator(".upload-item .file-status").all_inner_texts()
    )
    assert places == ["2", "3"]  # the other user's upload is first

    library = context.new_page()
    library.goto(site + "/")
    assert library.locator("#queue-status").inner_text() == "2 waiting · about 3 s"  # rendered by the server

    with celery_worker(worker_media):
        # Both pages follow the work to the end: the files are tagged and the line goes away.
        page.locator(".upload-item[data-state=tagged]").nth(1).wait_for(timeout=WAIT_MS)
        line.wait_for(state="hidden", timeout=WAIT_MS)
        library.locator("#queue-status").wait_for(state="hidden", timeout=WAIT_MS)
        library.locator(".card[data-status=tagged]").nth(1).wait_for(timeout=WAIT_MS)
    assert library.locator(".card[data-status=pending]").count() == 0
    context.close()
