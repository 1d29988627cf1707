package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Plugin describes a plugin binary and the capabilities it implements. Set
// only the capabilities the plugin has.
type Plugin struct {
	// Name of the plugin, e.g. "github". Lower case letters, digits and '-'.
	Name string
	// Version of the plugin, reported by `describe`.
	Version string
	// Types are the type names configs use to select this plugin
	// (gitRepositoryType, ciCdOrchestratorType, gitOpsOperatorType), e.g.
	// "GITHUB". Matched case-insensitively.
	Types []string

	Operator     Operator
	Repository   Repository
	Orchestrator Orchestrator
}

// Description is what a plugin binary prints when run with the argument
// "describe".
type Description struct {
	Name         string       `json:"name"`
	Version      string       `json:"version,omitempty"`
	Types        []string     `json:"types"`
	Capabilities []Capability `json:"capabilities"`
	// ProtocolVersion is the oldest protocol version the plugin speaks
	// (hosts that know only version 1 require 1 here).
	ProtocolVersion int `json:"protocol_version"`
	// ProtocolVersions are all the versions the plugin speaks; absent from
	// plugins built before version 2, which speak ProtocolVersion only.
	ProtocolVersions []int  `json:"protocol_versions,omitempty"`
	SDKVersion       string `json:"sdk_version"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Describe returns the plugin's description, or an error when the plugin is
// not well formed (no name, no type, no capability).
func (p Plugin) Describe() (Description, error) {
	d := Description{
		Name:             p.Name,
		Version:          p.Version,
		ProtocolVersion:  ProtocolVersion,
		ProtocolVersions: ProtocolVersions(),
		SDKVersion:       Version,
	}
	for _, t := range p.Types {
		d.Types = append(d.Types, strings.ToUpper(t))
	}
	if p.Operator != nil {
		d.Capabilities = append(d.Capabilities, CapabilityOperator)
	}
	if p.Repository != nil {
		d.Capabilities = append(d.Capabilities, CapabilityRepository)
	}
	if p.Orchestrator != nil {
		d.Capabilities = append(d.Capabilities, CapabilityOrchestrator)
	}
	return d, d.Validate()
}

// Validate reports what is wrong with a description.
func (d Description) Validate() error {
	var errs []error
	if !nameRE.MatchString(d.Name) {
		errs = append(errs, fmt.Errorf("name %q: must be lower case letters, digits and '-'", d.Name))
	}
	if len(d.Types) == 0 {
		errs = append(errs, errors.New("types: at least one type name is required"))
	}
	for _, t := range d.Types {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, errors.New("types: a type name is empty"))
		}
	}
	if len(d.Capabilities) == 0 {
		errs = append(errs, errors.New("capabilities: implement at least one of Operator, Repository, Orchestrator"))
	}
	if d.ProtocolVersion < 1 {
		errs = append(errs, fmt.Errorf("protocol_version %d: must be at least 1", d.ProtocolVersion))
	}
	if len(d.ProtocolVersions) > 0 && slices.Min(d.ProtocolVersions) != d.ProtocolVersion {
		errs = append(errs, fmt.Errorf("protocol_versions %v: the oldest must be protocol_version %d", d.ProtocolVersions, d.ProtocolVersion))
	}
	return errors.Join(errs...)
}

// Speaks reports whether the plugin speaks protocol version v.
func (d Description) Speaks(v int) bool {
	if len(d.ProtocolVersions) == 0 {
		return v == d.ProtocolVersion
	}
	return slices.Contains(d.ProtocolVersions, v)
}

// Has reports whether the description lists a capability.
func (d Description) Has(c Capability) bool {
	for _, have := range d.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// Serve runs the plugin. Call it from main and nothing else: with the
// argument "describe" it prints the plugin's Description as JSON and returns;
// otherwise it serves the implemented capabilities to the host until the
// host stops it. It exits the process with status 1 when the plugin is not
// well formed or was not started by the host.
func Serve(p Plugin) {
	if err := serve(p, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func serve(p Plugin, args []string, stdout io.Writer) error {
	d, err := p.Describe()
	if err != nil {
		return fmt.Errorf("plugin %q is not well formed: %w", p.Name, err)
	}
	if len(args) > 0 && args[0] == "describe" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return fmt.Errorf("%s is a gitops-connector plugin: put it in the connector's plugin directory; run it with the argument \"describe\" to see what it provides", p.Name)
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       p.Name,
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.Info,
	})
	if dir := os.Getenv(CPUProfileDirEnv); dir != "" {
		stop, err := startCPUProfile(dir, p.Name)
		if err != nil {
			logger.Warn("no CPU profile", "error", err.Error())
		} else {
			defer func() {
				if err := stop(); err != nil {
					logger.Warn("CPU profile not written", "error", err.Error())
				}
			}()
		}
	}
	sets := map[int]plugin.PluginSet{}
	for _, v := range ProtocolVersions() {
		set := plugin.PluginSet{}
		if p.Operator != nil {
			set[string(CapabilityOperator)] = &operatorPlugin{impl: p.Operator}
		}
		if p.Repository != nil {
			set[string(CapabilityRepository)] = &repositoryPlugin{impl: p.Repository}
		}
		if p.Orchestrator != nil {
			set[string(CapabilityOrchestrator)] = &orchestratorPlugin{impl: p.Orchestrator, protocol: v}
		}
		sets[v] = set
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: sets,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.ChainUnaryInterceptor(recoverPanics))...)
		},
		Logger: logger,
	})
	return nil
}

// recoverPanics turns a panic in a plugin's handler into a permanent error,
// so one bad input never kills the plugin process.
func recoverPanics(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			Logger().Error("plugin panicked", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Errorf(codes.Internal, "plugin panicked in %s: %v", info.FullMethod, r)
		}
	}()
	return handler(ctx, req)
}
