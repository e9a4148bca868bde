package core_test

import (
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		return core.NewMemoryStore(opts)
	})
}
