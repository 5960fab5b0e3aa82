package main

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
)

// sizeClass is a share of the records whose payload sizes are uniform in [lo, hi].
type sizeClass struct {
	share  float64
	lo, hi int
}

// ingestClasses: 0 B to 3 MiB, mean about 5.7 KB. Expected mean 5,593 B; with the
// default seed 1 and 20,000 records the realized mean is 5,733 B (the 3 MiB maximum is
// always in). Mostly small records, a long tail of large ones, as application logs are.
var ingestClasses = []sizeClass{
	{0.02, 0, 0},
	{0.551, 1, 1 << 10},
	{0.30, 1<<10 + 1, 8 << 10},
	{0.125, 8<<10 + 1, 32 << 10},
	{0.0035, 32<<10 + 1, 256 << 10},
	{0.0005, 256<<10 + 1, 3 << 20},
}

// catchupClasses: 0 B to 128 KiB, mean about 1.4 KB (expected 1,434 B; 1,439 B realized
// with the default seed, 130,000 records).
var catchupClasses = []sizeClass{
	{0.02, 0, 0},
	{0.60, 1, 512},
	{0.30, 513, 2 << 10},
	{0.075, 2<<10 + 1, 12 << 10},
	{0.005, 12<<10 + 1, 128 << 10},
}

// sizes draws n sizes stratified over the classes (each class gets its share of n,
// rounded by largest remainder, so the realized mix does not depend on luck), uniform
// within a class, then shuffles them; the largest class's first record is its maximum,
// so the largest size is always in the set when the class is. Deterministic for a seed.
func sizes(classes []sizeClass, n int, rng *rand.Rand) []int {
	counts := make([]int, len(classes))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	total := 0
	for i, c := range classes {
		x := c.share * float64(n)
		counts[i] = int(x)
		total += counts[i]
		rems = append(rems, rem{i, x - float64(counts[i])})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for k := 0; total < n; k++ {
		counts[rems[k%len(rems)].i]++
		total++
	}
	out := make([]int, 0, n)
	for i, c := range classes {
		for j := 0; j < counts[i]; j++ {
			s := c.lo + rng.Intn(c.hi-c.lo+1)
			if j == 0 && i == len(classes)-1 {
				s = c.hi
			}
			out = append(out, s)
		}
	}
	rng.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

// corpus is pseudo application-log text (JSON lines from a small vocabulary with random
// numbers): payloads are slices of it, so they compress about as well as real logs and
// cost nothing to produce.
func corpus(size int, rng *rand.Rand) []byte {
	words := strings.Fields("order user payment refund cart item stock warehouse shipped delivered " +
		"timeout retry error warning info debug cache miss hit db query slow request response " +
		"订单 用户 支付 库存 发货 成功 失败 超时")
	levels := []string{"info", "info", "info", "warning", "error", "debug"}
	var b strings.Builder
	b.Grow(size + 512)
	for b.Len() < size {
		fmt.Fprintf(&b, `{"ts":"2026-11-%02d %02d:%02d:%02d.%03d","level":"%s","svc":"svc-%d","uid":%d,"trace":"%016x","msg":"`,
			1+rng.Intn(28), rng.Intn(24), rng.Intn(60), rng.Intn(60), rng.Intn(1000),
			levels[rng.Intn(len(levels))], rng.Intn(40), rng.Intn(10_000_000), rng.Uint64())
		for w := 3 + rng.Intn(25); w > 0; w-- {
			b.WriteString(words[rng.Intn(len(words))])
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, `","cost_ms":%d}`+"\n", rng.Intn(5000))
	}
	return []byte(b.String()[:size])
}

// payloads slices the corpus (no copies) for the given sizes.
func payloads(text []byte, sz []int, rng *rand.Rand) [][]byte {
	out := make([][]byte, len(sz))
	for i, s := range sz {
		off := rng.Intn(len(text) - s + 1)
		out[i] = text[off : off+s : off+s]
	}
	return out
}

type sizeSummary struct {
	n          int
	total      int64
	min, max   int
	p50, p99   int
	mean       float64
	classCount []int
}

func summarize(sz []int, classes []sizeClass) sizeSummary {
	s := sizeSummary{n: len(sz), classCount: make([]int, len(classes))}
	if len(sz) == 0 {
		return s
	}
	sorted := append([]int(nil), sz...)
	sort.Ints(sorted)
	for _, x := range sz {
		s.total += int64(x)
		for i, c := range classes {
			if x >= c.lo && x <= c.hi {
				s.classCount[i]++
				break
			}
		}
	}
	s.min, s.max = sorted[0], sorted[len(sorted)-1]
	s.p50, s.p99 = sorted[len(sorted)/2], sorted[len(sorted)*99/100]
	s.mean = float64(s.total) / float64(len(sz))
	return s
}

func (s sizeSummary) String() string {
	return fmt.Sprintf("%d records, %s in all, mean %.0f B (%.2f KB), min %d B, p50 %d B, p99 %d B, max %d B",
		s.n, human(s.total), s.mean, s.mean/1000, s.min, s.p50, s.p99, s.max)
}

func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func describeClasses(classes []sizeClass) string {
	var parts []string
	for _, c := range classes {
		if c.lo == c.hi {
			parts = append(parts, fmt.Sprintf("%.2f%% %d B", c.share*100, c.lo))
		} else {
			parts = append(parts, fmt.Sprintf("%.2f%% %d-%d B", c.share*100, c.lo, c.hi))
		}
	}
	return strings.Join(parts, ", ")
}
