# Sourced by ./opencom and ./run-tests: make sure .venv exists and holds this checkout's
# dependencies, reinstalling only when pyproject.toml changed since the last install.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.opencom-installed"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "opencom needs Python 3.11 or newer (found $("$python" --version 2>&1))" >&2
        exit 1
    }
    "$python" -m venv "$venv"
fi
wanted="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet -e "$repo[test]" >&2
    echo "$wanted" > "$stamp"
fi
