package sdk

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// OnceLogger logs a warning the first time it meets a key — an unknown
// state, a mistyped field — and stays silent after, so a sender repeating
// the same odd value does not flood the log. It remembers at most Max keys
// (256 when zero), so a sender of random values cannot grow its memory. The
// zero value with a Logger is ready to use; it is safe for concurrent use.
type OnceLogger struct {
	Logger *slog.Logger
	Max    int

	mu   sync.Mutex
	seen map[string]bool
}

// Warn logs msg at warning level unless key was logged before.
func (o *OnceLogger) Warn(key, msg string, args ...any) {
	max := o.Max
	if max <= 0 {
		max = 256
	}
	o.mu.Lock()
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	first := !o.seen[key] && len(o.seen) < max
	if first {
		o.seen[key] = true
	}
	o.mu.Unlock()
	if first && o.Logger != nil {
		o.Logger.Warn(msg, args...)
	}
}

// Len returns how many keys were logged.
func (o *OnceLogger) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.seen)
}

// CheckType reports a config whose type field (e.g. gitOpsOperatorType)
// names another type than want: the host sent the config to the wrong
// plugin. An empty field is no error. A plugin calls it from ValidateConfig.
func CheckType(cfg Config, field, want string) []FieldError {
	t := cfg.Setting(field)
	if t == "" || strings.EqualFold(t, want) {
		return nil
	}
	if r := []rune(t); len(r) > 64 {
		t = string(r[:64]) + "…"
	}
	return []FieldError{{Field: field, Message: fmt.Sprintf("is %q, but this plugin serves %s", t, want)}}
}
