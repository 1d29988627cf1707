package hostproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
)

// ListeningMessage is the msg of the line the host logs once it listens;
// its addr attribute is the address it listens on.
const ListeningMessage = "gitops-connector listening"

// Log collects what a host process writes (the host logs JSON lines to
// stderr; its plugins' output passes through it). It is safe for concurrent
// use: the process writes while a test reads.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines decodes the JSON lines written so far, in order; lines that are not
// a JSON object are left out.
func (l *Log) Lines() []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Messages returns the lines whose msg is msg.
func (l *Log) Messages(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range l.Lines() {
		if line["msg"] == msg {
			out = append(out, line)
		}
	}
	return out
}

// CountPrefixed counts the lines whose msg begins with one of prefixes.
func (l *Log) CountPrefixed(prefixes ...string) int {
	n := 0
	for _, line := range l.Lines() {
		msg, _ := line["msg"].(string)
		for _, p := range prefixes {
			if strings.HasPrefix(msg, p) {
				n++
				break
			}
		}
	}
	return n
}

// ListenAddr returns the address of the first ListeningMessage line, and
// whether there is one.
func (l *Log) ListenAddr() (string, bool) {
	for _, line := range l.Messages(ListeningMessage) {
		if addr, _ := line["addr"].(string); addr != "" {
			return addr, true
		}
	}
	return "", false
}
