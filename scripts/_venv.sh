# shellcheck shell=bash
# Shared by scripts/test.sh, scripts/run.sh and `make install`.
#
# Sourced: defines `ensure_venv [dev|runtime]`, which makes sure <repo>/.venv exists and holds
# an editable install of the project: with the `dev` extra and the Python client
# (clients/python) by default (tests, linters, type checker), or `runtime` for only what
# serving needs (`make run`: a few seconds instead of a minute). Each install leaves a stamp
# .venv/.installed-<kind>-<sha256 of both pyproject.toml files>, so it reruns only when one of
# them changes; a dev install also satisfies `runtime`.
#
# Executed directly (`bash scripts/_venv.sh [dev|runtime]`): runs ensure_venv and exits.
#
# Environment: PYTHON picks the interpreter that creates the venv (default python3).

ensure_venv() {
    local kind="${1:-dev}"
    case "$kind" in
        dev | runtime) ;;
        *)
            echo "ensure_venv: unknown kind '$kind' (dev or runtime)" >&2
            return 2
            ;;
    esac
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local venv="$root/.venv"
    local python="${PYTHON:-python3}"

    if [[ ! -x "$venv/bin/python" ]]; then
        echo ">> creating virtualenv in .venv" >&2
        rm -rf "$venv"
        "$python" -m venv "$venv"
    fi

    local digest
    digest="$("$venv/bin/python" -c \
        'import hashlib, sys; print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
        "$root/pyproject.toml" "$root/clients/python/pyproject.toml")"

    if [[ -f "$venv/.installed-dev-$digest" ]]; then
        return 0 # the dev install holds the runtime too
    fi
    if [[ "$kind" == runtime && -f "$venv/.installed-runtime-$digest" ]]; then
        return 0
    fi

    local -a targets=(-e .)
    [[ "$kind" == dev ]] && targets=(-e ".[dev]" -e clients/python)
    echo ">> installing the project ($kind) into .venv (pyproject.toml changed or first run)" >&2
    (cd "$root" && "$venv/bin/python" -m pip install -q "${targets[@]}")
    rm -f "$venv"/.installed-*
    touch "$venv/.installed-$kind-$digest"
}

# Executed rather than sourced: just do the install.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    ensure_venv "$@"
fi
