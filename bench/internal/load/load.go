// Package load sends HTTP requests over loopback and times their answers,
// in the two shapes the benchmark needs:
//
//   - Closed: a fixed number of clients, each sending its next request as
//     soon as the previous one is answered, for a fixed time. It finds the
//     throughput a server sustains at that concurrency.
//   - Open: requests at a fixed rate, whatever the answers do. Latencies
//     are counted from the time a request was due, not from when it left,
//     so a sender that falls behind does not hide the delay it suffers
//     (coordinated omission).
//
// Both are bounded in time and in count, and stop early when their context
// ends.
package load

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is one request.
type Sample struct {
	// Index numbers the request from 0 in the order it was due.
	Index int
	// Due is when the request was due: the send time in a closed loop, the
	// schedule's time in an open loop.
	Due time.Time
	// Latency is from Due until the answer's body was read.
	Latency time.Duration
	// Code is the HTTP status; 0 when Err is set.
	Code int
	Err  error
}

// Result is what a run measured.
type Result struct {
	// Samples are the measured requests (not the warm-up's).
	Samples []Sample
	// Window is the measured time: from the end of the warm-up until the
	// last measured answer.
	Window time.Duration
	// Codes counts the measured answers by HTTP status.
	Codes map[int]int
	// Errors counts the measured requests that got no answer; FirstError is
	// the first of them.
	Errors     int
	FirstError error
	// MaxSendLag is, in an open loop, how late the sender was at worst.
	MaxSendLag time.Duration
	// Answered counts every answer by HTTP status, the warm-up's included:
	// what the server took in.
	Answered map[int]int
}

// Count returns how many measured requests were answered with one of
// codes.
func (r Result) Count(codes ...int) int {
	n := 0
	for _, c := range codes {
		n += r.Codes[c]
	}
	return n
}

// Rate returns the measured answers with one of codes per second of the
// window.
func (r Result) Rate(codes ...int) float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Count(codes...)) / r.Window.Seconds()
}

// Latencies returns the latencies of the measured requests answered with
// one of codes.
func (r Result) Latencies(codes ...int) []time.Duration {
	out := make([]time.Duration, 0, r.Count(codes...))
	for _, s := range r.Samples {
		if s.Err == nil && slices.Contains(codes, s.Code) {
			out = append(out, s.Latency)
		}
	}
	return out
}

// Request builds the i-th request body.
type Request func(i int) []byte

// NewClient returns an HTTP client that keeps up to conns connections to
// one server open between requests.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// post sends one body and reads the answer.
func post(ctx context.Context, c *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	return res.StatusCode, nil
}

// target is the URL of the i-th request: urls round robin (several
// replicas behind no balancer), else url.
func target(url string, urls []string, i int) string {
	if len(urls) == 0 {
		return url
	}
	return urls[i%len(urls)]
}

// Closed is a closed-loop run.
type Closed struct {
	Client *http.Client
	URL    string
	// URLs, when set, take the requests in turn instead of URL: request i
	// goes to URLs[i%len(URLs)].
	URLs []string
	// Concurrency is the number of clients.
	Concurrency int
	// Warmup is sent first and not measured.
	Warmup time.Duration
	// Duration is the measured time after the warm-up.
	Duration time.Duration
	// MaxRequests bounds the requests, warm-up included; 0 is no bound.
	MaxRequests int
	Body        Request
}

// Run sends requests until the duration is over, MaxRequests were sent, or
// ctx ends.
func (c Closed) Run(ctx context.Context) Result {
	start := time.Now()
	measureFrom := start.Add(c.Warmup)
	end := measureFrom.Add(c.Duration)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()
	var next atomic.Int64
	per := make([][]Sample, c.Concurrency)
	answered := make([]map[int]int, c.Concurrency)
	var lastAnswer atomic.Int64 // unix nanos of the last measured answer
	var wg sync.WaitGroup
	for w := range c.Concurrency {
		wg.Add(1)
		answered[w] = map[int]int{}
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent := time.Now()
				if !sent.Before(end) {
					return
				}
				i := int(next.Add(1)) - 1
				if c.MaxRequests > 0 && i >= c.MaxRequests {
					return
				}
				code, err := post(ctx, c.Client, target(c.URL, c.URLs, i), c.Body(i))
				done := time.Now()
				if err == nil {
					answered[w][code]++
				}
				if sent.Before(measureFrom) || done.After(end) {
					continue
				}
				per[w] = append(per[w], Sample{Index: i, Due: sent, Latency: done.Sub(sent), Code: code, Err: err})
				storeMax(&lastAnswer, done.UnixNano())
			}
		}()
	}
	wg.Wait()
	window := c.Duration
	if last := lastAnswer.Load(); last > 0 && time.Unix(0, last).Before(end) {
		// Stopped early (count or context): the window ends with the last
		// answer.
		window = time.Unix(0, last).Sub(measureFrom)
	}
	var all []Sample
	for _, s := range per {
		all = append(all, s...)
	}
	r := summarize(all, window, 0)
	for _, m := range answered {
		for code, n := range m {
			r.Answered[code] += n
		}
	}
	return r
}

func storeMax(v *atomic.Int64, n int64) {
	for {
		cur := v.Load()
		if n <= cur || v.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Open is an open-loop run: Count requests at Rate per second.
type Open struct {
	Client *http.Client
	URL    string
	// URLs, when set, take the requests in turn instead of URL: request i
	// goes to URLs[i%len(URLs)].
	URLs  []string
	Rate  float64
	Count int
	// MaxInFlight bounds the requests waiting for an answer; the sender
	// waits (and falls behind) when it is reached. Default 1024.
	MaxInFlight int
	Body        Request
}

// Run sends the requests on schedule and waits for their answers, or until
// ctx ends.
func (o Open) Run(ctx context.Context) Result {
	if o.Count <= 0 || o.Rate <= 0 {
		return summarize(nil, 0, 0)
	}
	limit := o.MaxInFlight
	if limit <= 0 {
		limit = 1024
	}
	slots := make(chan struct{}, limit)
	interval := time.Duration(float64(time.Second) / o.Rate)
	samples := make([]Sample, o.Count)
	start := time.Now()
	var wg sync.WaitGroup
	var maxLag time.Duration
	sent := 0
	for i := range o.Count {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		maxLag = max(maxLag, time.Since(due))
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			code, err := post(ctx, o.Client, target(o.URL, o.URLs, i), o.Body(i))
			samples[i] = Sample{Index: i, Due: due, Latency: time.Since(due), Code: code, Err: err}
		}()
	}
	wg.Wait()
	samples = samples[:sent]
	var last time.Time
	for _, s := range samples {
		if t := s.Due.Add(s.Latency); t.After(last) {
			last = t
		}
	}
	r := summarize(samples, last.Sub(start), maxLag)
	maps.Copy(r.Answered, r.Codes)
	return r
}

func summarize(samples []Sample, window, lag time.Duration) Result {
	r := Result{Samples: samples, Window: window, Codes: map[int]int{}, Answered: map[int]int{}, MaxSendLag: lag}
	for _, s := range samples {
		if s.Err != nil {
			r.Errors++
			if r.FirstError == nil {
				r.FirstError = s.Err
			}
			continue
		}
		r.Codes[s.Code]++
	}
	return r
}
