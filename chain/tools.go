//go:build tools

// Package chain only pins the Go programs the localnet runs. The blank import
// keeps the wasmd command (and so its whole dependency graph) in go.mod/go.sum;
// scripts/build-chain builds it with `go build github.com/CosmWasm/wasmd/cmd/wasmd`.
package chain

import (
	_ "github.com/CosmWasm/wasmd/cmd/wasmd"
)
