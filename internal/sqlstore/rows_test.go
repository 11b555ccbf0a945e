package sqlstore

import (
	"slices"
	"testing"
)

// TestChunkPlan: every row goes into exactly one statement, and on
// PostgreSQL a sign-in's nine bucket deltas take two statements, not five.
func TestChunkPlan(t *testing.T) {
	for _, tt := range []struct {
		sizes []int
		n     int
		want  []int
	}{
		{pgChunkSizes, 0, nil},
		{pgChunkSizes, 1, []int{1}},
		{pgChunkSizes, 9, []int{8, 1}},
		{pgChunkSizes, 500, []int{256, 128, 64, 32, 16, 4}},
		{pgChunkSizes, 1025, []int{512, 512, 1}},
		{[]int{100, 10, 1}, 9, []int{1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{[]int{100, 10, 1}, 212, []int{100, 100, 10, 1, 1}},
	} {
		got := chunkPlan(tt.sizes, tt.n)
		if !slices.Equal(got, tt.want) {
			t.Errorf("chunkPlan(%v, %d) = %v, want %v", tt.sizes, tt.n, got, tt.want)
		}
		sum := 0
		for _, s := range got {
			sum += s
		}
		if sum != tt.n {
			t.Errorf("chunkPlan(%v, %d) covers %d rows", tt.sizes, tt.n, sum)
		}
	}
}
