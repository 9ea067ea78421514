# shellcheck shell=bash
# Helpers shared by scripts/deploy, test-live, test-client, test-network and bench-gas (source it; needs a running chain:
# the localnet, or the network of scripts/network with CHAIN_ENV_SCRIPT).
# Every wait is bounded.

CHAIN_LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=ports.sh
source "$CHAIN_LIB_ROOT/scripts/lib/ports.sh"

# The chain's settings from its `env` command: the loopback localnet, or CHAIN_ENV_SCRIPT (scripts/network).
chain_env() {
  # WASMD IPFS CLIENT_HOME CHAIN_ID DENOM VALIDATORS RPC NODE REST IPFS_API RPC_URLS DEPLOY_FILE
  eval "$("${CHAIN_ENV_SCRIPT:-$CHAIN_LIB_ROOT/scripts/localnet}" env)"
  export WASMD CLIENT_HOME CHAIN_ID DENOM RPC NODE REST IPFS_API RPC_URLS DEPLOY_FILE
}

addr_of() { "$WASMD" keys show "$1" -a --keyring-backend test --home "$CLIENT_HOME"; }

# wasmd v0.61 ignores client.toml for these here, so every command names them.
query_flags() { echo --node "$NODE" --output json; }

# Wait (bounded) until a tx hash is in a block; print the tx result JSON.
tx_wait() {
  local hash=$1 timeout=${2:-30} deadline out
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if out=$("$WASMD" query tx "$hash" --node "$NODE" --output json 2>/dev/null) && [[ -n $out ]]; then
      echo "$out"
      return 0
    fi
    sleep 0.2
  done
  echo "tx $hash not committed within ${timeout}s" >&2
  return 1
}

# The committed result of a broadcast's JSON answer: fail unless both CheckTx and the block say
# code 0; prints the committed tx result JSON.
tx_committed() {
  local out=$1 code hash res
  code=$(jq -r .code <<<"$out"); hash=$(jq -r .txhash <<<"$out")
  [[ $code == 0 ]] || { echo "CheckTx code $code: $(jq -r .raw_log <<<"$out")" >&2; return 1; }
  res=$(tx_wait "$hash") || return 1
  code=$(jq -r .code <<<"$res")
  [[ $code == 0 ]] || { echo "tx $hash failed in block, code $code: $(jq -r .raw_log <<<"$res")" >&2; return 1; }
  echo "$res"
}

# Broadcast a `wasmd tx ...` (sync), wait for it, fail unless both CheckTx and the block say code 0.
# Prints the committed tx result JSON. Usage: wtx wasm execute ADDR MSG --from NAME [extra flags]
wtx() {
  local out
  out=$("$WASMD" tx "$@" --home "$CLIENT_HOME" --keyring-backend test --chain-id "$CHAIN_ID" --node "$NODE" \
    --gas auto --gas-adjustment 1.4 -y --output json 2>&1) || {
    echo "tx failed before broadcast: $out" >&2
    return 1
  }
  out=$(grep -m1 '^{' <<<"$out")          # `--gas auto` prints "gas estimate: N" first
  tx_committed "$out"
}

# The governance multisig of chain/localnet-accounts.json (.governance: key name, members, threshold).
GOVERNANCE_ACCOUNTS=$CHAIN_LIB_ROOT/chain/localnet-accounts.json
governance_name() { jq -r .governance.name "$GOVERNANCE_ACCOUNTS"; }
governance_address() { addr_of "$(governance_name)"; }
# The members who sign by default: the first `threshold` of them.
governance_quorum() { jq -r '.governance | .members[:.threshold] | join(" ")' "$GOVERNANCE_ACCOUNTS"; }

# A `wasmd tx ...` sent by the governance multisig, as its members would on their own machines:
# generated unsigned, signed by each signer as its part (`tx sign --multisig`), combined
# (`tx multisign`), broadcast and waited for like wtx. A multisig cannot be simulated before it is
# signed, so the gas limit is fixed (GOVERNANCE_GAS); the result says what was used.
# Usage: governance_tx [--signers "governor1 governor3"] wasm execute ADDR MSG
governance_tx() {
  local signers dir gov s parts=() out rc=0
  signers=$(governance_quorum)
  if [[ $1 == --signers ]]; then signers=$2; shift 2; fi
  gov=$(governance_address)
  dir=$(mktemp -d)
  local common=(--home "$CLIENT_HOME" --keyring-backend test --chain-id "$CHAIN_ID" --node "$NODE")
  if ! "$WASMD" tx "$@" --from "$gov" --generate-only --gas "${GOVERNANCE_GAS:-4000000}" "${common[@]}" \
    >"$dir/unsigned.json" 2>"$dir/err"; then
    echo "governance tx not generated: $(cat "$dir/err")" >&2; rm -rf "$dir"; return 1
  fi
  for s in $signers; do
    if ! "$WASMD" tx sign "$dir/unsigned.json" --multisig "$gov" --from "$s" "${common[@]}" \
      --output-document "$dir/$s.json" 2>"$dir/err"; then
      echo "governance tx: $s could not sign: $(cat "$dir/err")" >&2; rm -rf "$dir"; return 1
    fi
    parts+=("$dir/$s.json")
  done
  if ! "$WASMD" tx multisign "$dir/unsigned.json" "$(governance_name)" "${parts[@]}" "${common[@]}" \
    --output-document "$dir/signed.json" 2>"$dir/err"; then
    echo "governance tx: multisign failed: $(cat "$dir/err")" >&2; rm -rf "$dir"; return 1
  fi
  out=$("$WASMD" tx broadcast "$dir/signed.json" --node "$NODE" --output json 2>&1) || rc=1
  rm -rf "$dir"
  ((rc == 0)) || { echo "governance tx: broadcast failed: $out" >&2; return 1; }
  tx_committed "$out"
}

# First value of an event attribute in a tx result: event_attr RESULT_JSON EVENT_TYPE KEY
event_attr() {
  jq -r --arg t "$2" --arg k "$3" '[.events[] | select(.type == $t) | .attributes[] | select(.key == $k) | .value][0] // empty' <<<"$1"
}

# Smart query; prints the `data` JSON.
wq() { "$WASMD" query wasm contract-state smart "$1" "$2" --node "$NODE" --output json | jq -c .data; }

# RPC URL of node i: from chain_env's RPC_URLS, else the loopback localnet's port for node i.
rpc_of() {
  local urls
  read -r -a urls <<<"${RPC_URLS:-}"
  echo "${urls[$1]:-http://127.0.0.1:$(rpc_port "$1")}"
}

# Latest height of node i (empty when it does not answer).
node_height() {
  curl -s --max-time 2 "$(rpc_of "$1")/status" 2>/dev/null |
    jq -r '.result.sync_info.latest_block_height // empty' 2>/dev/null || true
}

# Wait (bounded) until node i's height is at least h.
wait_height() {
  local i=$1 want=$2 timeout=${3:-30} deadline h
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    h=$(node_height "$i")
    [[ -n $h ]] && ((h >= want)) && return 0
    sleep 0.2
  done
  return 1
}

# ehr-client's plaintext scan (packages/ehr-client/tests/plaintext_scan.rs): TEST chain_holds_no_plaintext scans
# the running chain (RPC, IPFS_API), stored_files_hold_no_plaintext the files under EHR_SCAN_DIR. Prints its
# summary line; on failure its whole output (where each marker was found), and returns 1.
# Usage: plaintext_scan TEST MARKERS_FILE CONTROL...
plaintext_scan() {
  local test=$1 markers=$2 out
  shift 2
  if out=$(EHR_SCAN_MARKERS="$markers" EHR_SCAN_CONTROLS="$*" EHR_SCAN_RPC="$RPC" EHR_SCAN_IPFS_API="$IPFS_API" \
    cargo test --locked -q -p ehr-client --test plaintext_scan -- --ignored --exact "$test" --nocapture 2>&1); then
    sed -n 's/^scan: //p' <<<"$out"
  else
    echo "$out" >&2
    return 1
  fi
}
