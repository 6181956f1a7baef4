# Entry points: `make demo`, `make test` (both create .venv/ and install what they need).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
FLOWC  := $(VENV)/bin/flowc
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint fmt clean tools components docker localstack browser

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

demo: $(STAMP) docker
	@for f in examples/*.flow; do \
	  n=$$(basename $$f .flow); \
	  echo "== flowc check $$f --env prod"; $(FLOWC) check $$f --env prod || exit 1; \
	  echo "== flowc compile $$f --env prod (aws, gcp, k8s) -> flowc.out/$$n"; \
	  $(FLOWC) compile $$f --env prod --out flowc.out/$$n || exit 1; \
	  $(FLOWC) compile $$f --env prod --emit ir --out flowc.out/$$n || exit 1; \
	done
	@ls flowc.out/*/aws/cdk.tf.json flowc.out/*/gcp/cdk.tf.json flowc.out/*/k8s/cdk.tf.json flowc.out/*/k8s/manifests.yaml flowc.out/*/ir.json
	@echo "== flowc dev examples/reports.flow: two virtual hours of a Monday morning, x1200"
	FLOWC_SECRET_DB_URL=postgres://demo $(PY) scripts/components.py with-docker \
	  --image busybox:1.36 --without-docker "--only daily_report --only digest" \
	  -- $(FLOWC) dev examples/reports.flow --plain \
	  --speed 1200 --for 2h --start 2026-01-05T08:55:00+01:00 \
	  --state flowc.out/.flowc --events flowc.out/demo-events.jsonl
	$(FLOWC) runs --state flowc.out/.flowc
	$(FLOWC) report examples/reports.flow --env prod --state flowc.out/.flowc --month 2026-01 \
	  --out flowc.out/report.html

# The report's browser tests (tests/test_report_browser.py) drive Debian's chromium through
# playwright; no browser is ever downloaded. Like the components below, a failed install
# does not stop the suite: the browser tests then fail and say why.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  --no-install-recommends chromium; } || echo "warning: Debian's chromium could not be" \
	  "installed (needs root, apt-get and the Debian archive); the browser tests will fail"

browser: $(CHROMIUM)

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet $(TOOLS_REQS)
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

# The real components tests run against (SPEC section 4): the Docker engine and debootstrap
# from Debian's packages, LocalStack in its own venv (.venv-localstack). Each script does
# nothing when its component is there. A failed install does not stop the suite: the tests
# that need the component fail and say why.
components: docker localstack

docker:
	@scripts/install-docker.sh || echo "warning: Docker could not be installed (see above);" \
	  "image tasks cannot run and the tests that need Docker will fail"

localstack: $(STAMP)
	@scripts/install-localstack.sh .venv-localstack $(PY) || echo "warning: LocalStack" \
	  "could not be installed (see above); the tests that need it will fail"

test: $(STAMP) $(TOOLS_STAMP) components $(CHROMIUM)
	$(PY) -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-only

lint: $(STAMP)
	$(VENV)/bin/ruff check flowc tests

fmt: $(STAMP)
	$(VENV)/bin/ruff format flowc tests

clean:
	rm -rf $(VENV) $(TOOLS) .venv-localstack flowc.out .flowc
