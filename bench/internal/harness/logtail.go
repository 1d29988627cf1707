package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// LogTail counts the host's JSON log lines as the file grows. It reads only
// what was appended since the last Update.
type LogTail struct {
	path    string
	offset  int64
	partial []byte

	// Delivered counts the lines that end an event's delivery: "event
	// delivered..." and "orchestrator ..." (notified, or had nothing to
	// notify).
	Delivered int
	// Accepted counts "event accepted".
	Accepted int
	// Errors counts ERROR lines; FirstErrors keeps the first few.
	Errors      int
	FirstErrors []string
}

// NewLogTail follows the log at path from its current end.
func NewLogTail(path string) (*LogTail, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("follow the host log: %w", err)
	}
	return &LogTail{path: path, offset: fi.Size()}, nil
}

// Update reads the lines appended since the last call.
func (t *LogTail) Update() error {
	f, err := os.Open(t.path)
	if err != nil {
		return fmt.Errorf("read the host log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(t.offset, io.SeekStart); err != nil {
		return fmt.Errorf("read the host log: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read the host log: %w", err)
	}
	t.offset += int64(len(b))
	b = append(t.partial, b...)
	last := bytes.LastIndexByte(b, '\n')
	if last < 0 {
		t.partial = b
		return nil
	}
	t.partial = append([]byte(nil), b[last+1:]...)
	for line := range bytes.SplitSeq(b[:last], []byte("\n")) {
		t.count(line)
	}
	return nil
}

// maxFirstErrors bounds the error lines kept for the report.
const maxFirstErrors = 5

func (t *LogTail) count(line []byte) {
	var l struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}
	if json.Unmarshal(line, &l) != nil {
		return
	}
	switch {
	case l.Msg == "event accepted":
		t.Accepted++
	case strings.HasPrefix(l.Msg, "event delivered"), strings.HasPrefix(l.Msg, "orchestrator "):
		t.Delivered++
	}
	if l.Level == "ERROR" {
		t.Errors++
		if len(t.FirstErrors) < maxFirstErrors {
			t.FirstErrors = append(t.FirstErrors, string(line))
		}
	}
}
