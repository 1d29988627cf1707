package azdoapi

import (
	"math"
	"regexp"
	"strings"

	"github.com/gitops-connector/gitops-connector/plugins/azdo/internal/config"
	"github.com/gitops-connector/gitops-connector/sdk"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// CommitID returns a commit id in lower case, or sdk.CheckCommitID's
// invalid-input error: nothing else may reach a URL.
func CommitID(id string) (string, error) {
	if err := sdk.CheckCommitID("commit id", id); err != nil {
		return "", err
	}
	return strings.ToLower(id), nil
}

// PullRequestNumber returns a pull request number as the API takes it, or
// an invalid-input error when it is not a positive 32-bit number.
func PullRequestNumber(n int64) (int, error) {
	if n <= 0 || n > math.MaxInt32 {
		return 0, sdk.InvalidInputf("pull request number %d is not a positive 32-bit number", n)
	}
	return int(n), nil
}

// IsUUID reports whether s is a UUID (any version, any case).
func IsUUID(s string) bool { return uuidRE.MatchString(s) }

// Repository returns the repository a request names: name, or the
// manifests repository when name is empty.
func Repository(name string, s config.Settings) (string, error) {
	if name == "" {
		name = s.ManifestsRepo
		if name == "" {
			return "", sdk.InvalidInputf("%s is not set: name the repository", config.FieldManifestsRepo)
		}
	}
	if err := config.CheckRepoName(name); err != nil {
		return "", sdk.InvalidInputf("repository %.80q %v", name, err)
	}
	return name, nil
}
