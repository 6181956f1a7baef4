# Entry points: `make demo`, `make test` (both create .venv/ and install what they need).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLOWC  := $(VENV)/bin/flowc
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint fmt clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@for f in examples/*.flow; do \
	  echo "== flowc check $$f"; $(FLOWC) check $$f || exit 1; \
	  n=$$(basename $$f .flow); \
	  echo "== flowc compile $$f --emit ir"; $(FLOWC) compile $$f --emit ir --out flowc.out/$$n || exit 1; \
	done

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-only

lint: $(STAMP)
	$(VENV)/bin/ruff check flowc tests

fmt: $(STAMP)
	$(VENV)/bin/ruff format flowc tests

clean:
	rm -rf $(VENV) flowc.out .flowc
