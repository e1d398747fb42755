# K8sTA developer entry points. Every target installs what it needs (venv, pinned Go builds,
# Debian packages) so that each works on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export K8STA_CACHE ?= $(HOME)/.cache/k8sta
PYTEST_ARGS ?=

.PHONY: help venv lock tools tools-cmp deps browser-deps images node-images node-deps node-tools test test-unit test-cluster demo-cluster demo-cluster-down test-argocd-compat lint bench-cmp bench-argocd bench-decide bench-pass bench-mirror bench-daemon bench-scale bench-board stack-up stack-down demo demo-down clean

help:
	@echo "make test        - set up everything and run the whole test suite (unit + real-stack e2e)"
	@echo "make demo        - set up everything and run the main job on the local real stack"
	@echo "make test-argocd-compat - the Argo CD smoke subset on the oldest Argo CD release still tested"
	@echo "make lock        - renew the hash-pinned lock files (requirements/*.txt) from pyproject.toml"
	@echo "make images      - build both images with buildah from Debian-made bases (no Docker engine)"
	@echo "make node-images - OCI archives of every image a real node runs (Argo CD, redis, pause, ours)"
	@echo "make test-cluster - the tests on a real node (kubelet + containerd): Argo CD and K8sTA as pods"
	@echo "make demo-cluster / demo-cluster-down - a real node: Argo CD, K8sTA installed by the README Quickstart, one ticket ridden"
	@echo "make bench-cmp   - benchmark the plugin against bare kustomize (docs/benchmarks.md)"
	@echo "make bench-argocd - our plugin vs Argo CD's native kustomize inside the real repo-server"
	@echo "make bench-decide / bench-pass / bench-mirror / bench-daemon - decision core, one loop pass, mirror disk, controller latency"
	@echo "make bench-scale - N Tracks x 3 Stations (N = 10, 30, 100) beside 300 unmanaged Applications, on the real stack"
	@echo "make bench-board - benchmark the departure board at 1,000 tracks (server render, chromium load, SSE)"
	@echo "make stack-up / stack-down - run the local kube-apiserver + etcd + Argo CD stack"

# The product (editable, with the dev extra) and the development-only devstack distribution. Every
# dependency comes from the lock file, hash-checked (requirements/dev.txt; `make lock` renews it);
# nothing else is fetched: the editable installs bring no dependencies and no build environment of
# their own, and `pip check` fails when pyproject.toml asks for something the lock does not hold.
$(VENV)/.installed: pyproject.toml devstack/pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . -e ./devstack
	$(PY) -m pip check
	touch $@

venv: $(VENV)/.installed

# Renew the lock files (requirements/*.txt, with hashes) from pyproject.toml and requirements/*.in:
# one universal resolution for Python 3.11+ (the images' Debian python3 and the venv), by uv.
UV_VERSION := 0.13.10
LOCK := $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes
lock: venv
	$(PY) -m pip install --quiet 'uv==$(UV_VERSION)'
	UV_CUSTOM_COMPILE_COMMAND='make lock' $(LOCK) pyproject.toml -o requirements/cmp.txt
	UV_CUSTOM_COMPILE_COMMAND='make lock' $(LOCK) pyproject.toml --extra daemon -o requirements/daemon.txt
	UV_CUSTOM_COMPILE_COMMAND='make lock' $(LOCK) requirements/build.in -o requirements/build.txt
	UV_CUSTOM_COMPILE_COMMAND='make lock' $(LOCK) --no-emit-package k8sta --no-emit-package k8sta-devstack \
	  requirements/dev.in -o requirements/dev.txt

deps:
	toolchain/debian-deps.sh
	toolchain/image-deps.sh

browser-deps:
	toolchain/browser-deps.sh

tools-cmp:
	toolchain/build.sh kustomize

tools: deps
	toolchain/build.sh all

# Base images from Debian packages (mmdebstrap, cached under $(K8STA_CACHE)/images), then
# Dockerfile.cmp and Dockerfile.daemon with buildah; see docs/images.md.
images: deps tools-cmp
	toolchain/images.sh

# What a real node (kubelet + containerd) runs, as OCI archives for `ctr images import`, cached under
# $(K8STA_CACHE)/images/node with index.json; see docs/images.md "Images for the real node".
node-images: images tools
	toolchain/node-images.sh

# The whole suite on the pinned Argo CD (ARGOCD_VERSION), then the smoke subset on the oldest Argo CD
# release still tested (ARGOCD_COMPAT_VERSION; docs/operations.md "Argo CD versions").
test: lint tools images node-images node-tools browser-deps
	$(PY) -m pytest --ignore=tests/cluster $(PYTEST_ARGS)
	$(ARGOCD_COMPAT) $(PY) -m pytest $(ARGOCD_SMOKE) $(PYTEST_ARGS)
	$(PY) -m pytest tests/cluster $(PYTEST_ARGS)

# The real node (docs/devstack-node.md): Debian's containerd and CNI plugins, then kubelet, kube-proxy,
# kubectl and CoreDNS from their pinned modules. Its tests run in a pytest session of their own.
node-deps:
	toolchain/node-deps.sh

node-tools: tools node-deps
	toolchain/build.sh node

test-cluster: lint node-tools node-images
	$(PY) -m pytest tests/cluster $(PYTEST_ARGS)

demo-cluster: venv node-tools node-images
	$(PY) -m k8sta_devstack cluster-up

demo-cluster-down: venv
	$(PY) -m k8sta_devstack cluster-down

# What every Argo CD release K8sTA claims must carry: a ticket over three Stations with a canary resumed by
# Argo CD's action, retry (manual and automated sync), a refused sync request, drift repair, the plugin's
# refusals, the version check.
ARGOCD_SMOKE := \
  tests/e2e_daemon/test_workloads.py::test_f_a_ticket_rides_three_stations_and_argo_cds_resume_action_promotes_its_canary_at_the_last \
  tests/e2e_daemon/test_retry.py \
  tests/e2e_daemon/test_sync_refused.py \
  tests/e2e_daemon/test_drift.py::test_a_breaking_hand_edit_is_repaired_and_the_ticket_completes \
  tests/e2e/test_smoke.py::test_hostile_branch_is_refused_and_argocd_shows_why \
  tests/e2e/test_smoke.py::test_signed_branch_renders_and_one_edited_after_signing_is_refused_naming_the_file \
  tests/e2e_daemon/test_argocd_version.py::test_the_stacks_argocd_is_logged_as_tested
ARGOCD_COMPAT = K8STA_DEVSTACK_ARGOCD_VERSION=$$(. toolchain/versions.env && echo $$ARGOCD_COMPAT_VERSION)

test-argocd-compat: lint tools
	$(ARGOCD_COMPAT) $(PY) -m pytest $(ARGOCD_SMOKE) $(PYTEST_ARGS)

test-unit: lint tools-cmp browser-deps
	$(PY) -m pytest -m 'not stack and not images' $(PYTEST_ARGS)

# ruff, then the layer contracts of docs/architecture.md ([tool.importlinter] in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check cmp daemon devstack tests bench
	$(VENV)/bin/lint-imports

bench-cmp: venv tools-cmp
	$(PY) bench/bench_cmp.py

bench-argocd: venv tools
	$(PY) bench/bench_argocd.py

bench-decide: venv
	$(PY) bench/decide_cost.py

bench-pass: venv
	$(PY) bench/bench_pass.py

bench-mirror: venv
	$(PY) bench/bench_mirror.py

bench-daemon: venv tools
	$(PY) bench/bench_daemon.py

# BENCH_SCALE_ARGS, e.g. --sizes 10,30
bench-scale: venv tools
	$(PY) bench/bench_scale.py $(BENCH_SCALE_ARGS)

bench-board: venv browser-deps
	$(PY) bench/bench_board.py

stack-up: venv tools
	$(PY) -m k8sta_devstack up

stack-down: venv
	$(PY) -m k8sta_devstack down

demo: venv tools
	$(PY) -m k8sta_devstack demo

demo-down: stack-down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
