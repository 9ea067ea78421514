# shellcheck shell=bash
# Node set-up shared by scripts/localnet (one host, loopback) and scripts/network (one network
# namespace per organisation): config edits, the test accounts, genesis defaults.

# Install missing command-line tools from Debian (root) or stop.
need_tools() {
  local missing=() t
  for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
  else
    echo "missing tools: ${missing[*]}" >&2
    return 1
  fi
}

# Run a command silently; on failure show the end of what it said.
quiet() {
  local out
  out=$("$@" 2>&1) || { tail -n 5 <<<"$out" >&2; return 1; }
}

# Set `key = value` (value is raw TOML) inside [section] of a TOML file ("" = top level).
toml_set() {
  local file=$1 sec=$2 key=$3 val=$4
  awk -v sec="$sec" -v key="$key" -v val="$val" '
    function emit() { print key " = " val; done = 1 }
    /^\[[^]]*\][ \t]*$/ { if (cur == sec && !done) emit(); cur = substr($0, 2, index($0, "]") - 2) }
    { if (cur == sec && !done && $0 ~ ("^" key "[ \t]*=")) { emit(); next } print }
    END { if (!done) { if (cur != sec) print "[" sec "]"; emit() } }' "$file" >"$file.tmp"
  mv "$file.tmp" "$file"
}

# Block timing: fast (tests) = 400 ms between blocks; otherwise 1 s (the SDK's 5 s is too slow for a demo).
set_block_timing() { # config.toml fast(0|1)
  if [[ $2 == 1 ]]; then
    toml_set "$1" consensus timeout_commit '"400ms"'
    toml_set "$1" consensus timeout_propose '"1s"'
  else
    toml_set "$1" consensus timeout_commit '"1s"'
    toml_set "$1" consensus timeout_propose '"3s"'
  fi
}

# The FIXED, TEST-ONLY accounts of chain/localnet-accounts.json into a client's test keyring; each
# mnemonic is checked against the address the file gives.
import_accounts() { # wasmd accounts-file client-home
  local wasmd=$1 file=$2 home=$3 n k name want got
  mkdir -p "$home/config"
  n=$(jq '.accounts | length' "$file")
  for ((k = 0; k < n; k++)); do
    name=$(jq -r ".accounts[$k].name" "$file")
    jq -r ".accounts[$k].mnemonic" "$file" | "$wasmd" keys add "$name" --recover --keyring-backend test --home "$home" >/dev/null 2>&1
    want=$(jq -r ".accounts[$k].address" "$file")
    got=$("$wasmd" keys show "$name" -a --keyring-backend test --home "$home")
    [[ $want == "$got" ]] || { echo "account $name: mnemonic gives $got, file says $want" >&2; return 1; }
  done
  # The governance multisig (k of the governors' keys): the contracts' admin and migrate admin.
  jq -e .governance "$file" >/dev/null || return 0
  "$wasmd" keys add "$(jq -r .governance.name "$file")" --keyring-backend test --home "$home" \
    --multisig "$(jq -r '.governance.members | join(",")' "$file")" \
    --multisig-threshold "$(jq -r .governance.threshold "$file")" >/dev/null 2>&1
}

# Genesis defaults of every ehr network: one denom everywhere, and the test accounts' balances.
genesis_defaults() { # wasmd node-home denom accounts-file
  local wasmd=$1 home=$2 denom=$3 file=$4 g n k
  g="$home/config/genesis.json"
  jq --arg d "$denom" '
      .app_state.staking.params.bond_denom = $d
    | .app_state.mint.params.mint_denom = $d
    | .app_state.gov.params.min_deposit[0].denom = $d
    | .app_state.gov.params.expedited_min_deposit[0].denom = $d' "$g" >"$g.tmp" && mv "$g.tmp" "$g"
  n=$(jq '.accounts | length' "$file")
  for ((k = 0; k < n; k++)); do
    "$wasmd" genesis add-genesis-account "$(jq -r ".accounts[$k].address" "$file")" \
      "$(jq -r ".accounts[$k].balance" "$file")" --home "$home" >/dev/null
  done
}
