package sdk

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"
)

// fixedOperator answers every event with one fixed result.
type fixedOperator struct{ res ParseResult }

func (fixedOperator) ValidateConfig(context.Context, Config) ([]FieldError, error) { return nil, nil }

func (o fixedOperator) ParseEvent(context.Context, ParseRequest) (ParseResult, error) {
	return o.res, nil
}

// servedPlugin connects a go-plugin client to an in-process server of the
// operator and repository capabilities (no orchestrator).
func servedPlugin(t *testing.T, op Operator) plugin.ClientProtocol {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{
		string(CapabilityOperator):   &operatorPlugin{impl: op},
		string(CapabilityRepository): &repositoryPlugin{impl: UnimplementedRepository{}},
	})
	t.Cleanup(func() {
		_ = client.Close()
		server.Stop()
	})
	return client
}

func TestDispenseGivesTheDescribedCapabilitiesOnly(t *testing.T) {
	want := ParseResult{Handled: true, CommitID: "abcdef0", Statuses: []Status{{Name: "Status", State: StateSucceeded}}}
	caps, err := Dispense(servedPlugin(t, fixedOperator{res: want}), []Capability{CapabilityOperator})
	if err != nil {
		t.Fatal(err)
	}
	if caps.Operator == nil || caps.Repository != nil || caps.Orchestrator != nil {
		t.Fatalf("Dispense(operator) = %+v, want only an operator", caps)
	}
	res, err := caps.Operator.ParseEvent(context.Background(), ParseRequest{Body: []byte("{}")})
	if err != nil || res.CommitID != want.CommitID || len(res.Statuses) != 1 {
		t.Errorf("dispensed ParseEvent = %+v, %v; want the served operator's result %+v", res, err, want)
	}

	caps, err = Dispense(servedPlugin(t, fixedOperator{}), []Capability{CapabilityRepository, CapabilityOperator})
	if err != nil || caps.Operator == nil || caps.Repository == nil || caps.Orchestrator != nil {
		t.Errorf("Dispense(repository, operator) = %+v, %v; want both", caps, err)
	}
}

func TestDispenseFailsOnACapabilityNotServed(t *testing.T) {
	caps, err := Dispense(servedPlugin(t, fixedOperator{}), []Capability{CapabilityOperator, CapabilityOrchestrator})
	if err == nil || !strings.Contains(err.Error(), "dispense orchestrator") {
		t.Fatalf("Dispense = %+v, %v; want an error naming the orchestrator", caps, err)
	}
	if caps.Operator != nil {
		t.Errorf("Dispense returned capabilities with its error: %+v", caps)
	}
}
