package plugintest

import (
	"context"
	"testing"
	"time"

	pb "github.com/gitops-connector/gitops-connector/proto/gitopsconnector/v1"
	"github.com/gitops-connector/gitops-connector/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The host talks to a plugin over mutual TLS with certificates made for
// that process: a plaintext client, or any client without the host's
// certificate, is refused.
func TestAPluginOnlyTalksToTheHostThatStartedIt(t *testing.T) {
	c := Start(t, Build(t, "testdata/echo"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Operator.ValidateConfig(ctx, sdk.Config{Name: "x"}); err != nil {
		t.Fatalf("the host's own connection: %v", err)
	}
	addr := c.client.ReattachConfig().Addr
	target := addr.String()
	if addr.Network() == "unix" {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = pb.NewOperatorServiceClient(conn).ValidateConfig(ctx, &pb.OperatorServiceValidateConfigRequest{})
	if err == nil {
		t.Fatal("a plaintext connection to the plugin was served: AutoMTLS is off")
	}
}
