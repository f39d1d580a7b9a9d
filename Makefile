# edgesite: `make render` (no cluster needed) and `make test` (everything CI runs) work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CHECKOV_VENV ?= .venv-checkov
SITE ?= examples/full.yaml
PYTEST_ARGS ?=
APT_PACKAGES := mosquitto mosquitto-clients nginx-light openssl


.PHONY: bundle render install system-deps checkov node-deps cluster-binaries test unit programs e2e bench cluster-up cluster-down e2e-kind crd golden clean

render: install ## Render an example site to stdout (no cluster needed)
	$(BIN)/edgesite render $(SITE)

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,sync]'
	touch $@

system-deps: ## Debian packages the tests run for real
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done; \
	  command -v node >/dev/null && command -v npm >/dev/null || echo nodejs npm); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@systemctl disable --now mosquitto nginx >/dev/null 2>&1 || true

checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==3.3.30'
	touch $@

node-deps: tests/programs/yjs/node_modules/.installed ## The Yjs client the sync tests run (npm)

tests/programs/yjs/node_modules/.installed: tests/programs/yjs/package.json tests/programs/yjs/package-lock.json
	npm ci --prefix tests/programs/yjs --no-audit --no-fund --loglevel=error
	touch $@

cluster-binaries: ## Build (or reuse) kube-apiserver & co from the Go module proxy
	bash hack/build-cluster.sh

test: system-deps install checkov node-deps cluster-binaries ## The whole suite: unit, real programs, end-to-end
	EDGESITE_CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest $(PYTEST_ARGS)

unit: install ## Unit tests only (no cluster, no Debian programs)
	$(BIN)/pytest -m "not e2e and not programs" $(PYTEST_ARGS)

e2e: install cluster-binaries
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

bench: install cluster-binaries ## Benchmarks: print figures
	$(BIN)/python bench/render.py
	$(BIN)/python bench/lint.py
	$(BIN)/python bench/operator.py
	$(BIN)/python bench/degradation.py

cluster-up: install cluster-binaries ## Start the control plane in the background; KUBECONFIG=.cluster/kubeconfig
	@mkdir -p .cluster
	nohup $(BIN)/python tests/harness/controlplane.py up --dir .cluster > .cluster/supervisor.log 2>&1 &
	@for i in $$(seq 1 120); do grep -q "control plane up" .cluster/supervisor.log 2>/dev/null && break; sleep 1; done
	@cat .cluster/supervisor.log

cluster-down:
	$(BIN)/python tests/harness/controlplane.py down --dir .cluster

e2e-kind: install ## The end-to-end suite against a kind cluster (needs Docker and kind)
	kind create cluster --name edge-lab --config kind-config.yaml --kubeconfig .cluster/kind.kubeconfig
	KUBECONFIG=$(CURDIR)/.cluster/kind.kubeconfig $(BIN)/pytest -m e2e $(PYTEST_ARGS)

crd: install ## Regenerate the committed CRD, chart files and reference docs from the model
	$(BIN)/python -c "from edgesite.chart import CHART, generated_files; [open(f'{CHART}/{p}', 'w').write(t) for p, t in generated_files().items()]"
	@mkdir -p docs/lint
	$(BIN)/python -c "from edgesite.chart import generated_docs; [open(p, 'w').write(t) for p, t in generated_docs().items()]"

bundle: cluster-binaries ## Rewrite deploy/edgesite-operator.yaml, the chart rendered for `kubectl apply -f`
	@mkdir -p deploy
	$$(bash hack/build-cluster.sh)/helm template edgesite charts/edgesite-operator --namespace edgesite-system \
	  --kube-version 1.36.0 --include-crds > deploy/edgesite-operator.yaml

golden: install ## Rewrite the golden files after reviewing a rendering change
	EDGESITE_UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_golden.py -q

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .cluster .pytest_cache
