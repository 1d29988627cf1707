package pluginhost

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
)

func TestPinnedPluginDirectoriesRunOnlyTheBinariesTheyPin(t *testing.T) {
	ctx := context.Background()
	dir := pluginDir(t)
	echo := filepath.Join(dir, "echo")
	// An unlisted binary that would leave a mark if it were run at all.
	mark := filepath.Join(t.TempDir(), "ran")
	stranger := filepath.Join(dir, "stranger")
	if err := os.WriteFile(stranger, []byte("#!/bin/sh\ntouch "+mark+"\necho '{}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum, err := pluginpin.Sum(echo)
	if err != nil {
		t.Fatal(err)
	}
	pins, err := pluginpin.Parse(strings.NewReader(hex.EncodeToString(sum)+"  "+echo+"\n"), "checksums.txt")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	m, err := Discover(ctx, []string{dir}, pins, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if _, err := os.Stat(mark); err == nil {
		t.Error("an unpinned binary in a pinned directory was run")
	}
	if !strings.Contains(log.String(), "stranger is in a pinned plugin directory but not listed in checksums.txt") {
		t.Errorf("no clear reason for refusing the unpinned binary:\n%s", log.String())
	}
	if d := m.Descriptions(); len(d) != 1 || d[0].Name != "echo" {
		t.Fatalf("descriptions %+v, want the pinned echo only", d)
	}

	// The pinned binary is swapped after discovery: its process must not
	// start.
	data, err := os.ReadFile(echo)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(echo, append(data, "swapped"...), 0o755); err != nil {
		t.Fatal(err)
	}
	m.Start(ctx)
	err = m.Use(ctx, echoNeeds)
	if err == nil || !strings.Contains(err.Error(), "checksums did not match") {
		t.Fatalf("Use of a swapped binary = %v, want go-plugin's checksum refusal", err)
	}
	if m.Running()["echo"] {
		t.Error("the swapped binary runs")
	}
}
