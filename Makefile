# exchange.platform: the two commands are `make deploy` and `make test`; both set themselves up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= 0
COLLECTION_LINK := .collections/ansible_collections/exchange/platform
CLUSTER := $(CURDIR)/cluster/kwok.sh
CACHE_ROOT := $(or $(EXCHANGE_PLATFORM_CACHE),$(HOME)/.cache/exchange-platform)
# Molecule keeps a scenario's state in a directory named after the checkout's basename: two
# checkouts of one name would share it. One per checkout (and scenario) instead; the scenarios
# also name their namespaces after it, so two checkouts' runs on one cluster never meet.
molecule_state = $(CACHE_ROOT)/molecule/$(shell printf %s '$(CURDIR)' | sha256sum | cut -c1-12)-$(1)
# The kind tests run on two kind clusters side by side, each one node with two allocatable CPUs of
# its own: the first half and then the molecule scenario `default` on KIND_TESTS_CLUSTER (the one
# molecule/default/molecule.yml names), the second half on KIND_TESTS_CLUSTER_2. While another
# checkout's run holds one of them, this run gets one made for it (cluster/kind/clusters.sh).
KIND_TESTS_CLUSTER := exchange-platform-molecule
KIND_TESTS_CLUSTER_2 := exchange-platform-kind-2

.PHONY: help setup lint unit test-render integration render cluster cluster-down deploy remove \
  molecule molecule-kind test build sanity docs docs-check ee test-build bench bench-kind differential \
  checks cluster-build tier-kwok tier-kind kind-tests-held smoke-kwok \
  integration-first-half integration-second-half kind-first-half kind-second-half

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

setup: $(VENV)/.installed $(COLLECTION_LINK) ## Create .venv with the pinned dependencies

# .venv links to a virtualenv in the cache named by the pins (tools/venv.sh), shared by checkouts.
$(VENV)/.installed: requirements.txt
	tools/venv.sh $(VENV)
	touch $@

# The checkout is the collection: link it where Ansible looks for exchange.platform.
$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

lint: setup ## ruff and ansible-lint (production profile)
	ruff check .
	ruff format --check .
	ansible-lint

unit: setup ## Unit tests: the pure modules, the filters, every branch of the engine (coverage)
	coverage run -m pytest tests/unit
	coverage report

differential: setup ## The quantity filters against k8s.io/apimachinery itself (30,000 generated inputs)
	pytest -p no:cacheprovider tests/differential

test-render: setup ## Render tests: defaults match the seed, bad values stop render
	pytest tests/render

render: setup ## make render OUT=<dir> [VARS=<vars.yml>]: validate and write the manifests
	@test -n "$(OUT)" || { echo "usage: make render OUT=<dir> [VARS=<vars.yml>]" >&2; exit 2; }
	ansible-playbook playbooks/render.yml -e exchange_router_render_dir=$(abspath $(OUT)) \
	  $(if $(VARS),-e @$(abspath $(VARS)))

cluster: ## Start the local cluster (builds it on first use); prints the kubeconfig path
	@$(CLUSTER) up

cluster-down: ## Delete the local cluster
	@$(CLUSTER) down

deploy: setup ## Deploy: to the local cluster, or to the clusters INVENTORY=<file> names
ifeq ($(strip $(INVENTORY)),)
	@kubeconfig=$$($(CLUSTER) up | tail -n 1); \
	KUBECONFIG=$$kubeconfig K8S_AUTH_KUBECONFIG=$$kubeconfig \
	  ansible-playbook playbooks/deploy.yml -e @cluster/local-values.yml \
	  $(if $(VARS),-e @$(abspath $(VARS))); \
	echo; echo "Deployed to the local cluster (kubeconfig $$kubeconfig):"; \
	$(CLUSTER) kubectl get deployment,service,hpa,pods -n default -l app.kubernetes.io/managed-by=exchange.platform -o wide
else
	ansible-playbook -i $(INVENTORY) playbooks/deploy.yml \
	  $(if $(VARS),-e @$(abspath $(VARS)))
endif

remove: setup ## Remove the release (from the local cluster, or INVENTORY=<file>)
ifeq ($(strip $(INVENTORY)),)
	@kubeconfig=$$($(CLUSTER) kubeconfig); \
	KUBECONFIG=$$kubeconfig K8S_AUTH_KUBECONFIG=$$kubeconfig \
	  ansible-playbook playbooks/remove.yml -e @cluster/local-values.yml
else
	ansible-playbook -i $(INVENTORY) playbooks/remove.yml
endif

# On kwok clusters of their own (`kwok.sh throwaway`, deleted after): the outage test stops its
# apiserver, which on the shared cluster would fail whatever another checkout runs there. Two
# halves side by side, each on its own cluster: the tests mostly wait (rollouts, timeouts), so
# their waits overlap. The first half is these files; the second, every other file.
INTEGRATION_FIRST_HALF := tests/integration/test_secrets.py tests/integration/test_release.py \
  tests/integration/test_sealing.py tests/integration/test_edge.py tests/integration/test_identity.py \
  tests/integration/test_gitops.py tests/contract
integration: setup ## Safety tests (secrets, failures, RBAC) and the client contract, on kwok clusters of their own
	$(CLUSTER) build >&2
	$(MAKE) --no-print-directory -j2 --output-sync=target integration-first-half integration-second-half

integration-first-half: setup
	$(CLUSTER) throwaway pytest --durations=10 -m 'not kind' $(INTEGRATION_FIRST_HALF)

integration-second-half: setup
	$(CLUSTER) throwaway pytest --durations=10 -m 'not kind' tests/integration \
	  $(addprefix --ignore=,$(INTEGRATION_FIRST_HALF))

molecule: setup ## The molecule scenario on the local cluster
	$(CLUSTER) build >&2
	export MOLECULE_EPHEMERAL_DIRECTORY=$(call molecule_state,kwok); \
	  { molecule reset -s kwok >/dev/null 2>&1 || true; } && molecule test -s kwok

molecule-kind: setup ## The kind tests and molecule scenario (cluster/kind.sh: own dockerd, node image built here)
	cluster/kwok.sh build >&2
	cluster/kind.sh test-standin >&2
	cluster/kind.sh build >&2
	$(MAKE) --no-print-directory -j2 --output-sync=target kind-first-half kind-second-half

# The two halves of molecule-kind, side by side, each on a cluster `kind.sh with` holds for it: no
# other checkout's `kind.sh up` recreates or reloads it meanwhile. One test at a time on a
# cluster: its node has two CPUs to allocate, and two test files side by side on one node left a
# release's pod Pending for Insufficient cpu (pytest-xdist, tried and removed); two clusters have
# a node each. The first half is these files, then molecule's `default`; the second, every other
# kind test file (durations: README, "The kind tier is the longest path"), test_kind_argo_rollouts.py
# (107-160 s) included: the first half was the longer one.
KIND_TESTS_FIRST_HALF := tests/integration/test_kind_edge.py tests/integration/test_kind_zero_downtime.py \
  tests/integration/test_kind_canary_faults.py
kind-first-half: setup
	KIND_CLUSTER_NAME=$(KIND_TESTS_CLUSTER) cluster/kind.sh with $(MAKE) --no-print-directory kind-tests-held

kind-tests-held: setup
	pytest --durations=10 -m 'kind and not race' $(KIND_TESTS_FIRST_HALF)
	export MOLECULE_EPHEMERAL_DIRECTORY=$(call molecule_state,default); \
	  { molecule reset -s default >/dev/null 2>&1 || true; } && molecule test -s default

kind-second-half: setup
	KIND_CLUSTER_NAME=$(KIND_TESTS_CLUSTER_2) cluster/kind.sh with pytest --durations=10 \
	  -m 'kind and not race' tests/integration $(addprefix --ignore=,$(KIND_TESTS_FIRST_HALF))

kind-races: setup ## The kind tests that show a race (lost with some probability): not in make test
	cluster/kind.sh build >&2
	KIND_CLUSTER_NAME=$(KIND_TESTS_CLUSTER) cluster/kind.sh with pytest -m 'kind and race' tests/integration

smoke-kwok: ## The kwok tier's smoke checks (cluster/kwok/smoke.sh), on a kwok cluster of their own
	$(CLUSTER) build >&2
	$(CLUSTER) throwaway cluster/kwok/smoke.sh

bench: setup ## Benchmark against the Ansible floor F, kubectl, helm and a naive role (after make cluster); writes BENCHMARKS.md
	bench/run.sh

bench-kind: setup ## First deploy on kind, readiness probe before/after issue 10 (bench/kind_probe.py)
	@kubeconfig=$$(cluster/kind.sh up | tail -n 1); \
	python bench/kind_probe.py --kubeconfig $$kubeconfig $(if $(ROUNDS),--rounds $(ROUNDS))

build: setup ## Build the collection tarball into build/
	ansible-galaxy collection build --force --output-path build .

sanity: setup ## ansible-test sanity (no containers, Python 3.11)
	tools/sanity.sh

docs: setup ## Regenerate docs/: antsibull-docs (role, plugins) and the playbook index
	tools/docs.sh

docs-check: setup ## Fail if docs/ no longer matches the sources
	tools/docs.sh --check

ee: setup ## Check execution-environment.yml (ansible-builder create; no image build)
	tools/ee.sh

test-build: setup ## The collection tarball: contents, offline install, docs from the install
	pytest -p no:cacheprovider tests/build

checks: lint sanity docs-check unit differential test-render test-build ee ## The checks that need no cluster

cluster-build: ## Build both cluster tiers (cached; kind's images after the kwok tier's binaries)
	$(CLUSTER) build >&2
	cluster/kind.sh build >&2

# The kwok tier's two parts side by side: integration on its own cluster, molecule on the shared
# one (their waits overlap). The kind tier's parts one after the other: they share its cluster.
tier-kwok: setup ## The kwok tier's tests
	$(MAKE) --no-print-directory -j2 --output-sync=target integration molecule

tier-kind: setup ## The kind tier's tests
	$(MAKE) --no-print-directory molecule-kind

# Everything CI runs. The cluster builds first (seconds when cached), then the two tiers side by
# side (separate clusters; their tests mostly wait), the checks one at a time beside them, and the
# kwok smoke checks on a cluster of their own. The kind tier was the longest path: it starts first
# (with two kind clusters, kwok integration's longer half took longer in one make test: README).
# Output is shown per target when it finishes.
# The log is kept (.cache/test.log, ignored by git) and what failed is printed again at its end.
TEST_LOG := .cache/test.log
test: ## Everything CI runs
	$(MAKE) --no-print-directory cluster-build
	mkdir -p $(dir $(TEST_LOG))
	set -o pipefail; $(MAKE) --no-print-directory -k -j4 --output-sync=target tier-kind tier-kwok checks smoke-kwok 2>&1 \
	  | tee $(TEST_LOG) || { tools/what_failed.sh $(TEST_LOG); exit 1; }
