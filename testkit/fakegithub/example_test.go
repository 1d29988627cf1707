package fakegithub_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gitops-connector/gitops-connector/testkit/fakegithub"
)

// A test sets up the repositories and commits it needs, points the
// connector's gitHubOrgUrl at OrgURL (or EnterpriseOrgURL), queues faults and
// reads back what GitHub would show. In a test, Start(t) replaces New and
// Close and fails the test on requests outside the API description.
func Example() {
	fake, err := fakegithub.New(fakegithub.WithToken("ghp_example"))
	if err != nil {
		panic(err)
	}
	defer fake.Close()
	sha := "9f2c1e4b7a3d5f60812e4c9b0a7d3f1e2c4b6a80"
	fake.SetCommit("kaizentm", "gitops-manifests", sha, "Merge pull request #12 from kaizentm/deploy/4711/3f9a2b1c")
	fake.AddRepo("kaizentm", "app-src")

	// The first status post fails with 502 and asks the client to wait.
	fake.FailNext(fakegithub.OpCreateStatus,
		fakegithub.ServerError(http.StatusBadGateway),
		fakegithub.TooManyRequests(2*time.Second))

	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, fake.OrgURL("kaizentm")+"/gitops-manifests/statuses/"+sha,
			strings.NewReader(`{"state":"success","context":"Status","description":"Applied revision"}`))
		req.Header.Set("Authorization", "Bearer ghp_example")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	fmt.Println(post(), post(), post())
	for _, st := range fake.Statuses("kaizentm", "gitops-manifests", sha) {
		fmt.Println(st.Context, st.State, st.Description)
	}
	fmt.Println("invalid requests:", len(fake.Errors()))
	// Output:
	// 502 429 201
	// Status success Applied revision
	// invalid requests: 0
}
