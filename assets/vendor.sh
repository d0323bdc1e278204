#!/bin/sh
# Copies the browser's third-party scripts from node_modules (pinned by
# package-lock.json) into static/vendor, where they are embedded in the binary.
# htmx and its SSE extension become one file: a deferred htmx starts as soon
# as it has run, and an extension that arrived later would miss the page.
set -eu
cd "$(dirname "$0")/.."
rm -rf assets/static/vendor
mkdir -p assets/static/vendor
for f in node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/dist/ext/hx-sse.min.js; do
	cat "$f"
	echo
done >assets/static/vendor/htmx-sse.min.js
