package pipeline_test

import (
	"testing"

	"github.com/gitops-connector/gitops-connector/host/internal/pipeline"
	"github.com/gitops-connector/gitops-connector/host/internal/pipeline/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(*testing.T) pipeline.Store { return pipeline.NewMemoryStore() },
	})
}
