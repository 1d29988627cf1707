package natsserver

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A port taken between the moment it was picked and the server's start
// is reported with the reason, as a failure StartCluster starts again
// from on other ports.
func TestAServerWhosePortIsTakenSaysWhy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	opts := options(t.TempDir(), "nats-taken")
	opts.Port = ln.Addr().(*net.TCPAddr).Port
	s, err := startQuiet(opts)
	if err == nil {
		s.Shutdown()
		t.Fatal("a server started on a port another listener holds")
	}
	if !errors.Is(err, errFailed) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("the error does not say the port is taken: %v", err)
	}
}
