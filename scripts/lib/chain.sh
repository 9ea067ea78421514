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

# Broadcast a `wasmd tx ...` (sync), wait for it, fail unless both CheckTx and the block say code 0.
# Prints the committed tx result JSON. Usage: wtx wasm execute ADDR MSG --from NAME [extra flags]
wtx() {
  local out code hash res
  out=$("$WASMD" tx "$@" --home "$CLIENT_HOME" --keyring-backend test --chain-id "$CHAIN_ID" --node "$NODE" \
    --gas auto --gas-adjustment 1.4 -y --output json 2>&1) || {
    echo "tx failed before broadcast: $out" >&2
    return 1
  }
  out=$(grep -m1 '^{' <<<"$out")          # `--gas auto` prints "gas estimate: N" first
  code=$(jq -r .code <<<"$out"); hash=$(jq -r .txhash <<<"$out")
  [[ $code == 0 ]] || { echo "CheckTx code $code: $(jq -r .raw_log <<<"$out")" >&2; return 1; }
  res=$(tx_wait "$hash") || return 1
  code=$(jq -r .code <<<"$res")
  [[ $code == 0 ]] || { echo "tx $hash failed in block, code $code: $(jq -r .raw_log <<<"$res")" >&2; return 1; }
  echo "$res"
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
