.PHONY: run test lint bench-tagging

run:  ## install, migrate and start the site + worker on http://127.0.0.1:8000
	./scripts/run.sh

test:  ## install and run the whole test suite
	./scripts/test.sh

lint:
	.venv/bin/ruff check .

bench-tagging:
	.venv/bin/python bench/tagging.py
