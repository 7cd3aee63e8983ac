# shellcheck shell=bash
# Sourced by scripts/test.sh: defines `ensure_browser`, which makes sure Debian's `chromium` and
# `chromium-driver` are installed. The browser tests (tests/support/browser.py) drive them
# headless with Selenium; a fresh machine (CI) does not have them.
#
# Installs them with apt-get when missing (as root, or through sudo). Never fatal: when they
# cannot be installed it says so, and the browser tests fail with the same advice.

ensure_browser() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo ">> chromium/chromedriver missing: apt-get install chromium chromium-driver" >&2
            return 0
        fi
        sudo=(sudo -n)
    fi
    echo ">> installing chromium and chromium-driver for the browser tests (apt-get)" >&2
    if ! "${sudo[@]}" apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; then
        "${sudo[@]}" apt-get update -q >/dev/null 2>&1 || true
        "${sudo[@]}" apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
            echo ">> could not install chromium chromium-driver; the browser tests will fail" >&2
    fi
}

# Executed rather than sourced (`make screenshots`): just do the install.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    ensure_browser
fi
