package chart

import (
	"bytes"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/mod/modfile"

	"github.com/gitops-connector/gitops-connector/testkit/hostproc"
)

const (
	repoRoot     = "../../.."
	dockerfile   = repoRoot + "/Dockerfile"
	dockerignore = repoRoot + "/.dockerignore"
	// Where the chart expects the image's files (GITOPS_CONNECTOR_PLUGIN_DIR
	// puts the bundled directory first).
	hostPath  = "/app/gitops-connector"
	pluginDir = "/app/plugins"
)

// goBuild is one `go build` of the Dockerfile's build stage.
type goBuild struct {
	output, pkg string
	words       []string
}

// parseDockerfile reads the Dockerfile with BuildKit's own parser, failing on
// any parser or lint warning.
func parseDockerfile(t *testing.T) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	ast, err := parser.Parse(bytes.NewReader(readFile(t, dockerfile)))
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []parser.Range) {
		t.Errorf("Dockerfile lint %s: %s", rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	return stages, metaArgs
}

// goWork parses the repository's go.work.
func goWork(t *testing.T) *modfile.WorkFile {
	t.Helper()
	wf, err := modfile.ParseWork("go.work", readFile(t, filepath.Join(repoRoot, "go.work")), nil)
	if err != nil {
		t.Fatalf("parse go.work: %v", err)
	}
	return wf
}

// bundledPlugins lists the plugins/<name> directories with a main package:
// the plugins the image must carry.
func bundledPlugins(t *testing.T) []string {
	t.Helper()
	mains, err := filepath.Glob(filepath.Join(repoRoot, "plugins", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	if len(names) == 0 {
		t.Fatal("no plugins/<name>/main.go found")
	}
	return names
}

// goBuilds splits the build stage's RUN commands into their go build
// invocations, expanding variables as the shell would with VERSION set.
func goBuilds(t *testing.T, stage instructions.Stage, version string) []goBuild {
	t.Helper()
	lex := shell.NewLex('\\')
	env := shell.EnvsFromSlice([]string{"VERSION=" + version})
	var builds []goBuild
	for _, cmd := range stage.Commands {
		run, ok := cmd.(*instructions.RunCommand)
		if !ok {
			continue
		}
		words, err := lex.ProcessWords(strings.Join(run.CmdLine, " "), env)
		if err != nil {
			t.Fatalf("RUN %v: %v", run.CmdLine, err)
		}
		for _, c := range splitCommands(words) {
			if len(c) < 2 || c[0] != "go" || c[1] != "build" {
				t.Errorf("RUN holds %q: the build stage only runs go build", strings.Join(c, " "))
				continue
			}
			b := goBuild{words: c, pkg: c[len(c)-1]}
			if i := slices.Index(c, "-o"); i > 0 && i+1 < len(c) {
				b.output = c[i+1]
			}
			builds = append(builds, b)
		}
	}
	return builds
}

// splitCommands splits shell words at && and ;.
func splitCommands(words []string) [][]string {
	var out [][]string
	var cur []string
	for _, w := range words {
		if w == "&&" || w == ";" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, w)
	}
	return append(out, cur)
}

// The image builds the host and exactly the plugins with a main package,
// each static, reproducible and stamped with the version, and lays them out
// where the chart runs them.
func TestDockerfileBuildsHostAndEveryBundledPlugin(t *testing.T) {
	stages, metaArgs := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and final", len(stages))
	}
	build, final := stages[0], stages[1]

	wf := goWork(t)
	goVersion := ""
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Key == "GO_VERSION" && kv.Value != nil {
				goVersion = *kv.Value
			}
		}
	}
	if want := strings.Join(strings.SplitN(wf.Go.Version, ".", 3)[:2], "."); goVersion != want {
		t.Errorf("GO_VERSION = %q, want %q from go.work", goVersion, want)
	}
	if build.Name != "build" || !strings.HasPrefix(build.BaseName, "golang:") {
		t.Errorf("first stage %s FROM %s, want build FROM golang", build.Name, build.BaseName)
	}

	cgo := false
	for _, cmd := range build.Commands {
		if env, ok := cmd.(*instructions.EnvCommand); ok {
			for _, kv := range env.Env {
				cgo = cgo || (kv.Key == "CGO_ENABLED" && kv.Value == "0")
			}
		}
	}
	if !cgo {
		t.Error("build stage does not set CGO_ENABLED=0: the binaries would need libc, which the final image lacks")
	}

	const version = "1.2.3-test"
	want := map[string]string{"/out/gitops-connector": "./host/cmd/gitops-connector"}
	for _, p := range bundledPlugins(t) {
		want["/out/plugins/"+p] = "./plugins/" + p
	}
	got := map[string]string{}
	for _, b := range goBuilds(t, build, version) {
		got[b.output] = b.pkg
		if !slices.Contains(b.words, "-trimpath") {
			t.Errorf("go build %s without -trimpath", b.pkg)
		}
		i := slices.Index(b.words, "-ldflags")
		if i < 0 || i+1 >= len(b.words) || !slices.Contains(strings.Fields(b.words[i+1]), "main.version="+version) {
			t.Errorf("go build %s does not set -X main.version=$VERSION: %q", b.pkg, b.words)
		}
		for _, w := range b.words {
			if strings.HasPrefix(w, "CGO_ENABLED=") && w != "CGO_ENABLED=0" {
				t.Errorf("go build %s overrides %s", b.pkg, w)
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("go build outputs:\n got %v\nwant %v (the host and every plugins/<name> with main.go)", got, want)
	}

	if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" && final.BaseName != "scratch" {
		t.Errorf("final stage FROM %s, want distroless static or scratch", final.BaseName)
	}
	var copies [][2]string
	var user string
	var exposed []string
	var entrypoint []string
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.CopyCommand:
			if c.From != build.Name || len(c.SourcePaths) != 1 {
				t.Errorf("COPY %v from %q: copy single paths from the build stage", c.SourcePaths, c.From)
				continue
			}
			copies = append(copies, [2]string{c.SourcePaths[0], c.DestPath})
		case *instructions.UserCommand:
			user = c.User
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: distroless has no shell")
			}
			entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			t.Errorf("CMD %v: the host's default subcommand is serve", c.CmdLine)
		}
	}
	wantCopies := [][2]string{{"/out/gitops-connector", hostPath}, {"/out/plugins/", pluginDir + "/"}}
	if !slices.Equal(copies, wantCopies) {
		t.Errorf("final COPY = %v, want %v", copies, wantCopies)
	}
	if !slices.Equal(entrypoint, []string{hostPath}) {
		t.Errorf("ENTRYPOINT %v, want [%s]", entrypoint, hostPath)
	}
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); err != nil || n == 0 {
			t.Errorf("USER %q: want a numeric non-root uid:gid, so that Kubernetes can check runAsNonRoot", user)
			break
		}
	}
	port, ok := lookup(chartValues(t), "service.port")
	if !ok {
		t.Fatal("values.yaml has no service.port")
	}
	if p, ok := port.(float64); !ok || !slices.Equal(exposed, []string{strconv.Itoa(int(p))}) {
		t.Errorf("EXPOSE %v, want the chart's service.port %v", exposed, port)
	}
	r := render(t, install{files: []string{githubValues}, values: "plugins: {extra: [{name: gitlab, image: 'example/gitlab:1'}]}\n"})
	if dirs := strings.Split(r.environment(t)["GITOPS_CONNECTOR_PLUGIN_DIR"], ":"); dirs[0] != pluginDir {
		t.Errorf("chart's plugin directories %v do not start with the image's %s", dirs, pluginDir)
	}
}

// The build context holds what go build needs: the go.mod of every module
// go.work names, and the sources of the host and the plugins; tests stay out.
func TestDockerignoreKeepsTheWorkspaceBuildable(t *testing.T) {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readFile(t, dockerignore)))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	wf := goWork(t)
	kept := []string{"go.work", "go.work.sum", "host/cmd/gitops-connector/main.go"}
	for _, u := range wf.Use {
		kept = append(kept, filepath.ToSlash(filepath.Join(u.Path, "go.mod")))
	}
	for _, p := range bundledPlugins(t) {
		kept = append(kept, "plugins/"+p+"/main.go")
	}
	for _, path := range kept {
		if excluded, err := pm.MatchesOrParentMatches(path); err != nil || excluded {
			t.Errorf("%s is excluded from the build context (err %v)", path, err)
		}
	}
	for _, path := range []string{".git/config", "tests/kube/chart/dockerfile_test.go", "charts/gitops-connector/values.yaml", "host/internal/config/config_test.go", "plugins/flux/testdata/event.json"} {
		if excluded, err := pm.MatchesOrParentMatches(path); err != nil || !excluded {
			t.Errorf("%s is sent to the build (err %v)", path, err)
		}
	}
}

func TestTheTestBuildsBundleEveryPluginTheImageBundles(t *testing.T) {
	got := slices.Sorted(slices.Values(hostproc.BundledPlugins))
	if want := bundledPlugins(t); !slices.Equal(got, want) {
		t.Errorf("hostproc.BundledPlugins = %v, want %v (every plugins/<name> with main.go, as the image has)", got, want)
	}
}
