package jsstore

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/nats-io/nats.go"
)

// Credentials say how to authenticate to NATS and verify it. Each is read
// from a file (a mounted Secret) or, for the token, an environment
// variable: never from a flag, which would show in the process list.
type Credentials struct {
	// CredsFile is a NATS credentials file (a user JWT and its nkey seed).
	CredsFile string
	// NkeyFile is a file holding an nkey seed.
	NkeyFile string
	// TokenFile holds a token; Token is the token itself (from the
	// environment).
	TokenFile string
	Token     string
	// CAFile verifies the server's certificate; CertFile and KeyFile are
	// the client certificate, for servers that require one.
	CAFile   string
	CertFile string
	KeyFile  string
}

// CheckURL refuses server URLs that carry credentials: those go in files.
func CheckURL(urls string) error {
	if strings.TrimSpace(urls) == "" {
		return errors.New("no NATS server URL")
	}
	for _, p := range strings.Split(urls, ",") {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.Host == "" {
			return fmt.Errorf("%q is not a NATS server URL (nats://host:4222)", redact(p))
		}
		if u.User != nil {
			return errors.New("the NATS server URL carries credentials; give them in a file (--queue-creds-file, --queue-nkey-file, --queue-token-file) instead")
		}
		switch u.Scheme {
		case "nats", "tls":
		default:
			return fmt.Errorf("%q: the scheme must be nats:// or tls://", redact(p))
		}
	}
	return nil
}

// namePattern is what a queue's name may be: it names the stream, the
// buckets and the subjects in NATS, and the sweep's Lease in Kubernetes
// (a DNS label).
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// CheckName refuses a queue name NATS or Kubernetes would not take.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("queue name %q: want 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// Options returns the connection options of c, having checked that its
// files can be read.
func (c Credentials) Options() ([]nats.Option, error) {
	var opts []nats.Option
	auth := 0
	if c.CredsFile != "" {
		if err := readable(c.CredsFile, "credentials"); err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
		auth++
	}
	if c.NkeyFile != "" {
		if err := readable(c.NkeyFile, "nkey seed"); err != nil {
			return nil, err
		}
		o, err := nats.NkeyOptionFromSeed(c.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed file %s: %w", c.NkeyFile, err)
		}
		opts = append(opts, o)
		auth++
	}
	token := strings.TrimSpace(c.Token)
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("NATS token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return nil, fmt.Errorf("NATS token file %s is empty", c.TokenFile)
		}
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
		auth++
	}
	if auth > 1 {
		return nil, errors.New("give one NATS credential: a credentials file, an nkey seed or a token")
	}
	if c.CAFile != "" {
		if err := readable(c.CAFile, "CA certificate"); err != nil {
			return nil, err
		}
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("a NATS client certificate needs both its certificate and its key file")
	}
	if c.CertFile != "" {
		for _, f := range []string{c.CertFile, c.KeyFile} {
			if err := readable(f, "client certificate"); err != nil {
				return nil, err
			}
		}
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	return opts, nil
}

func readable(path, what string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("NATS %s file: %w", what, err)
	}
	return f.Close()
}
