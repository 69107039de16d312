# tests/e2e/requirements.sh - what the browser test and the browser benchmark need. Source
# it with ROOT (the checkout), UDCS_BIN and CHROMIUM set; dashboard_missing prints why they
# cannot run (and succeeds), or prints nothing and fails when all is there.
dashboard_missing() {
    if ! command -v node >/dev/null 2>&1; then echo "node is not installed (make deps)"
    elif [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
        echo "playwright-core needs Node.js 20 or newer, this is $(node --version) (.ci/run installs NodeSource's)"
    elif [ ! -f "$CHROMIUM" ] || [ ! -x "$CHROMIUM" ]; then echo "$CHROMIUM is not installed (make deps)"
    elif [ ! -d "$ROOT/web/node_modules/playwright-core" ]; then echo "web/node_modules is not installed (make web)"
    elif [ ! -f "${UDCS_WEB_DIR:-$UDCS_BIN/../web}/index.html" ]; then echo "the dashboard is not built (make web)"
    else return 1
    fi
}
