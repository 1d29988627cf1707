package pluginhost

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strconv"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter lets go-plugin, which logs through hclog, write to the host's
// slog logger: plugin processes' log lines then appear in the host's JSON
// log with their level and attributes.
type hclogAdapter struct {
	l     *slog.Logger
	name  string
	level hclog.Level
	args  []any
}

func newHCLog(l *slog.Logger, name string) hclog.Logger {
	return &hclogAdapter{l: l.With("plugin", name), name: name, level: hclog.Info}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (h *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < h.level {
		return
	}
	h.l.Log(context.Background(), slogLevel(level), msg, uniqueKeys(append(h.args[:len(h.args):len(h.args)], args...))...)
}

// lineKeys are the keys every line of the adapter has: slog's own and the
// plugin's name.
var lineKeys = []string{slog.TimeKey, slog.LevelKey, slog.MessageKey, "plugin"}

// uniqueKeys renames the keys of hclog's key-value args that a line has
// already, so that each JSON line carries one key per field: log
// pipelines read a repeated key differently (the first, the last, an
// error). go-plugin calls the plugin's path "plugin", the key of its name
// in the host's lines: it becomes "path". A key k a line has already
// becomes k_2, k_3, … Args that are no key-value pair pass as they are (slog
// reports them as !BADKEY).
func uniqueKeys(args []any) []any {
	used := make(map[string]bool, len(lineKeys)+len(args)/2)
	for _, k := range lineKeys {
		used[k] = true
	}
	out := make([]any, 0, len(args))
	for i := 0; i < len(args); i++ {
		key, ok := args[i].(string)
		if !ok || i+1 == len(args) {
			out = append(out, args[i])
			continue
		}
		if key == "plugin" {
			key = "path"
		}
		name := key
		for n := 2; used[name]; n++ {
			name = key + "_" + strconv.Itoa(n)
		}
		used[name] = true
		out = append(out, name, args[i+1])
		i++
	}
	return out
}

func (h *hclogAdapter) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogAdapter) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogAdapter) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogAdapter) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogAdapter) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }
func (h *hclogAdapter) IsTrace() bool                 { return h.level <= hclog.Trace }
func (h *hclogAdapter) IsDebug() bool                 { return h.level <= hclog.Debug }
func (h *hclogAdapter) IsInfo() bool                  { return h.level <= hclog.Info }
func (h *hclogAdapter) IsWarn() bool                  { return h.level <= hclog.Warn }
func (h *hclogAdapter) IsError() bool                 { return h.level <= hclog.Error }
func (h *hclogAdapter) ImpliedArgs() []any            { return h.args }
func (h *hclogAdapter) Name() string                  { return h.name }
func (h *hclogAdapter) SetLevel(l hclog.Level)        { h.level = l }
func (h *hclogAdapter) GetLevel() hclog.Level         { return h.level }

func (h *hclogAdapter) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(h.args[:len(h.args):len(h.args)], args...)
	return &c
}

func (h *hclogAdapter) Named(name string) hclog.Logger {
	c := *h
	c.name = h.name + "." + name
	return &c
}

func (h *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

func (h *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return slog.NewLogLogger(h.l.Handler(), slog.LevelInfo).Writer()
}
