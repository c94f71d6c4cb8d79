#!/usr/bin/env bash
# Extras for `ovr report`: Debian's chromium and Playwright's Python package for the browser tests
# (Playwright drives /usr/bin/chromium; it never downloads a browser), and KaTeX unpacked into a
# cache folder so reports render LaTeX offline (report.py inlines it; nothing is committed).
# Usage: bash scripts/setup-browser.sh     (VENV=path, OVR_KATEX_DIR=folder, KATEX_VERSION=0.16)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
KATEX_DIR="${OVR_KATEX_DIR:-$HOME/.cache/ovr-eval/katex}"
KATEX_VERSION="${KATEX_VERSION:-0.16}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

# 1. the browser (Debian's build; /usr/bin/chromium is what the tests launch)
[ -x /usr/bin/chromium ] || apt_install chromium
# 2. Playwright's Python package only (no `playwright install`: the system chromium is used)
"$VENV/bin/pip" install --quiet playwright
# 3. KaTeX from the npm registry, unpacked (dist/katex.min.js, katex.min.css, fonts/*.woff2)
if [ ! -f "$KATEX_DIR/dist/katex.min.js" ]; then
  command -v npm >/dev/null || apt_install npm
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "katex@$KATEX_VERSION" >/dev/null)
  mkdir -p "$KATEX_DIR"
  tar -xzf "$tmp"/katex-*.tgz -C "$KATEX_DIR" --strip-components=1
fi
"$VENV/bin/python" -c "import playwright" && /usr/bin/chromium --version 2>/dev/null \
  && echo "browser tests ready; KaTeX $(node -p "require('$KATEX_DIR/package.json').version" \
     2>/dev/null || echo '?') in $KATEX_DIR"
