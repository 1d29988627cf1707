package event

import (
	"slices"
	"testing"
)

func TestParseProgressGroupsChangeSetLinesByKind(t *testing.T) {
	cases := []struct {
		name    string
		message string
		want    Progress
	}{
		{
			name:    "flux 2 change set keeps the separators between actions",
			message: "Deployment/default/a configured\nDeployment/default/b created\nDeployment/default/c configured",
			want:    Progress{Parsed: true, Groups: []Group{{"Deployment", "2 configured, 1 created"}}},
		},
		{
			name:    "kinds in the order they first appear",
			message: "Service/default/a created\nNamespace/apps created\nService/default/b created",
			want:    Progress{Parsed: true, Groups: []Group{{"Service", "2 created"}, {"Namespace", "1 created"}}},
		},
		{
			name:    "kubectl lines with a trailing newline",
			message: "service/podinfo configured\ndeployment.apps/podinfo configured\n",
			want:    Progress{Parsed: true, Groups: []Group{{"service", "1 configured"}, {"deployment.apps", "1 configured"}}},
		},
		{
			name:    "warnings are counted, not grouped",
			message: "Warning: v1beta1 is deprecated\nDeployment/default/a configured\nWarning: another",
			want:    Progress{Parsed: true, Warnings: 2, Groups: []Group{{"Deployment", "1 configured"}}},
		},
		{
			name:    "only warnings",
			message: "Warning: one",
			want:    Progress{Parsed: true, Warnings: 1},
		},
		{
			name:    "blank lines and CRLF are skipped",
			message: "\r\nDeployment/default/a configured\r\n\n  \n",
			want:    Progress{Parsed: true, Groups: []Group{{"Deployment", "1 configured"}}},
		},
		{name: "a sentence", message: "Health check passed in 5.0123s"},
		{name: "two words without a kind", message: "Reconciliation started"},
		{name: "a line without an action", message: "Deployment/default/a configured\nDeployment/default/b"},
		{name: "an empty kind", message: "/default/a configured"},
		{name: "nothing after the kind", message: "Deployment/ configured"},
		{name: "slashes only", message: "\n\n/ /\nWarning"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseProgress(tc.message)
			if got.Parsed != tc.want.Parsed || got.Warnings != tc.want.Warnings || !slices.Equal(got.Groups, tc.want.Groups) {
				t.Errorf("ParseProgress(%q) = %+v, want %+v", tc.message, got, tc.want)
			}
		})
	}
}

func TestParseHealthCheckListsEveryResource(t *testing.T) {
	cases := []struct {
		name    string
		message string
		want    []FailedResource
	}{
		{
			name:    "flux 2 timeout",
			message: "health check failed after 30.0141s: timeout waiting for: [Deployment/default/podinfo status: 'InProgress', StatefulSet/default/redis status: 'Failed']",
			want:    []FailedResource{{"Deployment/default/podinfo", "InProgress"}, {"StatefulSet/default/redis", "Failed"}},
		},
		{
			name:    "the last character of the list is kept",
			message: "Health check failed for [Deployment/default/podinfo]",
			want:    []FailedResource{{"Deployment/default/podinfo", ""}},
		},
		{
			name:    "cluster-scoped resources",
			message: "timeout waiting for: [Namespace/apps status: 'NotFound', ClusterRole/admin status: 'InProgress']",
			want:    []FailedResource{{"Namespace/apps", "NotFound"}, {"ClusterRole/admin", "InProgress"}},
		},
		{
			name:    "without brackets",
			message: "Health check failed after 2m0.04s, timeout waiting for: Deployment/default/podinfo status: 'InProgress'",
			want:    []FailedResource{{"Deployment/default/podinfo", "InProgress"}},
		},
		{
			name:    "entries without a Kind/name reference are taken whole",
			message: "Health check failed for [deployment 'default/podinfo', job 'default/migrate']",
			want:    []FailedResource{{"deployment 'default/podinfo'", ""}, {"job 'default/migrate'", ""}},
		},
		{
			name:    "each resource once",
			message: "[Deployment/default/a status: 'InProgress', Deployment/default/a status: 'Failed']",
			want:    []FailedResource{{"Deployment/default/a", "InProgress"}},
		},
		{name: "an empty list", message: "timeout waiting for: []"},
		{name: "no resource", message: "health check canceled due to new revision"},
		{name: "brackets the wrong way round", message: "][", want: nil},
		{name: "trailing punctuation is not part of the name", message: "waiting for Deployment/default/podinfo.",
			want: []FailedResource{{"Deployment/default/podinfo", ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseHealthCheck(tc.message); !slices.Equal(got, tc.want) {
				t.Errorf("ParseHealthCheck(%q) = %+v, want %+v", tc.message, got, tc.want)
			}
		})
	}
}
