package sdk

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// timestampLayout is the time layout of the @timestamp of the plugin's log
// lines: the one go-plugin parses them with (hclog's TimeFormatJSON).
const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// Logger returns a structured logger for plugin code. Its lines go to the
// plugin's stderr in the form go-plugin forwards, so they appear in the host's
// log with their level and attributes. Never log a Config's Token.
func Logger() *slog.Logger { return logger }

var logger = newLogger(os.Stderr)

// newLogger returns a logger that writes lines go-plugin reads to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
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
				// go-plugin reads the time with exactly six fractional
				// digits; a line it cannot read reaches the host's log
				// only as raw text at debug level.
				a.Key = "@timestamp"
				a.Value = slog.StringValue(a.Value.Time().Format(timestampLayout))
			}
			return a
		},
	}))
}
