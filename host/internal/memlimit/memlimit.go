// Package memlimit divides the container's memory limit between the Go
// runtimes of the host and of the plugins it starts, which share the
// container: each runtime reads its soft limit from GOMEMLIMIT, and without a
// share of its own every process would believe it may use the whole limit.
package memlimit

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Env names the variable holding the container's memory limit in bytes
// (the chart sets it from resources.limits.memory with the downward API).
const Env = "GITOPS_CONNECTOR_MEMORY_LIMIT"

// Split is the soft limit of each runtime, in bytes.
type Split struct {
	// Host is the host's limit; Plugin is each plugin process's.
	Host, Plugin int64
}

// Divide gives the host two fifths of limit and divides two fifths among
// the plugins (each discovered binary may run: they start as configs need
// them and cannot be told a new limit later). The last fifth is left for
// the memory no Go runtime counts: the binaries' mapped pages, the kernel's
// socket buffers, the processes' stacks outside Go.
func Divide(limit int64, plugins int) Split {
	plugins = max(plugins, 1)
	return Split{Host: limit / 5 * 2, Plugin: limit / 5 * 2 / int64(plugins)}
}

// Apply sets the host's soft memory limit and the GOMEMLIMIT its plugins
// inherit (go-plugin starts them with the host's environment) from the
// limit in Env, for plugins binaries. An explicit GOMEMLIMIT wins: the host's
// runtime has read it and the plugins inherit it unchanged. Without Env it
// does nothing. Call it before any plugin process serves.
func Apply(getenv func(string) string, plugins int, log *slog.Logger) error {
	raw := strings.TrimSpace(getenv(Env))
	if raw == "" {
		return nil
	}
	if explicit := getenv("GOMEMLIMIT"); explicit != "" {
		log.Info("GOMEMLIMIT is set: the host and each plugin take it as their soft memory limit", "gomemlimit", explicit)
		return nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit <= 0 {
		return fmt.Errorf("%s=%q: want the container's memory limit as a positive number of bytes", Env, raw)
	}
	s := Divide(limit, plugins)
	if err := os.Setenv("GOMEMLIMIT", strconv.FormatInt(s.Plugin, 10)); err != nil {
		return fmt.Errorf("set the plugins' GOMEMLIMIT: %w", err)
	}
	debug.SetMemoryLimit(s.Host)
	log.Info("soft memory limits from the container's limit", "container_bytes", limit,
		"host_bytes", s.Host, "plugin_bytes", s.Plugin, "plugins", plugins)
	return nil
}
