package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

const (
	username   = "@Hanako_2026"
	storedName = "hanako_2026"
	email      = "Hanako@Example.JP"
	phone      = "090-1234-5678"
	shortPass  = "sakura2026"
	passphrase = "kamo river lanterns drift past midnight"
)

// TestFoundationBrowser is the foundation's person-in-a-browser scenario:
// sign up, sign out, sign in with a differently typed identifier, see and
// revoke a session from another browser, and switch language.
func TestFoundationBrowser(t *testing.T) {
	start := time.Now()
	srv := startServer(t)
	b, a := startBrowser(t, srv.URL)

	// A Japanese browser gets the Japanese sign-up page.
	a.open("/signup")
	a.expectPage("/signup", "ja", "アカウント作成")
	a.shot("signup-ja")

	// A too-short password is refused with the reason, and nothing is created.
	a.fill("#username", username)
	a.fill("#email", email)
	a.fill("#phone", phone)
	a.fill("#password", shortPass)
	a.shot("signup-short-password-typed")
	if st := a.follow("#submit"); st != http.StatusUnprocessableEntity && st != http.StatusBadRequest {
		t.Errorf("short password: status %d, want 422 or 400", st)
	}
	if got := a.text("#error"); !strings.Contains(got, "パスワードが短すぎます") || !strings.Contains(got, "15") {
		t.Errorf("short password error = %q, want the translated too-short message naming 15", got)
	}
	if got := a.value("#username"); got != username {
		t.Errorf("username after refusal = %q, want %q kept", got, username)
	}
	if got := a.value("#password"); got != "" {
		t.Errorf("password field kept %q after refusal, want empty", got)
	}
	a.shot("signup-short-password-refused")
	expectAccounts(t, srv, 0)

	a.open("/signin")
	a.fill("#identifier", storedName)
	a.fill("#password", shortPass)
	a.follow("#submit")
	if got := a.text("#error"); !strings.Contains(got, "ID またはパスワードが正しくありません") {
		t.Errorf("sign-in with the refused password: error = %q", got)
	}
	a.expectPage("/signin", "ja", "ログイン")
	a.shot("signin-nonexistent-refused")

	// Sign up for real.
	a.open("/signup")
	a.fill("#username", username)
	a.fill("#email", email)
	a.fill("#phone", phone)
	a.fill("#password", passphrase)
	a.follow("#submit")
	// A newly typed phone number is shown back before any code is sent;
	// verifying it can wait.
	a.expectPage("/verify/confirm", "ja", "コードの送信先の確認")
	if got := a.text("#destination"); got != phone {
		t.Errorf("confirm page shows %q, want the number back as typed %q", got, phone)
	}
	a.shot("confirm-phone-after-signup")
	a.open("/account")
	a.expectPage("/account", "ja", "アカウント")
	acc := expectAccounts(t, srv, 1)
	ids := a.text("#identifiers")
	for _, want := range []string{"@" + storedName, "hanako@example.jp", phone} {
		if !strings.Contains(ids, want) {
			t.Errorf("identifiers %q lack %q", ids, want)
		}
	}
	// Email and phone await verification; a username has nothing to verify.
	if n := a.count("#identifiers li .badge"); n != 2 {
		t.Errorf("verification badges = %d, want 2 (email and phone only)", n)
	}
	if n := a.count("#sessions li.session"); n != 1 {
		t.Errorf("sessions listed after sign-up = %d, want 1", n)
	}
	if got := a.text("#sessions li.session .badge.ok"); got != "このブラウザ" {
		t.Errorf("current-session badge = %q, want このブラウザ", got)
	}
	a.shot("account-after-signup")

	// Sign out, then sign in with a full-width ＠ and lower case.
	a.follow("#signout")
	a.expectPage("/signin", "ja", "ログイン")
	expectSessions(t, srv, acc, 0)
	a.shot("signed-out")
	a.open("/account")
	a.expectPage("/signin", "ja", "ログイン")

	a.fill("#identifier", "＠hanako_2026")
	a.fill("#password", passphrase)
	a.shot("signin-fullwidth-typed")
	a.follow("#submit")
	a.expectPage("/account", "ja", "アカウント")
	a.shot("account-after-signin")

	// A second browser (own cookies) signs in too.
	bb := b.newIsolatedTab("b")
	bb.open("/signin")
	bb.fill("#identifier", phone)
	bb.fill("#password", passphrase)
	bb.follow("#submit")
	bb.expectPage("/account", "ja", "アカウント")
	bb.shot("account-second-browser")
	expectSessions(t, srv, acc, 2)

	// The first browser sees both and signs the other one out.
	a.open("/account")
	if n := a.count("#sessions li.session"); n != 2 {
		t.Fatalf("sessions listed = %d, want 2", n)
	}
	if n := a.count("#sessions li.session .badge.ok"); n != 1 {
		t.Errorf("sessions marked as this browser = %d, want 1", n)
	}
	mine := a.eval(`document.querySelector("#sessions li.session:has(.badge.ok)").dataset.session`)
	a.shot("account-two-sessions")
	a.follow("#sessions li.session:not(:has(.badge.ok)) button.revoke")
	a.expectPage("/account", "ja", "アカウント")
	if n := a.count("#sessions li.session"); n != 1 {
		t.Errorf("sessions listed after revoke = %d, want 1", n)
	}
	left := expectSessions(t, srv, acc, 1)
	if left[0].ID != mine {
		t.Errorf("session left = %s, want this browser's %s", left[0].ID, mine)
	}
	a.shot("account-other-revoked")

	// The revoked browser is signed out.
	bb.open("/account")
	bb.expectPage("/signin", "ja", "ログイン")
	bb.shot("second-browser-signed-out")

	// Switch to English; the choice sticks on the next pages.
	if got := a.text("#lang-switch"); got != "English" {
		t.Errorf("language switch reads %q, want English", got)
	}
	a.follow("#lang-switch")
	a.expectPage("/account", "en", "Your account")
	if got := a.text("#sessions li.session .badge.ok"); got != "this browser" {
		t.Errorf("current-session badge in English = %q", got)
	}
	a.shot("account-en")
	a.open("/account")
	a.expectPage("/account", "en", "Your account")
	a.follow("#signout")
	a.expectPage("/signin", "en", "Sign in")
	a.shot("signed-out-en")
	expectSessions(t, srv, acc, 0)

	t.Logf("scenario took %s; screenshots in e2e/%s", time.Since(start).Round(time.Millisecond), b.dir)
}

// expectAccounts checks how many accounts hold the test username and returns
// the one there is.
func expectAccounts(t *testing.T, srv *server, want int) string {
	t.Helper()
	var accs []monban.Account
	for _, id := range []monban.Identifier{
		{Kind: monban.KindUsername, Value: storedName},
		{Kind: monban.KindEmail, Value: "hanako@example.jp"},
		{Kind: monban.KindPhone, Value: "+819012345678"},
	} {
		got, err := srv.DB.AccountsByIdentifier(t.Context(), id.Kind, id.Value)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want {
			t.Fatalf("accounts with %s %s = %d, want %d", id.Kind, id.Value, len(got), want)
		}
		accs = got
	}
	if want == 0 {
		return ""
	}
	return accs[0].ID
}

// expectSessions checks the account's live sessions in the store.
func expectSessions(t *testing.T, srv *server, accountID string, want int) []monban.Session {
	t.Helper()
	ss, err := srv.DB.SessionsByAccount(t.Context(), accountID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != want {
		t.Fatalf("live sessions in the store = %d, want %d", len(ss), want)
	}
	return ss
}
