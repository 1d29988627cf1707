package chart

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// The CRD serves GitOpsConfig in the group the connector watches, with the
// status subresource the connector writes and the printer columns users read.
func TestGitOpsConfigCRD(t *testing.T) {
	for _, group := range []string{"example.com", "gitops.acme.io"} {
		t.Run(group, func(t *testing.T) {
			r := render(t, install{files: []string{multiInstanceValues}, set: []string{"multipleInstances.clusterDomain=" + group}})
			crd := find[*apiextensionsv1.CustomResourceDefinition](t, r, "gitopsconfigs."+group)
			if crd.Spec.Group != group {
				t.Errorf("group = %q, want %q", crd.Spec.Group, group)
			}
			if r.environment(t)["CLUSTER_DOMAIN"] != group {
				t.Errorf("CLUSTER_DOMAIN = %q, want the CRD's group %q", r.environment(t)["CLUSTER_DOMAIN"], group)
			}
			names := crd.Spec.Names
			if names.Kind != "GitOpsConfig" || names.Plural != "gitopsconfigs" || names.Singular != "gitopsconfig" || names.ListKind != "GitOpsConfigList" {
				t.Errorf("names = %+v", names)
			}
			if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
				t.Errorf("scope = %s, want Namespaced", crd.Spec.Scope)
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("versions = %d, want 1", len(crd.Spec.Versions))
			}
			v := crd.Spec.Versions[0]
			if v.Name != "v1" || !v.Served || !v.Storage {
				t.Errorf("version %s served=%t storage=%t, want v1 served and stored", v.Name, v.Served, v.Storage)
			}
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Error("no status subresource")
			}
			var columns [][3]string
			for _, c := range v.AdditionalPrinterColumns {
				columns = append(columns, [3]string{c.Name, c.Type, c.JSONPath})
			}
			wantColumns := [][3]string{
				{"Ready", "string", `.status.conditions[?(@.type=="Ready")].status`},
				{"Operator", "string", ".spec.gitOpsOperatorType"},
				{"Repository", "string", ".spec.gitRepositoryType"},
				{"Orchestrator", "string", ".spec.ciCdOrchestratorType"},
				{"Age", "date", ".metadata.creationTimestamp"},
			}
			if !slices.Equal(columns, wantColumns) {
				t.Errorf("printer columns:\n got %v\nwant %v", columns, wantColumns)
			}

			schema := v.Schema.OpenAPIV3Schema
			spec := schema.Properties["spec"]
			if !slices.Equal(schema.Required, []string{"spec"}) {
				t.Errorf("required = %v, want [spec]", schema.Required)
			}
			// ciCdOrchestratorType is optional: left out, the config
			// posts statuses only.
			if want := []string{"gitRepositoryType", "gitOpsOperatorType", "gitOpsAppURL"}; !slices.Equal(spec.Required, want) {
				t.Errorf("spec.required = %v, want %v", spec.Required, want)
			}
			if spec.XPreserveUnknownFields == nil || !*spec.XPreserveUnknownFields {
				t.Error("spec does not preserve unknown fields: third-party plugins' settings would be pruned")
			}
			wantStrings := []string{
				"gitRepositoryType", "ciCdOrchestratorType", "gitOpsOperatorType", "gitOpsAppURL",
				"azdoGitOpsRepoName", "azdoPrRepoName", "azdoOrgUrl",
				"gitHubGitOpsRepoName", "gitHubGitOpsManifestsRepoName", "gitHubOrgUrl",
				"giteaUrl", "giteaOwner", "giteaGitOpsManifestsRepoName", "giteaGitOpsAppRepoName", "giteaWorkflow", "giteaWorkflowRef",
				"statusContext", "environment", "skippedCommits",
				"azureIdentity", "repositoryAzureIdentity", "orchestratorAzureIdentity",
			}
			refs := []string{"secretRef", "repositorySecretRef", "orchestratorSecretRef", "webhookSecretRef"}
			var gotFields []string
			for name, p := range spec.Properties {
				gotFields = append(gotFields, name)
				if !slices.Contains(refs, name) && name != "requiredEnvironments" && p.Type != "string" {
					t.Errorf("spec.%s type = %q, want string", name, p.Type)
				}
			}
			slices.Sort(gotFields)
			wantFields := slices.Sorted(slices.Values(append(append(wantStrings, refs...), "requiredEnvironments")))
			if !slices.Equal(gotFields, wantFields) {
				t.Errorf("spec fields:\n got %v\nwant %v", gotFields, wantFields)
			}
			for _, field := range refs {
				ref := spec.Properties[field]
				if ref.Type != "object" || !slices.Equal(ref.Required, []string{"name"}) ||
					ref.Properties["name"].Type != "string" || ref.Properties["key"].Type != "string" || ref.Description == "" {
					t.Errorf("%s = %+v, want object {name (required), key} with a description", field, ref)
				}
			}
			for _, field := range []string{"azureIdentity", "repositoryAzureIdentity", "orchestratorAzureIdentity"} {
				var enum []string
				for _, v := range spec.Properties[field].Enum {
					enum = append(enum, strings.Trim(string(v.Raw), `"`))
				}
				if !slices.Equal(enum, []string{"workload", "managed"}) || spec.Properties[field].Description == "" {
					t.Errorf("%s enum = %v, want [workload managed] with a description", field, enum)
				}
			}
			if envs := spec.Properties["requiredEnvironments"]; envs.Type != "array" || envs.Items == nil || envs.Items.Schema == nil || envs.Items.Schema.Type != "string" {
				t.Errorf("requiredEnvironments = %+v, want a list of strings", envs)
			}
			status := schema.Properties["status"]
			if status.Properties["observedGeneration"].Type != "integer" {
				t.Errorf("status.observedGeneration type = %q", status.Properties["observedGeneration"].Type)
			}
			conditions := status.Properties["conditions"]
			if conditions.Type != "array" || conditions.Items == nil || conditions.Items.Schema == nil {
				t.Fatalf("status.conditions = %+v, want an array of conditions", conditions)
			}
			item := conditions.Items.Schema
			for _, f := range []string{"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"} {
				if _, ok := item.Properties[f]; !ok {
					t.Errorf("condition has no %s", f)
				}
			}
			if crd.Annotations["helm.sh/resource-policy"] != "keep" {
				t.Error("CRD is not kept on uninstall: uninstalling would delete every GitOpsConfig")
			}
		})
	}
}

// A release that does not own the CRD renders none, and one that does not
// keep it lets Helm delete it.
func TestCRDInstallAndKeepAreOptional(t *testing.T) {
	r := render(t, install{files: []string{multiInstanceValues}, set: []string{"multipleInstances.crd.install=false"}})
	if crds := all[*apiextensionsv1.CustomResourceDefinition](r); len(crds) != 0 {
		t.Errorf("rendered %d CRDs with crd.install=false", len(crds))
	}
	r = render(t, install{files: []string{multiInstanceValues}, set: []string{"multipleInstances.crd.keep=false"}})
	crd := find[*apiextensionsv1.CustomResourceDefinition](t, r, "gitopsconfigs.example.com")
	if _, ok := crd.Annotations["helm.sh/resource-policy"]; ok {
		t.Error("resource-policy set with crd.keep=false")
	}
	r = render(t, install{files: []string{githubValues}})
	if crds := all[*apiextensionsv1.CustomResourceDefinition](r); len(crds) != 0 {
		t.Errorf("single instance rendered %d CRDs", len(crds))
	}
	if roles := all[*rbacv1.ClusterRole](r); len(roles) != 0 {
		t.Errorf("single instance rendered %d ClusterRoles", len(roles))
	}
}

// The ClusterRole grants exactly what the connector needs in multiple-
// instances mode, bound cluster-wide or in the watched namespaces only.
func TestMultipleInstancesRBAC(t *testing.T) {
	wantRules := []rbacv1.PolicyRule{
		{APIGroups: []string{"gitops.acme.io"}, Resources: []string{"gitopsconfigs"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"gitops.acme.io"}, Resources: []string{"gitopsconfigs/status"}, Verbs: []string{"update", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}},
	}
	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: "gitops-connector", Namespace: "gitops"}
	roleRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "gitops:gitops-connector"}

	t.Run("all namespaces", func(t *testing.T) {
		r := render(t, install{files: []string{multiInstanceValues}, set: []string{"multipleInstances.clusterDomain=gitops.acme.io"}})
		role := find[*rbacv1.ClusterRole](t, r, "gitops:gitops-connector")
		if !rulesEqual(role.Rules, wantRules) {
			t.Errorf("rules:\n got %+v\nwant %+v", role.Rules, wantRules)
		}
		binding := find[*rbacv1.ClusterRoleBinding](t, r, "gitops:gitops-connector")
		if binding.RoleRef != roleRef || !slices.Equal(binding.Subjects, []rbacv1.Subject{subject}) {
			t.Errorf("binding = %+v %+v", binding.RoleRef, binding.Subjects)
		}
		if rbs := all[*rbacv1.RoleBinding](r); len(rbs) != 0 {
			t.Errorf("%d RoleBindings without a namespace list", len(rbs))
		}
	})
	t.Run("listed namespaces", func(t *testing.T) {
		r := render(t, install{files: []string{multiInstanceValues}, values: "multipleInstances: {clusterDomain: gitops.acme.io, namespaces: [team-a, team-b]}\n"})
		if crbs := all[*rbacv1.ClusterRoleBinding](r); len(crbs) != 0 {
			t.Errorf("ClusterRoleBinding rendered although access is limited to namespaces")
		}
		var got []string
		for _, rb := range all[*rbacv1.RoleBinding](r) {
			got = append(got, rb.Namespace)
			if rb.Name != "gitops:gitops-connector" || rb.RoleRef != roleRef || !slices.Equal(rb.Subjects, []rbacv1.Subject{subject}) {
				t.Errorf("RoleBinding in %s = %s %+v %+v", rb.Namespace, rb.Name, rb.RoleRef, rb.Subjects)
			}
		}
		if !slices.Equal(got, []string{"team-a", "team-b"}) {
			t.Errorf("RoleBindings in %v, want team-a and team-b", got)
		}
	})
	t.Run("rbac.create=false", func(t *testing.T) {
		r := render(t, install{files: []string{multiInstanceValues}, set: []string{"multipleInstances.rbac.create=false"}})
		if n := len(all[*rbacv1.ClusterRole](r)) + len(all[*rbacv1.ClusterRoleBinding](r)); n != 0 {
			t.Errorf("%d RBAC objects with rbac.create=false", n)
		}
	})
}

func rulesEqual(a, b []rbacv1.PolicyRule) bool {
	return slices.EqualFunc(a, b, func(x, y rbacv1.PolicyRule) bool {
		return slices.Equal(x.APIGroups, y.APIGroups) && slices.Equal(x.Resources, y.Resources) &&
			slices.Equal(x.Verbs, y.Verbs) && slices.Equal(x.ResourceNames, y.ResourceNames) && len(x.NonResourceURLs) == 0
	})
}

// Releases are unique per namespace, so the names of what a release creates
// outside its namespace combine both: two releases in one namespace, or one
// name in two namespaces, never share a ClusterRole, ClusterRoleBinding or a
// RoleBinding in a watched namespace (the original chart's did).
func TestTwoReleasesNeverShareNamesOutsideTheirNamespace(t *testing.T) {
	releases := []install{
		{name: "gitops-connector", namespace: "gitops"},
		{name: "connector-b", namespace: "gitops"},
		{name: "gitops-connector", namespace: "other"},
		{name: "x", namespace: "third", set: []string{"fullnameOverride=gitops-connector"}},
	}
	seen := map[string]string{}
	for i, rel := range releases {
		rel.files = []string{multiInstanceValues}
		rel.set = append(rel.set, "multipleInstances.namespaces={team-a}")
		if i > 0 {
			// One release owns the shared CRD.
			rel.set = append(rel.set, "multipleInstances.crd.install=false")
		}
		r := render(t, rel)
		var names []string
		for _, o := range all[*rbacv1.ClusterRole](r) {
			names = append(names, "ClusterRole/"+o.Name)
		}
		for _, o := range all[*rbacv1.RoleBinding](r) {
			names = append(names, "RoleBinding/"+o.Namespace+"/"+o.Name)
		}
		if len(names) != 2 {
			t.Fatalf("%s/%s rendered %v, want a ClusterRole and a RoleBinding", rel.namespace, rel.name, names)
		}
		for _, n := range names {
			owner := rel.namespace + "/" + rel.name
			if prev, dup := seen[n]; dup {
				t.Errorf("%s rendered by releases %s and %s", n, prev, owner)
			}
			seen[n] = owner
		}
	}
	// Cluster-wide bindings follow the same rule.
	a := render(t, install{name: "a", namespace: "gitops", files: []string{multiInstanceValues}})
	b := render(t, install{name: "b", namespace: "gitops", files: []string{multiInstanceValues}, set: []string{"multipleInstances.crd.install=false"}})
	if x, y := all[*rbacv1.ClusterRoleBinding](a)[0].Name, all[*rbacv1.ClusterRoleBinding](b)[0].Name; x == y {
		t.Errorf("both releases render ClusterRoleBinding %s", x)
	}
}

// canonicalCRD is the copy of the CRD the GitOpsConfig tests of this module
// apply to a real API server.
const canonicalCRD = "../testdata/gitopsconfig-crd.yaml"

// The chart installs the same CRD the connector's Kubernetes tests run
// against.
func TestCRDMatchesTheOneTheConnectorIsTestedWith(t *testing.T) {
	data := readFile(t, canonicalCRD)
	o, ok, err := decode(string(data))
	if err != nil || !ok {
		t.Fatalf("decode %s: ok %t, %v", canonicalCRD, ok, err)
	}
	want := o.obj.(*apiextensionsv1.CustomResourceDefinition)
	got := find[*apiextensionsv1.CustomResourceDefinition](t, render(t, install{files: []string{multiInstanceValues}}), want.Name)
	if !equality.Semantic.DeepEqual(got.Spec, want.Spec) {
		t.Errorf("chart CRD spec differs from %s:\n%s", canonicalCRD, cmp.Diff(want.Spec, got.Spec))
	}
}
