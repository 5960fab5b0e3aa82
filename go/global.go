package modsynclog

import "time"

// The global SDK: one producer per process, as in the original Go SDK and the other
// languages (init, commit, flush, close).

// Init starts the process-wide producer for addr with the default options. Again with
// the same address it does nothing; with another one it fails with AlreadyInitialized.
// It connects lazily (an unreachable server is retried in the background).
func Init(addr string) error { return initC(addr) }

// InitWithOptions is Init with options (see Options); they are ignored when the SDK is
// already initialized with the same address.
func InitWithOptions(addr string, opts Options) error {
	_, err := startC(addr, &opts, true)
	return err
}

// Commit queues one record on the global producer; see Producer.Commit.
// NotInitialized before Init, Closed after Close.
func Commit(typ int16, data []byte) error { return commitC(typ, data) }

// TryCommit is Commit that never waits: QueueFull at once when the queue is full.
func TryCommit(typ int16, data []byte) error { return tryCommitC(typ, data) }

// Flush waits until every record committed before the call is acknowledged; see
// Producer.Flush.
func Flush() error { return flushC(-1) }

// FlushTimeout is Flush that gives up after timeout with a Timeout error.
func FlushTimeout(timeout time.Duration) error { return flushC(timeout) }

// Close flushes (for at most CloseTimeout) and stops the global producer for the rest
// of the process: later commits fail with Closed.
func Close() error { return closeC() }

// Version is the version of the loaded libmodsynclog, e.g. "0.1.0".
func Version() string { return versionC() }
