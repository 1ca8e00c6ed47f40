.PHONY: run test lint bench-tagging screenshots

run:  ## install, migrate and start the site + worker on http://127.0.0.1:8000
	./scripts/run.sh

test:  ## install and run the whole test suite
	./scripts/test.sh

lint:
	.venv/bin/ruff check .

bench-tagging:
	.venv/bin/python bench/tagging.py

screenshots:  ## refresh docs/screenshots/ from the browser tests (test runs write to var/test/screenshots/)
	UI_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots ./scripts/test.sh tests/system/test_browser.py tests/system/test_browser_collections.py tests/system/test_browser_viewer.py tests/system/test_browser_video.py
