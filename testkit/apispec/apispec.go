// Package apispec checks HTTP requests against the official API descriptions
// in ../shared/apispecs, so fakes of remote APIs fail a test when a client
// sends a request the real service would not accept.
package apispec

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API descriptions.
const (
	GitHub      = "github-subset.json"
	AzureDevOps = "azure-devops-subset.openapi3.json"
	// Gitea is Gitea's own description (1.27.3); its paths are below
	// /api/v1 of the server, so load it with that server URL.
	Gitea = "gitea-subset.openapi3.json"
)

var uuidOnce sync.Once

// Dir returns the directory of the API descriptions: $GITOPS_CONNECTOR_APISPECS,
// or shared/apispecs beside the repository's root.
func Dir() string {
	if d := os.Getenv("GITOPS_CONNECTOR_APISPECS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	// testkit/apispec/apispec.go → <root>/../shared/apispecs
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "apispecs")
}

// Validator validates requests against one API description.
type Validator struct {
	router routers.Router
}

// Load reads the description named file (GitHub, AzureDevOps or Gitea) with its
// server set to serverURL (e.g. an httptest server's URL, plus any path
// prefix the client adds).
func Load(file, serverURL string) (*Validator, error) {
	uuidOnce.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(
			`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
	})
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(Dir(), file))
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", file, err)
	}
	return &Validator{router: router}, nil
}

// Validate checks one request (its body must be readable again: Validate
// restores it). It returns an error naming the operation and what does not
// match the description.
func (v *Validator) Validate(r *http.Request) error {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%s %s: no such operation in the API description: %w", r.Method, r.URL, err)
	}
	err = openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
		},
	})
	if err != nil {
		return fmt.Errorf("%s %s (%s): %w", r.Method, r.URL.Path, route.Operation.OperationID, err)
	}
	return nil
}
