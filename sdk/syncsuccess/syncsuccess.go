// Package syncsuccess builds what an orchestrator tells the CI workflow
// waiting for a successful deployment — the "sync-success" payload — from
// the manifest commit's message, where the CD workflow wrote its run id and
// the source commit. The GitHub plugin sends it as repository_dispatch
// client_payload, the Gitea plugin as workflow_dispatch inputs; an
// orchestrator plugin of another CI system can send the same fields.
package syncsuccess

import (
	"log/slog"
	"strings"

	"github.com/gitops-connector/gitops-connector/sdk"
)

// EventType is the name workflows know the event by (GitHub's
// repository_dispatch event_type).
const EventType = "sync-success"

// Payload is what the manifest commit's message says.
type Payload struct {
	// SHA is the source commit the manifests were generated from.
	SHA string
	// RunID is the id of the workflow run waiting for the deployment.
	RunID string
	// CommitMessage is the whole manifest commit message.
	CommitMessage string
}

// Parse reads a manifest commit message the way the old connector did:
// split on "/", the third segment is the run id and the fourth, when
// present, the source commit. The CD workflow names the pull request branch
// deploy/<run id>/<sha>, so GitHub's merge commit message
// "Merge pull request #12 from org/deploy/4711/<sha>\n\n<title>" yields run
// id 4711 and the sha.
//
// Each value ends at the first white space: the old connector kept the rest
// of the message in the sha ("<sha>\n\n<title>"), which no workflow can use
// and which doubled the payload. Where its values were usable, these are the
// same. missing names what the message lacks ("" when nothing), for Build
// to log; the old connector crashed on such messages.
func Parse(msg string) (p Payload, missing string) {
	return fromSegments(msg, after(strings.Split(msg, "/"), 2))
}

// ParseBranch reads the run id and the source commit from the name of the
// CD workflow's branch, deploy/<run id>/<sha> (segments 2 and 3), for
// messages that name it other than GitHub's merge commit does, such as
// Gitea's "Merge pull request '<title>' (#12) from deploy/4711/<sha> into
// main". msg is kept whole as the commit message.
func ParseBranch(msg, branch string) (p Payload, missing string) {
	return fromSegments(msg, after(strings.Split(branch, "/"), 1))
}

// after returns the segments after the first n, or none.
func after(seg []string, n int) []string {
	if len(seg) <= n {
		return nil
	}
	return seg[n:]
}

// fromSegments reads the run id from seg[0] and the source commit from
// seg[1], when present.
func fromSegments(msg string, seg []string) (p Payload, missing string) {
	p.CommitMessage = msg
	if len(seg) > 0 {
		p.RunID = firstWord(seg[0])
	}
	if len(seg) > 1 {
		p.SHA = firstWord(seg[1])
	}
	var lacks []string
	if p.RunID == "" {
		lacks = append(lacks, "the run id")
	}
	if p.SHA == "" {
		lacks = append(lacks, "the source commit")
	}
	if len(lacks) == 0 {
		return p, ""
	}
	return p, strings.Join(lacks, " and ")
}

// Build returns the fields of a parsed payload (Parse, ParseBranch): sha, runid and commitmessage (cut to at most
// maxMessageBytes without splitting a character), environment when the
// config has a status context, and deployed_with when the commit was
// deployed as part of a newer one (sdk.Completion.DeployedWith). It logs
// what the message lacks (missing), and a cut, to log: the dispatch goes
// out with what it has.
func Build(log *slog.Logger, c sdk.Completion, p Payload, missing string, maxMessageBytes int) (Payload, map[string]string) {
	if missing != "" {
		log.Warn("manifest commit message lacks "+missing+"; dispatching with what it has",
			"config", c.Config.Name, "commit", c.CommitID,
			"expected", "<text>/<text>/<run id>/<source commit>, e.g. \"Merge pull request #12 from org/deploy/<run id>/<sha>\"")
	}
	if len(p.CommitMessage) > maxMessageBytes {
		log.Warn("manifest commit message cut for the dispatch payload", "config", c.Config.Name, "commit", c.CommitID, "bytes", len(p.CommitMessage), "kept", maxMessageBytes)
		p.CommitMessage = cutBytes(p.CommitMessage, maxMessageBytes)
	}
	fields := map[string]string{"sha": p.SHA, "runid": p.RunID, "commitmessage": p.CommitMessage}
	if c.Config.StatusContext != "" {
		fields["environment"] = c.Config.StatusContext
	}
	if c.DeployedWith != "" {
		fields["deployed_with"] = c.DeployedWith
	}
	return p, fields
}

// firstWord returns s up to its first white space, leading space skipped.
func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// cutBytes cuts s to at most n bytes without splitting a character.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := 0
	for i := range s {
		if i > n {
			break
		}
		end = i
	}
	return s[:end]
}
