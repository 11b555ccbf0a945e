package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBenchJSON: "monban bench --json" prints one object per scenario and
// concurrency with the fields docs/benchmarks.md reads (a scenario, its
// rate and latency, the in-run reference and the ratio between them), with
// no errors on either side; on PostgreSQL each row names the server's
// settings. It checks the harness, not the speed: the rounds are a fraction
// of a second.
func TestBenchJSON(t *testing.T) {
	dbs := map[string]string{"sqlite": ""}
	if dsn := os.Getenv("MONBAN_TEST_POSTGRES"); dsn != "" {
		dbs["postgres"] = dsn
	}
	for name, dsn := range dbs {
		t.Run(name, func(t *testing.T) {
			args := []string{"bench", "--json", "--rounds", "1", "--duration", "300ms", "--concurrency", "2"}
			if dsn != "" {
				args = append(args, "--postgres", dsn)
			}
			var out, log bytes.Buffer
			if err := run(context.Background(), append(args, "login", "whoami"), strings.NewReader(""), &out, &log,
				func(string) string { return "" }); err != nil {
				t.Fatalf("bench: %v\n%s", err, log.String())
			}
			seen := map[string]bool{}
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				var row map[string]any
				if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
					t.Fatalf("not one JSON object per line: %q: %v", sc.Text(), err)
				}
				for _, k := range []string{"scenario", "database", "concurrency", "ops_per_sec", "p50_ms", "p99_ms",
					"reference", "reference_ops_per_sec", "ratio", "round_ratios", "errors", "reference_errors", "pass"} {
					if _, ok := row[k]; !ok {
						t.Errorf("%v: no %q", row["scenario"], k)
					}
				}
				if row["database"] != name || row["errors"] != 0.0 || row["reference_errors"] != 0.0 {
					t.Errorf("%v on %v: errors %v / %v", row["scenario"], row["database"], row["errors"], row["reference_errors"])
				}
				if ops, ratio := row["ops_per_sec"].(float64), row["ratio"].(float64); ops <= 0 || ratio <= 0 {
					t.Errorf("%v: %v ops/s, ratio %v", row["scenario"], ops, ratio)
				}
				srv, _ := row["server"].(map[string]any)
				if _, ok := srv["shared_buffers"]; ok != (name == "postgres") {
					t.Errorf("%v: server settings %v on %s", row["scenario"], row["server"], name)
				}
				seen[row["scenario"].(string)] = true
			}
			if !seen["login"] || !seen["whoami"] {
				t.Fatalf("scenarios printed: %v\n%s", seen, log.String())
			}
		})
	}
}
