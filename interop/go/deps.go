// Package interop holds the Go interop harness; the tests live in *_test.go.
package interop

import (
	_ "github.com/loudbund/go-filelog/filelog_v1"
	_ "github.com/loudbund/go-socket/socket_v1"
)
