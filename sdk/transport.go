package sdk

import "net/http"

// MaxConcurrentCalls is how many calls of one kind the host makes to a
// plugin at most at once: its delivery pipeline works on up to this many
// (config, commit) pairs in parallel, one call each.
const MaxConcurrentCalls = 64

// NewHTTPTransport returns a transport for a plugin's calls to its remote
// API: http.DefaultTransport's settings (proxy from HTTPS_PROXY and friends,
// timeouts, HTTP/2) keeping up to MaxConcurrentCalls idle connections per
// host. The default keeps two, so with the host's concurrent deliveries
// most calls would open a TLS connection of their own and close it after.
// Share one transport across a plugin's clients: its connections are its
// pool.
func NewHTTPTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = MaxConcurrentCalls
	return t
}
