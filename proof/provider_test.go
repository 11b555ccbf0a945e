package proof

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestProviderFaults points a node at an SMTP server and an SMS API that
// hang, refuse connections, answer garbage or fail temporarily. While the
// outbox is stuck, sign-in is as fast as before; when the providers
// recover, every queued code is delivered by the retries.
func TestProviderFaults(t *testing.T) {
	for _, f := range []struct {
		name  string
		fault fault
	}{{"hang", faultHang}, {"refuse", faultRefuse}, {"garbage", faultGarbage}, {"temporary", faultTemp}} {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			testProviderFault(t, f.fault)
		})
	}
}

func testProviderFault(t *testing.T, f fault) {
	ctx := t.Context()
	sink, api := startSMTP(t), startSMSAPI(t)
	cfgFile := filepath.Join(t.TempDir(), "monban.yaml")
	if err := os.WriteFile(cfgFile, []byte(api.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MONBAN_CONFIG": cfgFile}
	for k, v := range sink.env() {
		env[k] = v
	}
	node := startNode(t, "providers", nodeSpec{env: env}) // real argon2 parameters
	c := newClient()
	acc := signUp(t, ctx, c, node.URL, "owner"+uniq(), "", phone())
	signIns := func(n int) time.Duration {
		var lat []time.Duration
		for range n {
			a := c.call(ctx, "POST", node.URL+"/api/v1/sessions", "", map[string]string{"identifier": acc.Username,
				"password": acc.Password})
			if a.status != http.StatusCreated {
				t.Fatalf("sign-in: %s", a)
			}
			lat = append(lat, a.took)
		}
		return percentile(lat, 0.5)
	}
	rounds := scale(15, 100)
	healthy := signIns(rounds)

	sink.set(f)
	api.set(f)
	const codes = 8
	for i := range codes {
		cc := newClient()
		a := signUp(t, ctx, cc, node.URL, fmt.Sprintf("q%d%s", i, uniq()), fmt.Sprintf("q%d%s@example.jp", i, uniq()), phone())
		startFlow(t, ctx, cc, node.URL, a, "email")
		startFlow(t, ctx, cc, node.URL, a, "phone")
	}
	stuck := signIns(rounds)
	sink.set(faultNone)
	api.set(faultNone)
	restored := time.Now()
	waitFor(t, "every queued code delivered once the providers recover", 90*time.Second, func() bool {
		m, _ := sink.counts()
		s, _ := api.counts()
		return m == codes && s == codes
	})
	_, mdup := sink.counts()
	_, sdup := api.counts()
	t.Logf("sign-in p50 %v healthy, %v while %d emails and %d SMS were stuck; all delivered %v after the providers recovered (%d+%d twice)",
		healthy.Round(time.Millisecond), stuck.Round(time.Millisecond), codes, codes, time.Since(restored).Round(time.Second), mdup, sdup)
	// Generous: the four faults run in parallel on a shared machine.
	if stuck > healthy*2+25*time.Millisecond {
		t.Errorf("sign-in slowed from %v to %v while the outbox was stuck", healthy, stuck)
	}
}
