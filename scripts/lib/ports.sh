# shellcheck shell=bash
# The localnet's loopback ports, in one place (scripts/localnet, lib/chain.sh and the scripts that source
# it): node I listens on P2P 26656+10I, RPC 26657+10I, ABCI 26658+10I, gRPC 9090+10I, REST 1317+10I;
# kubo IPFS on its RPC API 5001 and its gateway 8080.

p2p_port() { echo $((26656 + 10 * $1)); }
rpc_port() { echo $((26657 + 10 * $1)); }
abci_port() { echo $((26658 + 10 * $1)); }
grpc_port() { echo $((9090 + 10 * $1)); }
api_port() { echo $((1317 + 10 * $1)); }
IPFS_API_PORT=5001
IPFS_GW_PORT=8080
