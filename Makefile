# orch — build, test and demo. Needs make and npm (for the pinned Deno); nothing else.

DENO_VERSION := 2.9.6
TOOLS := $(CURDIR)/.tools

# The pinned Deno: the one on PATH when it is exactly that version, else one
# installed from the npm registry's `deno` package into .tools/.
DENO := $(shell d=$$(command -v deno 2>/dev/null); \
	if [ -n "$$d" ] && "$$d" --version 2>/dev/null | head -n1 | grep -q "^deno $(DENO_VERSION) "; \
	then echo "$$d"; else echo "$(TOOLS)/bin/deno"; fi)

TEST_FLAGS := --allow-all --parallel

.PHONY: all deps demo test screenshots fmt fmt-check lint check unit integration fault bench build bundle release clean

all: check

$(TOOLS)/bin/deno:
	@echo "installing deno $(DENO_VERSION) from the npm registry into .tools/"
	@mkdir -p $(TOOLS)/bin
	@npm install --prefix $(TOOLS)/deno --no-save --no-audit --no-fund --loglevel=error deno@$(DENO_VERSION) >/dev/null
	@bin=$$(ls $(TOOLS)/deno/node_modules/@deno/*/deno 2>/dev/null | head -n1); \
	  if [ -z "$$bin" ]; then echo "no deno binary for this platform in the npm package" >&2; exit 1; fi; \
	  ln -sf "$$bin" $(TOOLS)/bin/deno
	@$(TOOLS)/bin/deno --version | head -n1

# Fetches the npm dependencies pinned in deno.lock.
deps: $(if $(filter $(TOOLS)/bin/deno,$(DENO)),$(TOOLS)/bin/deno)
	@$(DENO) install --frozen --quiet

## A real conductor, three real players, real jobs, real output; then everything is stopped.
demo: deps
	$(DENO) run --allow-all tests/demo.ts

## Format check, lint, type check, and every test.
test: deps fmt-check lint check
	$(DENO) test $(TEST_FLAGS) tests/

## The dashboard's screenshots in docs/screenshots, from the browser test (needs bash .ci/run's chromium).
screenshots: deps
	ORCH_SCREENSHOTS=$(CURDIR)/docs/screenshots $(DENO) test $(TEST_FLAGS) tests/browser/

fmt: deps
	$(DENO) fmt

fmt-check: deps
	$(DENO) fmt --check

lint: deps
	$(DENO) lint

check: deps
	$(DENO) check main.ts tests/

unit: deps
	$(DENO) test $(TEST_FLAGS) tests/unit/

integration: deps
	$(DENO) test $(TEST_FLAGS) tests/integration/

## The fault suite alone: kills, restarts, partitions.
fault: deps
	$(DENO) test $(TEST_FLAGS) tests/fault/

## Benchmarks print figures; they never fail on timing.
bench: deps bundle
	$(DENO) run --allow-all tests/bench/submit_wait.ts
	$(DENO) run --allow-all tests/bench/restart_reconnect.ts
	$(DENO) run --allow-all tests/bench/player_memory.ts
	$(DENO) run -A main.ts bench --players 1000
	$(DENO) run --allow-all tests/bench/store_bound.ts
	$(DENO) run --allow-all tests/bench/retention_space.ts
	$(DENO) run --allow-all tests/bench/failover_time.ts
	$(DENO) run --allow-all tests/bench/standby_refusals.ts
	$(DENO) run --allow-all tests/bench/startup.ts

## A single executable, dist/orch. Offline: DENORT_BIN=/path/to/denort make build
build: deps
	@mkdir -p dist
	@$(DENO) compile --allow-all --output dist/orch main.ts || { \
	  echo "make build: deno compile needs the denort $(DENO_VERSION) base binary; it downloads it from" >&2; \
	  echo "dl.deno.land, or takes it from DENORT_BIN=/path/to/denort when that host is unreachable." >&2; \
	  echo "make bundle makes dist/orch.js instead, which any deno runs: deno run -A orch.js" >&2; \
	  exit 1; }
	@echo "wrote dist/orch"

## One JavaScript file, dist/orch.js, that any deno runs: deno run -A dist/orch.js; and the same
## split as the release holds it, dist/bundle/main.js and its chunks (each command loads its own).
bundle: deps
	@mkdir -p dist
	$(DENO) bundle --quiet --output dist/orch.js main.ts
	rm -rf dist/bundle && $(DENO) bundle --quiet --code-splitting --outdir dist/bundle main.ts
	$(DENO) run --quiet --allow-read --allow-write packaging/lazy_require.ts dist/orch.js dist/bundle/*.js

# Platforms the npm deno package has a runtime for (Windows left out: orch needs Unix sockets,
# process groups and file modes). `make release PLATFORMS=linux-x64` builds one.
PLATFORMS := linux-x64 linux-arm64 darwin-x64 darwin-arm64
RELEASE_DIR := $(CURDIR)/dist
# Runtimes fetched from the npm registry for platforms other than this machine's.
RUNTIMES := $(TOOLS)/runtimes
GZIP_LEVEL := 6

## Per platform, dist/orch-VERSION-OS-ARCH.tar.gz (launcher, runtime, bundle, units, examples,
## completions, man page) and dist/orch-OS-ARCH (one self-unpacking file); dist/SHA256SUMS.
release: deps
	@DENO="$(DENO)" DENO_VERSION="$(DENO_VERSION)" PLATFORMS="$(PLATFORMS)" OUT="$(RELEASE_DIR)" \
	  RUNTIMES="$(RUNTIMES)" TOOLS="$(TOOLS)" GZIP_LEVEL="$(GZIP_LEVEL)" sh packaging/release.sh

clean:
	rm -rf dist
