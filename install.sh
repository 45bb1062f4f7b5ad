#!/usr/bin/env bash
# Installs Tandem on a Debian 12 machine, as root: the Debian packages it and its tests use
# (scripts/debian-packages.txt), the npm dependencies (npm ci) and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

need_node='20.19.0'
if ! command -v node >/dev/null 2>&1; then
  echo "install.sh: Node.js >= ${need_node} is required and was not found" >&2
  exit 1
fi
if ! node -e "const [a,b]=process.versions.node.split('.').map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)"; then
  echo "install.sh: Node.js >= ${need_node} is required; this is $(node --version)" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  mapfile -t packages < <(grep -v '^\s*#' scripts/debian-packages.txt | grep -v '^\s*$')
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
else
  echo "install.sh: not root; skipping Debian packages (see scripts/debian-packages.txt)" >&2
fi

# npm only warns about an unsupported engine; a package that needs a newer Node would fail later, so
# such a warning stops the install here.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
npm ci --no-audit --no-fund 2>&1 | tee "$log"
if grep -q EBADENGINE "$log"; then
  echo "install.sh: npm reported EBADENGINE: a dependency does not support $(node --version)" >&2
  exit 1
fi
npm run build
echo "install.sh: done. Start a node with: bin/tandem serve"
