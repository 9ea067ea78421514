//go:build tools

// Package ipfs only pins kubo (the `ipfs` command) for the localnet's IPFS node.
// It is a module of its own, apart from ../go.mod (wasmd): see docs/chain.md.
package ipfs

import (
	_ "github.com/ipfs/kubo/cmd/ipfs"
)
