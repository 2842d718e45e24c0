module github.com/go-librato/librato

go 1.26.0

require (
	github.com/DataDog/sketches-go v1.4.8
	github.com/h2non/gock v1.2.0
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/olebedev/when v1.1.0
	github.com/stretchr/testify v1.12.1
	go.etcd.io/bbolt v1.5.0
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.59.0
	golang.org/x/term v0.46.0
)

require (
	github.com/AlekSi/pointer v1.0.0 // indirect
	github.com/h2non/parth v0.0.0-20190131123155-b4df798d6542 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/pkg/errors v0.8.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.48.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
