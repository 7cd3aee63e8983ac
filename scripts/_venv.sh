# shellcheck shell=bash
# Shared by scripts/test.sh, scripts/run.sh and `make install`.
#
# Sourced: defines `ensure_venv`, which makes sure <repo>/.venv exists and holds an
# editable install of the project with the `dev` extra, and of the Python client
# (clients/python). The install is skipped when the stamp file
# .venv/.installed-<sha256 of both pyproject.toml files> exists, so it reruns only when
# one of them changes.
#
# Executed directly (`bash scripts/_venv.sh`): runs ensure_venv and exits.
#
# Environment: PYTHON picks the interpreter that creates the venv (default python3).

ensure_venv() {
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
    local stamp="$venv/.installed-$digest"

    if [[ ! -f "$stamp" ]]; then
        echo ">> installing project into .venv (pyproject.toml changed or first run)" >&2
        (cd "$root" && "$venv/bin/python" -m pip install -q -e ".[dev]" -e clients/python)
        rm -f "$venv"/.installed-*
        touch "$stamp"
    fi
}

# Executed rather than sourced: just do the install.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    ensure_venv
fi
