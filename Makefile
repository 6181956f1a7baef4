# Entry points: `make demo`, `make test` (both create .venv/ and install what they need).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLOWC  := $(VENV)/bin/flowc
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint fmt clean tools

# Linters for generated output (checkov, kubernetes-validate) pin many libraries, so they
# live in their own venv; tests find them at .venv-tools/bin/.
TOOLS       := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed-3.3.30-1.37.0
TOOLS_REQS  := checkov==3.3.30 kubernetes-validate==1.37.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@for f in examples/*.flow; do \
	  n=$$(basename $$f .flow); \
	  echo "== flowc check $$f"; $(FLOWC) check $$f || exit 1; \
	  echo "== flowc compile $$f --env prod (aws, gcp, k8s) -> flowc.out/$$n"; \
	  $(FLOWC) compile $$f --env prod --out flowc.out/$$n || exit 1; \
	  $(FLOWC) compile $$f --env prod --emit ir --out flowc.out/$$n || exit 1; \
	done
	@ls flowc.out/*/aws/cdk.tf.json flowc.out/*/gcp/cdk.tf.json flowc.out/*/k8s/cdk.tf.json flowc.out/*/k8s/manifests.yaml flowc.out/*/ir.json
	@echo "== flowc dev examples/reports.flow: two virtual hours of a Monday morning, x1200"
	FLOWC_SECRET_DB_URL=postgres://demo $(FLOWC) dev examples/reports.flow --plain \
	  --speed 1200 --for 2h --start 2026-01-05T08:55:00+01:00 \
	  --state flowc.out/.flowc --events flowc.out/demo-events.jsonl
	$(FLOWC) runs --state flowc.out/.flowc

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet $(TOOLS_REQS)
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

test: $(STAMP) $(TOOLS_STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-only

lint: $(STAMP)
	$(VENV)/bin/ruff check flowc tests

fmt: $(STAMP)
	$(VENV)/bin/ruff format flowc tests

clean:
	rm -rf $(VENV) $(TOOLS) flowc.out .flowc
