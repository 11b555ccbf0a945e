package proof

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSMSPumping plays an SMS-pumping attack: many accounts ask for codes to
// foreign, premium-rate and sequential numbers. Nothing goes outside the
// allowed country (Japan), nothing to a number that is not a mobile, the
// budgets cap the rest, and the alarm fires (metric and ALARM log line).
func TestSMSPumping(t *testing.T) {
	ctx := t.Context()
	api := startSMSAPI(t)
	cfgFile := filepath.Join(t.TempDir(), "monban.yaml")
	if err := os.WriteFile(cfgFile, []byte(api.configYAML()), 0o600); err != nil {
		t.Fatal(err)
	}
	budget := scale(60, 400)
	env := map[string]string{"MONBAN_CONFIG": cfgFile, "MONBAN_SMS_BUDGET_PER_HOUR": fmt.Sprint(budget)}
	for k, v := range fastHash {
		env[k] = v
	}
	node := startNode(t, "pumping", nodeSpec{env: env})

	perKind := scale(40, 400)
	var numbers []string
	for i := range perKind {
		numbers = append(numbers,
			fmt.Sprintf("+4477009%05d", i),                // United Kingdom mobile
			fmt.Sprintf("+1202555%04d", i),                // United States
			fmt.Sprintf("0990-%03d-%03d", i/1000, i%1000), // Japanese premium rate (Dial Q2)
			fmt.Sprintf("0120-%03d-%03d", i/1000, i%1000), // toll-free
			fmt.Sprintf("090%d%07d", 1+i/200%9, i%200),    // sequential Japanese mobiles, a few ranges
		)
	}
	results := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, n := range numbers {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := newClient() // a botnet: every request from its own address
			a := c.call(ctx, "POST", node.URL+"/api/v1/accounts", "", map[string]string{
				"username": fmt.Sprintf("pump%d%s", i, uniq()), "phone": n, "password": password})
			outcome := "signup " + fmt.Sprint(a.status) + " " + problemKey(a)
			if a.status == http.StatusCreated {
				var s struct {
					Token string `json:"token"`
				}
				json_(a, &s)
				a = c.call(ctx, "POST", node.URL+"/api/v1/flows", s.Token, map[string]string{"kind": "phone"})
				outcome = "code " + fmt.Sprint(a.status) + " " + problemKey(a)
			}
			mu.Lock()
			results[outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()
	sent := results["code 201 "]
	waitFor(t, "accepted codes to reach the provider", 60*time.Second, func() bool {
		n, _ := api.counts()
		return n >= sent
	})
	got := api.destinations()
	for to := range got {
		if !strings.HasPrefix(to, "+8190") {
			t.Errorf("an SMS went to %s, outside the allowed mobiles of Japan", to)
		}
	}
	if sent > budget {
		t.Errorf("%d codes sent with an hourly budget of %d", sent, budget)
	}
	alarms, _ := metric(t, newClient(), node.URL, "monban_sms_budget_exceeded_total")
	if alarms == 0 {
		t.Errorf("monban_sms_budget_exceeded_total is 0 after the budget was spent")
	}
	if !strings.Contains(node.out.String(), "ALARM: SMS budget exceeded") {
		t.Errorf("no ALARM log line")
	}
	t.Logf("%d requests to %d foreign, premium-rate, toll-free and sequential numbers: %v", len(numbers), len(numbers), results)
	t.Logf("provider received %d SMS, all to Japanese mobiles (budget %d/h); alarm metric %v", len(got), budget, alarms)
}
