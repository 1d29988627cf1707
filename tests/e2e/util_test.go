package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func jsonDecode(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// waitInvalid waits until the host logs that its config is invalid for a
// reason containing reason.
func waitInvalid(t *testing.T, h *host, reason string) {
	t.Helper()
	eventually(t, "the log to say the config is invalid: "+reason, func() string {
		for _, l := range h.Log.Messages("config invalid; it receives no events") {
			if msg, _ := l["message"].(string); strings.Contains(msg, reason) {
				return ""
			}
		}
		return "no such line yet"
	})
}
