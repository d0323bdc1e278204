# Chatzilla. `make run` starts it on http://localhost:5000; `make test` runs every test.
# Both do their own set-up: npm packages, copied assets, generated templates.

GO ?= go
PORT ?= 5000
VENDOR := assets/static/vendor

.PHONY: run build assets generate check-generated test test-short vet bench audit clean

# run builds, then runs the binary itself rather than `go run`, so that
# Ctrl-C reaches chatzilla, which shuts down cleanly and exits 0. In a
# terminal the server runs as the foreground job (set -m, fg): Ctrl-C then
# goes to it alone, not to make too, which would die of the signal (exit 130).
run: assets
	@echo "Building bin/chatzilla (the first build compiles SQLite and takes a minute or two)..."
	@$(GO) build -o bin/chatzilla ./cmd/chatzilla
	@echo "Starting bin/chatzilla on port $(PORT); Ctrl-C stops it."
	@if [ -t 0 ]; then set -m; PORT=$(PORT) ./bin/chatzilla & fg %1 >/dev/null; \
	else PORT=$(PORT) exec ./bin/chatzilla; fi

build: assets
	$(GO) build -o bin/chatzilla ./cmd/chatzilla

# The htmx scripts come from npm (package-lock.json pins them) and are embedded
# in the binary, never fetched from a CDN.
assets: $(VENDOR)/htmx-sse.min.js

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# `npm run vendor` is the one copy step, shared with Heroku's build
# (package.json's heroku-postbuild).
$(VENDOR)/htmx-sse.min.js: node_modules/.package-lock.json assets/vendor.sh
	npm run --silent vendor

generate:
	$(GO) tool templ generate -path views

# Fails when a committed *_templ.go differs from what its .templ generates.
check-generated:
	@tmp=$$(mktemp -d) && cp views/*.templ $$tmp/ && $(GO) tool templ generate -path $$tmp >/dev/null 2>&1 && \
	stale=0; for f in $$tmp/*_templ.go; do \
		cmp -s $$f views/$${f##*/} || { echo "stale: views/$${f##*/} (run make generate)"; stale=1; }; \
	done; rm -rf $$tmp; exit $$stale

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The tests run through testreport, which prints what go test does (the
# ok/FAIL line of each package, the output of failing tests) and then every
# skipped test with its reason, and exits with go test's status.
# The fuzzing budget is a count of runs, not a time: with a time, Go 1.26's
# coordinator can report its own deadline as a failure when a worker is
# mid-run as it ends (go.dev/issue/75804, fixed in Go 1.27). 20,000 runs
# take 5-15 s here.
test: assets check-generated vet
	$(GO) test -run '^$$' -fuzz FuzzMessagePipeline -fuzztime 20000x ./handlers
	@$(GO) build -o bin/testreport ./internal/testreport
	GO=$(GO) bin/testreport -race -count=1 -timeout 20m ./...

test-short: assets
	$(GO) test -short -count=1 ./...

# Benchmarks, 6 runs each, summarised by benchstat. To compare a change:
# `make bench` before and after, keeping the first bench.txt as old.txt, then
# `go tool benchstat old.txt bench.txt`.
bench: assets
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./hub ./stream ./handlers ./store | tee bench.txt
	$(GO) tool benchstat bench.txt

# Lighthouse (mobile and desktop) on the join and chat pages, and the Nu HTML
# checker when Java is present, against a Chatzilla started for the purpose;
# prints the scores (docs/AUDIT.md has the latest). The tools' npm packages are
# pinned by tools/audit/package-lock.json and installed only here, never by
# `make run` or `make test`. Chromium is found on PATH or at CHROME_PATH.
audit: build tools/audit/node_modules/.package-lock.json
	sh tools/audit/run.sh

# --ignore-scripts: vnu-jar would otherwise download a Java runtime of its own.
tools/audit/node_modules/.package-lock.json: tools/audit/package.json tools/audit/package-lock.json
	cd tools/audit && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

clean:
	rm -rf bin $(VENDOR) node_modules tools/audit/node_modules
