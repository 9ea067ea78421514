# shellcheck shell=bash
# Python tools the tests install from PyPI (source it).

# python_venv NAME REQUIREMENTS: prints the python of build/py/NAME, a venv holding exactly the
# pinned REQUIREMENTS (every package listed, installed without resolving others), re-created when
# the file changes.
python_venv() {
  local dir req=$2 stamp
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/py/$1"
  stamp=$(sha256sum "$req" | cut -d' ' -f1)
  if [[ ! -x $dir/bin/python || $(cat "$dir/.requirements" 2>/dev/null) != "$stamp" ]]; then
    rm -rf "$dir"
    python3 -m venv "$dir" >&2 || { apt-get install -y -qq python3-venv >&2 && python3 -m venv "$dir" >&2; }
    "$dir/bin/pip" install -q --no-deps -r "$req" >&2
    echo "$stamp" >"$dir/.requirements"
  fi
  echo "$dir/bin/python"
}
