package sdk

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestLogLinesAreWhatGoPluginReads checks a line against what go-plugin
// needs to forward it with its level and attributes: @message, @level
// hclog knows, and an @timestamp in hclog's time format.
func TestLogLinesAreWhatGoPluginReads(t *testing.T) {
	var buf bytes.Buffer
	newLogger(&buf).Warn("unknown reason", "reason", "X")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("line %q: %v", buf.String(), err)
	}
	ts, _ := line["@timestamp"].(string)
	if _, err := time.Parse(hclog.TimeFormatJSON, ts); err != nil {
		t.Errorf("@timestamp %q does not parse as hclog's %q: %v", ts, hclog.TimeFormatJSON, err)
	}
	if lvl, _ := line["@level"].(string); hclog.LevelFromString(lvl) != hclog.Warn {
		t.Errorf("@level %q is not hclog's warn", lvl)
	}
	if line["@message"] != "unknown reason" || line["reason"] != "X" {
		t.Errorf("line %v", line)
	}
}
