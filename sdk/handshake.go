package sdk

import (
	"crypto/sha256"
	"fmt"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// The versions of the plugin protocol this SDK speaks. The host and the
// plugin negotiate the newest both speak through go-plugin's versioned
// plugin sets; a new incompatible protocol gets a new number and the old
// ones stay served by both sides for as long as hosts and plugins built
// with an older SDK run.
//
// Version 1 serves the host's repository to an orchestrator on a new broker
// connection per call; version 2 on one connection per plugin process (see
// proto/gitopsconnector/v1/orchestrator.proto).
const (
	// ProtocolVersion is the oldest version, the one `describe` reports as
	// protocol_version: a host that knows only version 1 refuses any other.
	ProtocolVersion = 1
	// LatestProtocolVersion is the newest version.
	LatestProtocolVersion = 2
)

// ProtocolVersions returns the versions this SDK speaks, oldest first.
func ProtocolVersions() []int { return []int{ProtocolVersion, LatestProtocolVersion} }

// Version is the version of this SDK, reported by `describe`.
const Version = "0.1.0"

// Handshake is the go-plugin handshake of every gitops-connector plugin.
//
// Never change it: the magic cookie is how a plugin binary knows that the
// gitops-connector host started it (and not a person or another program), and
// every plugin ever built carries these values. Protocol changes are
// negotiated through ProtocolVersion instead.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "GITOPS_CONNECTOR_PLUGIN",
	MagicCookieValue: "6c1d7c0e-4f0b-4b8e-9d55-9a3c2f1e8b70",
}

// Capability is what a plugin can do; one go-plugin plugin name each.
type Capability string

// The capabilities.
const (
	CapabilityOperator     Capability = "operator"
	CapabilityRepository   Capability = "repository"
	CapabilityOrchestrator Capability = "orchestrator"
)

// ClientPlugins is the versioned plugin set the host uses to start plugins:
// one set per version of ProtocolVersions. Dispensing a capability's name
// returns an Operator, Repository or Orchestrator that speaks the version
// the plugin chose (go-plugin's Client.NegotiatedVersion).
func ClientPlugins() map[int]plugin.PluginSet {
	sets := map[int]plugin.PluginSet{}
	for _, v := range ProtocolVersions() {
		sets[v] = plugin.PluginSet{
			string(CapabilityOperator):     &operatorPlugin{},
			string(CapabilityRepository):   &repositoryPlugin{},
			string(CapabilityOrchestrator): &orchestratorPlugin{protocol: v},
		}
	}
	return sets
}

// ClientConfig is how the host starts the plugin binary at path: the
// handshake, the plugin sets of every protocol version (to offer fewer,
// delete versions from VersionedPlugins), gRPC only over go-plugin's
// automatic mutual TLS (a fresh certificate pair per process, so only the
// host that started a plugin can talk to it, and it only to that host),
// the plugin's log lines to logger. When checksum is not nil, go-plugin
// runs the binary only if its SHA-256 is checksum. plugintest starts
// plugins with it too, so a conformance test talks to a plugin as the host
// will.
func ClientConfig(path string, checksum []byte, logger hclog.Logger) *plugin.ClientConfig {
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: ClientPlugins(),
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           logger,
	}
	if checksum != nil {
		cfg.SecureConfig = &plugin.SecureConfig{Checksum: checksum, Hash: sha256.New()}
	}
	return cfg
}

// Capabilities are the capabilities of one started plugin process, as the
// host calls them; a capability the plugin does not serve is nil.
type Capabilities struct {
	Operator     Operator
	Repository   Repository
	Orchestrator Orchestrator
}

// Dispense dispenses each of capabilities (a plugin's
// Description.Capabilities) from rpc, the protocol of a go-plugin client
// started with ClientPlugins. A capability the process does not serve is an
// error.
func Dispense(rpc plugin.ClientProtocol, capabilities []Capability) (Capabilities, error) {
	var c Capabilities
	for _, name := range capabilities {
		raw, err := rpc.Dispense(string(name))
		if err != nil {
			return Capabilities{}, fmt.Errorf("dispense %s: %w", name, err)
		}
		switch name {
		case CapabilityOperator:
			c.Operator = raw.(Operator)
		case CapabilityRepository:
			c.Repository = raw.(Repository)
		case CapabilityOrchestrator:
			c.Orchestrator = raw.(Orchestrator)
		}
	}
	return c, nil
}
