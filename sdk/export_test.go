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

// HandOutAnUnservedRepositoryID makes the next calls, under protocol 2,
// carry a broker id the host does not serve, so the plugin cannot connect.
func HandOutAnUnservedRepositoryID(o Orchestrator) {
	l := o.(*orchestratorClient).repos.(*sharedLending)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := &brokerServer{id: l.broker.NextId(), started: time.Now(), server: make(chan *grpc.Server, 1), done: make(chan struct{})}
	s.server <- grpc.NewServer() // never serves: stopping it stops nothing
	l.current = s
}
