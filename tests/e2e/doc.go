// Package e2e holds the end-to-end tests: they build the real host and
// plugin binaries, run the host as a process with its plugins, post Flux
// and Argo CD events over HTTP and check what reached fakes of the remote
// APIs. Nothing here imports the host.
package e2e
