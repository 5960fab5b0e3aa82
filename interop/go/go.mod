module modsynclog/interop

go 1.21

require (
	github.com/loudbund/go-filelog v1.0.13
	github.com/loudbund/go-socket v1.0.11
	google.golang.org/grpc v1.67.3
	google.golang.org/protobuf v1.36.5
)

require (
	github.com/sirupsen/logrus v1.8.1 // indirect
	golang.org/x/net v0.28.0 // indirect
	golang.org/x/sys v0.28.0 // indirect
	golang.org/x/text v0.17.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240814211410-ddb44dafa142 // indirect
)
