package mysql

import (
	"testing"

	"github.com/streamforge/streamforge/internal/destination/destinationtest"
)

func BenchmarkLoad(b *testing.B) {
	destinationtest.BenchLoad(b, open(b))
}
