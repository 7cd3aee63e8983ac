# shellcheck shell=bash
# Shared by scripts/test.sh and `make screenshots`: the browser the console is tested in.
#
# Sourced: defines `ensure_chromium`, which installs Debian's `chromium` and
# `chromium-driver` packages when /usr/bin/chromium or /usr/bin/chromedriver is missing (as
# root with apt-get, else with sudo). Nothing is downloaded at test time otherwise: Selenium is
# pointed at these binaries (tests/browser/support.py).
#
# Executed directly (`bash scripts/_chromium.sh`): runs ensure_chromium and exits.

ensure_chromium() {
    if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
        return 0
    fi
    echo ">> installing chromium and chromium-driver (the console's browser tests)" >&2
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "!! chromium/chromium-driver are missing and this user cannot apt-get install them" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2; then
        "${sudo[@]}" apt-get update -q >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    ensure_chromium
fi
