package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestTheLogTailCountsOnlyLinesWrittenAfterItStartedAndWaitsForWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.log")
	appendTo(t, path, `{"level":"INFO","msg":"event accepted","config":"default"}`+"\n")
	tail, err := NewLogTail(path)
	if err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, `{"level":"INFO","msg":"event accepted"}
{"level":"INFO","msg":"event delivered","posted":1}
{"level":"INFO","msg":"event delivered; the orchestrator was already told of this outcome"}
{"level":"INFO","msg":"orchestrator notified","outcome":"success"}
{"level":"ERROR","msg":"post status failed permanently","error":"401"}
not json
{"level":"INFO","msg":"orchestrator had nothing`)
	if err := tail.Update(); err != nil {
		t.Fatal(err)
	}
	if tail.Accepted != 1 || tail.Delivered != 3 || tail.Errors != 1 {
		t.Errorf("accepted %d, delivered %d, errors %d; want 1, 3, 1", tail.Accepted, tail.Delivered, tail.Errors)
	}
	appendTo(t, path, ` to notify"}`+"\n")
	if err := tail.Update(); err != nil {
		t.Fatal(err)
	}
	if tail.Delivered != 4 {
		t.Errorf("delivered %d after the line was completed, want 4", tail.Delivered)
	}
	if len(tail.FirstErrors) != 1 || !strings.Contains(tail.FirstErrors[0], "failed permanently") {
		t.Errorf("first errors %q", tail.FirstErrors)
	}
}

func TestPrebuiltNeedsTheHostAndEveryBundledPlugin(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("gitops-connector")
	for _, p := range hostproc.BundledPlugins[:len(hostproc.BundledPlugins)-1] {
		write(filepath.Join("plugins", p))
	}
	if _, err := Prebuilt(dir); err == nil || !strings.Contains(err.Error(), hostproc.BundledPlugins[len(hostproc.BundledPlugins)-1]) {
		t.Errorf("Prebuilt without the %s plugin: %v", hostproc.BundledPlugins[len(hostproc.BundledPlugins)-1], err)
	}
	write(filepath.Join("plugins", hostproc.BundledPlugins[len(hostproc.BundledPlugins)-1]))
	b, err := Prebuilt(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Host != filepath.Join(dir, "gitops-connector") || b.PluginDir != filepath.Join(dir, "plugins") {
		t.Errorf("binaries %+v", b)
	}
}

func TestTheSyncProbeTimesEverySync(t *testing.T) {
	dir := t.TempDir()
	got, err := SyncProbe(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("%d samples, want 5", len(got))
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("probe file left behind: %v", left)
	}
	if FilesystemType(dir) == "unknown" {
		t.Error("the filesystem of a temporary directory is unknown")
	}
}

func TestRevisionIsEmptyOutsideAGitCheckout(t *testing.T) {
	if got := Revision(context.Background(), t.TempDir()); got != "" {
		t.Errorf("Revision of an empty directory = %q", got)
	}
}
