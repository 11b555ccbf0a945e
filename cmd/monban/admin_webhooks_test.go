package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
)

// admin runs "monban admin ARGS… --data dir" and returns its output.
func admin(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	args = append(append([]string{"admin"}, args...), "--data", dir)
	err := run(context.Background(), args, strings.NewReader(""), &out, &out, func(string) string { return "" })
	return out.String(), err
}

func mustAdmin(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := admin(t, dir, args...)
	if err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, out)
	}
	return out
}

func field(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %s in\n%s", name, out)
	}
	return m[1]
}

// TestAdminWebhooksAndAudit drives the operator commands on a SQLite data
// directory: admin API keys, webhook subscriptions, failed deliveries and
// their redelivery, and the audit export.
func TestAdminWebhooksAndAudit(t *testing.T) {
	dir := t.TempDir()
	shop := field(t, mustAdmin(t, dir, "apikeys", "create", "--name", "shop"), "id")
	ops := field(t, mustAdmin(t, dir, "apikeys", "create", "--name", "ops", "--admin"), "id")

	out := mustAdmin(t, dir, "webhooks", "add", "--key", shop, "--url", "https://shop.example/hooks",
		"--events", "account.registered, account.locked")
	sub, secret := field(t, out, "id"), field(t, out, "secret")
	if !strings.HasPrefix(secret, "whsec_") || field(t, out, "events") != "account.locked,account.registered" {
		t.Errorf("add:\n%s", out)
	}
	for _, bad := range [][]string{
		{"webhooks", "add", "--url", "https://x.example", "--events", "account.locked"},
		{"webhooks", "add", "--key", shop, "--url", "ftp://x.example", "--events", "account.locked"},
		{"webhooks", "add", "--key", shop, "--url", "https://x.example", "--events", "account.deleted"},
		{"webhooks", "remove"},
		{"webhooks", "frobnicate"},
		{"audit", "export"},
		{"audit", "export", "--since", "2026-04-01T00:00:00Z", "--until", "2026-03-01T00:00:00Z"},
	} {
		if out, err := admin(t, dir, bad...); err == nil {
			t.Errorf("%v accepted:\n%s", bad, out)
		}
	}
	if out := mustAdmin(t, dir, "webhooks", "list"); !strings.Contains(out, sub) || !strings.Contains(out, "https://shop.example/hooks") ||
		strings.Contains(out, secret) {
		t.Errorf("list:\n%s", out)
	}
	if out := mustAdmin(t, dir, "webhooks", "list", "--key", ops); strings.Contains(out, sub) {
		t.Errorf("another key's list:\n%s", out)
	}

	// A delivery whose retries ran out, made through the store.
	ctx := context.Background()
	cfg := node.DefaultConfig()
	cfg.Data = dir
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ev := &monban.WebhookEvent{ID: monban.NewID("evt"), Type: monban.EventAccountLocked, AccountID: "acc_1", CreatedAt: now}
	if err := db.EmitWebhookEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ds, err := db.ClaimWebhookDeliveries(ctx, now, time.Minute, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim: %d %v", len(ds), err)
	}
	if _, err := db.MarkWebhookFailed(ctx, ds[0].ID, "HTTP 503", now); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if out := mustAdmin(t, dir, "webhooks", "failed"); !strings.Contains(out, ds[0].ID) || !strings.Contains(out, "HTTP 503") {
		t.Errorf("failed:\n%s", out)
	}
	if _, err := admin(t, dir, "webhooks", "redeliver", ds[0].ID, "--key", ops); err == nil {
		t.Error("another key redelivered")
	}
	mustAdmin(t, dir, "webhooks", "redeliver", ds[0].ID, "--key", shop)
	if _, err := admin(t, dir, "webhooks", "redeliver", ds[0].ID); err == nil {
		t.Error("a queued delivery redelivered")
	}
	if out := mustAdmin(t, dir, "webhooks", "failed"); strings.Contains(out, ds[0].ID) {
		t.Errorf("still failed:\n%s", out)
	}
	mustAdmin(t, dir, "webhooks", "remove", sub)
	if out := mustAdmin(t, dir, "webhooks", "list"); !regexp.MustCompile(sub + `.*\d{4}-\d\d-\d\dT.*Z\s+\d{4}-`).MatchString(out) {
		t.Errorf("removed subscription not marked:\n%s", out)
	}

	// Audit export: JSON lines of the range, the admin key marked.
	out = mustAdmin(t, dir, "audit", "export", "--since", now.Add(-time.Hour).Format(time.RFC3339))
	var lines []auditJSON
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l auditJSON
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 || lines[0].Action != monban.AuditAPIKeyCreated || lines[1].Detail["admin"] != "true" || lines[1].Detail["key_id"] != ops {
		t.Errorf("export:\n%s", out)
	}
	if out := mustAdmin(t, dir, "audit", "export", "--since", now.Add(-time.Hour).Format(time.RFC3339), "--account", "acc_nobody"); out != "" {
		t.Errorf("another account's export:\n%s", out)
	}
	if out := mustAdmin(t, dir, "audit", "export", "--since", now.Add(time.Hour).Format(time.RFC3339)); out != "" {
		t.Errorf("a future range:\n%s", out)
	}
}
