# Quick start: `make run` serves the app on 127.0.0.1:5000; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
DOCS_STAMP := $(VENV)/.docs-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install bench-redirect bench-webhooks bench-attribution bench-scale bench-soak bench-answers lint clean docs docs-images

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tracker db upgrade
	$(BIN)/tracker serve --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/python -m pytest

bench-redirect: $(STAMP)
	$(BIN)/python bench/redirect/run.py

bench-webhooks: $(STAMP)
	$(BIN)/python bench/webhooks/run.py

bench-attribution: $(STAMP)
	$(BIN)/python bench/attribution/run.py

bench-scale: $(STAMP)
	$(BIN)/python bench/scale/run.py

bench-soak: $(STAMP)
	$(BIN)/python bench/soak/run.py

bench-answers: $(STAMP)
	$(BIN)/python bench/answers/run.py

# The docs site (docs/, mkdocs.yml) into site/: open site/index.html. --strict: a broken link, a missing
# anchor or a page left out of the nav fails. NO_MKDOCS_2_WARNING quiets Material's banner (its end of
# life, May 2027, is noted in setup.cfg's docs extra).
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	rm -f $(VENV)/.docs-* && touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Screenshots of the real pages on demo data into docs/images/ (the browser test; chromium from Debian).
docs-images: $(STAMP)
	TRACKER_DOCS_IMAGES=1 $(BIN)/python -m pytest tests -q -k test_docs_images

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff && $(BIN)/ruff check tracker attribution tests bench

clean:
	rm -rf $(VENV) build *.egg-info site
