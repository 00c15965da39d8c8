#!/usr/bin/env bash
# Vendors the htmx build pinned in package.json (+ package-lock.json) into static/vendor/.
#
#   assets/vendor-htmx.sh            # re-vendor the pinned version (npm ci)
#   assets/vendor-htmx.sh 4.0.2      # bump the pin to 4.0.2 first (npm install --save-exact), then vendor
#
# The file lands at static/vendor/htmx-<version>.min.js; older htmx-*.min.js files are removed, so
# assets.Path("vendor/htmx.min.js") always resolves to exactly one vendored build.
set -euo pipefail
cd "$(dirname "$0")"

if [[ $# -gt 0 ]]; then
	npm install --save-exact --no-audit --no-fund "htmx.org@$1"
fi

version="$(node -p 'require("./package.json").dependencies["htmx.org"]')"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
	echo "vendor-htmx: package.json must pin htmx.org to an exact version, got '$version'" >&2
	exit 1
fi

npm ci --no-audit --no-fund
installed="$(node -p 'require("./node_modules/htmx.org/package.json").version')"
if [[ "$installed" != "$version" ]]; then
	echo "vendor-htmx: node_modules has htmx.org $installed, package.json pins $version" >&2
	exit 1
fi

mkdir -p static/vendor
dest="static/vendor/htmx-${version}.min.js"
cp node_modules/htmx.org/dist/htmx.min.js "$dest"
for f in static/vendor/htmx-*.min.js; do
	[[ "$f" == "$dest" ]] || rm -v -- "$f"
done
echo "vendor-htmx: $dest ($(wc -c <"$dest") bytes)"
