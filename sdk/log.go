package sdk

import (
	"log/slog"
	"os"
	"strings"
)

// Logger returns a structured logger for plugin code. Its lines go to the
// plugin's stderr in the form go-plugin forwards, so they appear in the host's
// log with their level and attributes. Never log a Config's Token.
func Logger() *slog.Logger { return logger }

var logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{
	ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		// go-plugin parses hclog's JSON keys.
		switch a.Key {
		case slog.MessageKey:
			a.Key = "@message"
		case slog.LevelKey:
			a.Key = "@level"
			a.Value = slog.StringValue(strings.ToLower(a.Value.String()))
		case slog.TimeKey:
			a.Key = "@timestamp"
		}
		return a
	},
}))
