package store

import (
	"path/filepath"
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/storetest"
)

func TestBoltConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) pipeline.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s pipeline.Store) pipeline.Store {
			b := s.(*Bolt)
			return reopen(t, b, filepath.Dir(b.Path()))
		},
	})
}
