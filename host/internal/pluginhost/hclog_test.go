package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitops-connector/gitops-connector/host/internal/pluginpin"
)

// syncBuffer is a buffer log handlers may write to from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// keysOf returns the top-level keys of a JSON object line in order,
// repeats included.
func keysOf(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("line %q is not a JSON object", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
	}
	return keys
}

// checkOneKeyPerField fails the test for every line of log that carries a
// key twice, and returns the lines decoded.
func checkOneKeyPerField(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		keys := keysOf(t, sc.Text())
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(keys) {
			t.Errorf("line carries a key twice: %s", sc.Text())
		}
		var m map[string]any
		_ = json.Unmarshal(sc.Bytes(), &m)
		out = append(out, m)
	}
	return out
}

func TestEveryAdapterLineCarriesEachKeyOnce(t *testing.T) {
	var buf syncBuffer
	l := newHCLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "azdo")
	l.Info("plugin process exited", "plugin", "/app/plugins/azdo", "id", "4711")
	l.With("path", "/elsewhere").Warn("from the plugin", "msg", "inner", "level", "x", "time", "t", "plugin", "/app/plugins/azdo", "path", "again")
	l.Error("odd args", "key")
	lines := checkOneKeyPerField(t, buf.String())
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	want := map[string]any{"msg": "plugin process exited", "plugin": "azdo", "path": "/app/plugins/azdo", "id": "4711"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("first line %s = %v, want %v", k, lines[0][k], v)
		}
	}
	want = map[string]any{"msg": "from the plugin", "plugin": "azdo", "path": "/elsewhere", "msg_2": "inner", "level_2": "x", "time_2": "t", "path_2": "/app/plugins/azdo", "path_3": "again"}
	for k, v := range want {
		if lines[1][k] != v {
			t.Errorf("second line %s = %v, want %v", k, lines[1][k], v)
		}
	}
	if lines[2]["!BADKEY"] != "key" {
		t.Errorf("third line %v: want the lone arg as !BADKEY", lines[2])
	}
}

// TestThePluginProcessLinesCarryEachKeyOnce starts and stops a real plugin
// process and reads what go-plugin logged about it.
func TestThePluginProcessLinesCarryEachKeyOnce(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := pluginDir(t)
	m, err := Discover(context.Background(), []string{dir}, pluginpin.Pins{}, log)
	if err != nil {
		t.Fatal(err)
	}
	m.Start(context.Background())
	if err := m.Use(context.Background(), echoNeeds); err != nil {
		t.Fatal(err)
	}
	m.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), `"plugin process exited"`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	var exited map[string]any
	for _, l := range checkOneKeyPerField(t, buf.String()) {
		if l["msg"] == "plugin process exited" {
			exited = l
		}
	}
	if exited == nil || exited["plugin"] != "echo" || exited["path"] != filepath.Join(dir, "echo") {
		t.Errorf("plugin process exited line %v: want plugin echo and path %s\n%s", exited, filepath.Join(dir, "echo"), buf.String())
	}
}
