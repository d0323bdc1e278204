#!/bin/sh
# `make audit`: starts Chatzilla (bin/chatzilla, on a scratch SQLite file),
# joins and posts a few messages, then runs Lighthouse on the join page and
# the chat page with the mobile and desktop presets, and the Nu HTML checker
# on the join page, the join page refusing an address (422) and the chat page
# when Java is present. Prints the scores; reports and pages go to
# $AUDIT_OUT (tmp/audit). Exits non-zero when a Lighthouse run or the Nu
# checker fails, not when a score is low: the scores are for a person to read.
set -eu
cd "$(dirname "$0")/../.."

port=${AUDIT_PORT:-5077}
base=http://127.0.0.1:$port
out=${AUDIT_OUT:-tmp/audit}
tools=tools/audit/node_modules
CHROME_PATH=${CHROME_PATH:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$CHROME_PATH" ]; then
	echo "audit: no Chromium found: apt-get install chromium, or set CHROME_PATH" >&2
	exit 1
fi
export CHROME_PATH

rm -rf "$out"
mkdir -p "$out"
scratch=$(mktemp -d)
SESSION_SECRET=audit-audit-audit-audit-audit-audit DATABASE_URL="sqlite:$scratch/audit.db" PORT=$port \
	bin/chatzilla >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$scratch"' EXIT INT TERM

tries=0
until curl -fs "$base/healthz" >/dev/null; do
	tries=$((tries + 1))
	if [ $tries -gt 100 ]; then
		echo "audit: Chatzilla did not start; its log:" >&2
		cat "$out/server.log" >&2
		exit 1
	fi
	sleep 0.1
done

# Someone who has joined, and a conversation to show them.
jar=$out/cookies.txt
curl -fs -o /dev/null -c "$jar" -d email=audit@example.com "$base/join"
for m in "Morning! Who's up for lunch at 12:30?" "Me! The new ramen place on 5th?" \
	"Count me in. I'll book a table for three." "Perfect, see you there"; do
	curl -fs -o /dev/null -b "$jar" --data-urlencode "message=$m" "$base/messages"
done
cookie=$(awk '$6 == "chatzilla" { print $6 "=" $7 }' "$jar")

# The chat page keeps its stream open, so the network never goes idle:
# Lighthouse waits at most this long for the page to load.
max_wait=${AUDIT_MAX_WAIT_MS:-10000}
lighthouse() {
	name=$1
	url=$2
	shift 2
	echo "lighthouse: $name" >&2
	"$tools/.bin/lighthouse" "$url" --quiet --output=json --output-path="$out/$name.json" \
		--chrome-flags="--headless=new --no-sandbox --disable-gpu" \
		--max-wait-for-load="$max_wait" \
		--only-categories=performance,accessibility,best-practices,seo "$@"
}
for preset in mobile desktop; do
	flags=""
	[ $preset = desktop ] && flags="--preset=desktop"
	# shellcheck disable=SC2086 # flags is one word or none
	lighthouse "join-$preset" "$base/" $flags
	# shellcheck disable=SC2086
	lighthouse "chat-$preset" "$base/" $flags --extra-headers="{\"Cookie\": \"$cookie\"}"
done
node tools/audit/scores.mjs "$out"/join-mobile.json "$out"/join-desktop.json "$out"/chat-mobile.json "$out"/chat-desktop.json

if command -v java >/dev/null; then
	curl -fs -o "$out/join.html" "$base/"
	curl -s -o "$out/join-422.html" -d email=not-an-address "$base/join"
	curl -fs -o "$out/chat.html" -b "$jar" "$base/"
	echo
	echo "Nu HTML checker (vnu-jar), errors and warnings; htmx's hx-* attributes are left out:"
	# htmx's own attributes (hx-post, hx-sse:connect, ...) are not HTML's,
	# and the checker flags each one; everything else is reported.
	if java -jar "$tools/vnu-jar/build/dist/vnu.jar" --format text \
		--filterpattern '.*Attribute “hx-[^”]*” not allowed.*' \
		"$out/join.html" "$out/join-422.html" "$out/chat.html"; then
		echo "Nu: no errors or warnings on the join page, the 422 page and the chat page"
	else
		exit 1
	fi
else
	echo "Nu HTML checker skipped: no java on PATH (apt-get install default-jre-headless)"
fi
