package sdk

import (
	"time"

	"google.golang.org/grpc"
)

// RepositoryConnections returns how many connections the plugin of a
// dispensed orchestrator made to the host's repository.
func RepositoryConnections(o Orchestrator) int64 { return o.(*orchestratorClient).conns.Load() }

// StopServingRepository stops, under protocol 2, the host's serving of the
// shared repository id and closes its connection, as a failed listener
// would.
func StopServingRepository(o Orchestrator) {
	l := o.(*orchestratorClient).repos.(*sharedLending)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.current.stop()
	<-l.current.done
}

// HandOutAnUnservedRepositoryID makes the host, under protocol 2, take a
// broker id it does not serve, served for age without a connection, as
// the shared one: the plugin cannot connect to it.
func HandOutAnUnservedRepositoryID(o Orchestrator, age time.Duration) {
	l := o.(*orchestratorClient).repos.(*sharedLending)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &brokerServer{id: l.broker.NextId(), started: time.Now().Add(-age), server: make(chan *grpc.Server, 1), done: make(chan struct{})}
	s.server <- grpc.NewServer() // never serves: stopping it stops nothing
	l.current = s
}
