module modsynclog/interop

go 1.21

require (
	github.com/loudbund/go-filelog v1.0.13
	github.com/loudbund/go-socket v1.0.11
)

require (
	github.com/sirupsen/logrus v1.8.1 // indirect
	golang.org/x/sys v0.0.0-20191026070338-33540a1f6037 // indirect
)
