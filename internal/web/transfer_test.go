package web_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// Moving an account to a new device through the API, on SQLite and
// PostgreSQL: every bad input gets its own answer and changes nothing.

func (h *harness) transferPost(path, bearer string, body map[string]any, want int) map[string]any {
	h.t.Helper()
	r := h.do(request{method: "POST", path: path, bearer: bearer, json: body})
	if r.status != want {
		h.t.Fatalf("POST %s %v: %d %s, want %d", path, body, r.status, r.body, want)
	}
	if want >= 400 {
		p := r.problem(h.t)
		return map[string]any{"key": p.Key, "retry_at": p.RetryAt}
	}
	return r.object(h.t)
}

func TestTransferBindingCodeAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-old-phone-0001")
		hanako := h.register(map[string]any{"username": "hanako", "email": "hanako@example.com", "password": otherPassword})

		got := h.transferPost("/api/v1/transfers/offer", taro.Token, map[string]any{"password": otherPassword}, http.StatusUnauthorized)
		if got["key"] != "reauth.wrong_password" {
			t.Errorf("offer with a wrong password: %v", got)
		}
		offer := h.transferPost("/api/v1/transfers/offer", taro.Token, map[string]any{"password": goodPassword}, http.StatusCreated)
		code := offer["code"].(string)
		other := h.transferPost("/api/v1/transfers/offer", hanako.Token, map[string]any{"password": otherPassword}, http.StatusCreated)

		for _, tc := range []struct {
			body map[string]any
			want int
			key  string
		}{
			{map[string]any{"code": "not a code!"}, 400, "transfer.code_format"},
			{map[string]any{"code": "ZZZZZ-ZZZZZ"}, 400, "transfer.code_wrong"},
			{map[string]any{"code": code, "transfer_id": other["transfer_id"]}, 403, "transfer.code_other_account"},
			{map[string]any{"code": code, "account_id": hanako.ID}, 403, "transfer.code_other_account"},
		} {
			if got := h.transferPost("/api/v1/transfers/receive", "", tc.body, tc.want); got["key"] != tc.key {
				t.Errorf("receive %v: key %v, want %s", tc.body, got["key"], tc.key)
			}
		}
		// Wrong codes are counted and audited; nothing else changes.
		if !h.authorised(taro.Token) {
			t.Fatal("a refused code ended the old device's session")
		}

		done := h.transferPost("/api/v1/transfers/receive", "", map[string]any{"code": code, "transfer_id": offer["transfer_id"],
			"device_id": "taro-new-phone-0002"}, http.StatusCreated)
		if done["account_id"] != taro.ID || done["method"] != monban.TransferByBindingCode {
			t.Fatalf("receive: %v", done)
		}
		if h.authorised(taro.Token) {
			t.Error("the old device's session survived the move")
		}
		if !h.authorised(done["token"].(string)) {
			t.Error("the new device's session does not work")
		}
		if got := h.transferPost("/api/v1/transfers/receive", "", map[string]any{"code": code}, http.StatusConflict); got["key"] != "transfer.code_used" {
			t.Errorf("second use: %v", got)
		}
		// The other account's code still works for its owner, until it expires.
		h.clock.Advance(11 * time.Minute)
		if got := h.transferPost("/api/v1/transfers/receive", "", map[string]any{"code": other["code"]}, http.StatusBadRequest); got["key"] != "transfer.code_expired" {
			t.Errorf("expired code: %v", got)
		}
		if !h.authorised(hanako.Token) {
			t.Error("an expired code ended hanako's session")
		}
		// The host app reads the state with its API key.
		key := h.hostKey(false)
		r := h.do(request{method: "GET", path: "/api/v1/transfers/" + offer["transfer_id"].(string), bearer: key}).wantStatus(t, http.StatusOK).object(t)
		if r["state"] != "completed" || r["device_id"] != "app_taro-new-phone-0002" || r["account_id"] != taro.ID {
			t.Errorf("host view: %v", r)
		}
		h.do(request{method: "GET", path: "/api/v1/transfers/" + offer["transfer_id"].(string), bearer: taro.Token}).wantStatus(t, http.StatusUnauthorized)
		h.do(request{method: "GET", path: "/api/v1/transfers/trf_nope", bearer: key}).wantStatus(t, http.StatusNotFound)
	})
}

func TestTransferLostDeviceAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-old-phone-0001")
		h.verifyContacts(taro.ID)
		start := map[string]any{"identifier": "taro", "password": goodPassword, "device_id": "taro-new-phone-0002"}

		if got := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": otherPassword}, http.StatusUnauthorized); got["key"] != "signin.failed" {
			t.Errorf("wrong password: %v", got)
		}
		tr := h.transferPost("/api/v1/transfers", "", start, http.StatusCreated)
		id, secret := tr["id"].(string), tr["secret"].(string)
		if tr["phone"] != "090-****-5678" || tr["phone_confirmed"] != false {
			t.Errorf("started transfer: %v", tr)
		}
		base := "/api/v1/transfers/" + id
		with := func(m map[string]any) map[string]any { m["secret"] = secret; return m }

		// The password alone is never enough.
		for _, tc := range []struct {
			path string
			body map[string]any
			want int
			key  string
		}{
			{base + "/verify", map[string]any{"method": "grant"}, 400, "transfer.phone_first"},
			{base + "/code", map[string]any{"way": "sms"}, 400, "transfer.phone_first"},
			{base + "/phone", map[string]any{"phone": "090-1234-5679", "method": "confirm"}, 400, "transfer.phone_mismatch"},
			{base + "/phone", map[string]any{"phone": "12"}, 400, "transfer.phone_invalid"},
			{base, map[string]any{"secret": "wrong"}, 401, "transfer.invalid"},
		} {
			body := tc.body
			if _, ok := body["secret"]; !ok {
				body = with(body)
			}
			if got := h.transferPost(tc.path, "", body, tc.want); got["key"] != tc.key {
				t.Errorf("%s %v: %v, want %s", tc.path, tc.body, got["key"], tc.key)
			}
		}
		typo := h.transferPost(base+"/phone", "", with(map[string]any{"phone": "080-1234-5678"}), http.StatusOK)
		if typo["matches"] != false || typo["typed"] != "080-1234-5678" {
			t.Errorf("typo shown back: %v", typo)
		}
		if n := h.countMessages("+818012345678", "code.transfer"); n != 0 {
			t.Errorf("the mistyped number got %d messages", n)
		}
		h.transferPost(base+"/phone", "", with(map[string]any{"phone": "09012345678", "method": "confirm"}), http.StatusOK)
		if got := h.transferPost(base+"/verify", "", with(map[string]any{"method": "grant"}), http.StatusNotFound); got["key"] != "grant.none" {
			t.Errorf("no grant: %v", got)
		}
		if got := h.transferPost(base+"/verify", "", with(map[string]any{"method": "code", "code": "123456"}), http.StatusBadRequest); got["key"] != "transfer.no_code_sent" {
			t.Errorf("verify before a code was sent: %v", got)
		}
		if st := h.transferPost(base, "", with(map[string]any{}), http.StatusOK); st["state"] != "pending" {
			t.Errorf("status before any proof: %v", st)
		}

		// A second device cannot start while this one is open.
		busy := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
			"device_id": "someone-else-0003"}, http.StatusConflict)
		if busy["key"] != "transfer.in_progress" || busy["retry_at"] == nil {
			t.Errorf("second start: %v", busy)
		}

		// The attempt limit: three codes in any 24 hours, then the time the
		// first leaves the window (rolling, to the minute).
		first := h.clock.Now()
		for i := range 3 {
			h.transferPost(base+"/code", "", with(map[string]any{"way": "sms"}), http.StatusAccepted)
			if i == 0 {
				if got := h.transferPost(base+"/code", "", with(map[string]any{"way": "sms"}), http.StatusTooManyRequests); got["key"] != "code.resend_cooldown" {
					t.Errorf("second press within the cooldown: %v", got)
				}
			}
			h.clock.Advance(31 * time.Second)
		}
		limited := h.transferPost(base+"/code", "", with(map[string]any{"way": "sms"}), http.StatusTooManyRequests)
		reset := first.Truncate(time.Minute).Add(24 * time.Hour)
		if limited["key"] != "transfer.attempts" || !limited["retry_at"].(*time.Time).Equal(reset) {
			t.Errorf("fourth code: %v, want transfer.attempts at %v", limited, reset)
		}
		st := h.transferPost(base, "", with(map[string]any{}), http.StatusOK)
		if st["attempts_reset_at"] == nil || st["support_url"] != "/support/new?category=transfer" {
			t.Errorf("status past the limit: %v", st)
		}

		code := h.sentCode("+819012345678", "code.transfer")
		done := h.transferPost(base+"/verify", "", with(map[string]any{"method": "code", "code": code}), http.StatusCreated)
		if done["method"] != monban.TransferByCode {
			t.Errorf("done: %v", done)
		}
		if h.authorised(taro.Token) {
			t.Error("the lost phone's session survived")
		}
		if got := h.transferPost(base+"/verify", "", with(map[string]any{"method": "code", "code": code}), http.StatusConflict); got["key"] != "transfer.completed" {
			t.Errorf("after completion: %v", got)
		}
	})
}

func TestTransferApprovalAndGuardAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-old-phone-0001")
		h.verifyContacts(taro.ID)
		pc := h.do(request{method: "POST", path: "/api/v1/sessions", json: map[string]any{"identifier": "taro",
			"password": goodPassword, "device_id": "taro-old-phone-0001"}}).wantStatus(t, http.StatusCreated)
		pcTok := accountOf(t, pc).Token
		// The registered number became a landline the SMS guard refuses.
		h.exec("UPDATE identifiers SET value = ? WHERE account_id = ? AND kind = 'phone'", "+81312345678", taro.ID)

		tr := h.transferPost("/api/v1/transfers", "", map[string]any{"identifier": "taro", "password": goodPassword,
			"device_id": "taro-new-phone-0002"}, http.StatusCreated)
		base, secret := "/api/v1/transfers/"+tr["id"].(string), tr["secret"].(string)
		with := func(m map[string]any) map[string]any { m["secret"] = secret; return m }
		chk := h.transferPost(base+"/phone", "", with(map[string]any{"phone": "03-1234-5678", "method": "confirm"}), http.StatusOK)
		refused, _ := chk["sms_refused"].(map[string]any)
		if chk["matches"] != true || refused["key"] != "phone.not_mobile" {
			t.Errorf("guard refusal shown back: %v", chk)
		}
		if got := h.transferPost(base+"/code", "", with(map[string]any{"way": "sms"}), http.StatusBadRequest); got["key"] != "phone.not_mobile" {
			t.Errorf("send to a refused number: %v", got)
		}

		// The other signed-in sessions see the prompt.
		r := h.do(request{method: "GET", path: "/api/v1/approvals", bearer: pcTok}).wantStatus(t, http.StatusOK).object(t)
		ps, _ := r["approvals"].([]any)
		if len(ps) != 1 || ps[0].(map[string]any)["reason"] != monban.HoldTransfer {
			t.Fatalf("approvals on the PC: %v", r)
		}
		pid := ps[0].(map[string]any)["id"].(string)
		// A stale session (signed out) cannot approve; another account's cannot see it.
		hanako := h.register(map[string]any{"username": "hanako", "email": "hanako@example.com", "password": otherPassword})
		h.do(request{method: "POST", path: "/api/v1/approvals/" + pid, bearer: hanako.Token, json: map[string]any{"decision": "approve"}}).
			wantStatus(t, http.StatusNotFound)
		h.do(request{method: "DELETE", path: "/api/v1/session", bearer: taro.Token}).wantStatus(t, http.StatusNoContent)
		h.do(request{method: "POST", path: "/api/v1/approvals/" + pid, bearer: taro.Token, json: map[string]any{"decision": "approve"}}).
			wantStatus(t, http.StatusUnauthorized)
		if st := h.transferPost(base, "", with(map[string]any{}), http.StatusOK); st["approval"] != "pending" {
			t.Errorf("after refused approvals: %v", st)
		}
		h.do(request{method: "POST", path: "/api/v1/approvals/" + pid, bearer: pcTok, json: map[string]any{"decision": "approve"}}).
			wantStatus(t, http.StatusNoContent)
		done := h.transferPost(base, "", with(map[string]any{}), http.StatusCreated)
		if done["method"] != monban.TransferByApproval {
			t.Errorf("done: %v", done)
		}
		if !h.authorised(pcTok) {
			t.Error("the approving session was signed out")
		}
	})
}

// TestTransferParallelStarts: two devices start a transfer of one account
// at the same moment; one wins, the other is told one is in progress.
func TestTransferParallelStarts(t *testing.T) {
	eachDB(t, func(t *testing.T, h *harness) {
		taro := registerTaroOn(h, "taro-old-phone-0001")
		h.verifyContacts(taro.ID)
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, dev := range []string{"new-phone-a-0001", "new-phone-b-0002"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = h.do(request{method: "POST", path: "/api/v1/transfers", json: map[string]any{"identifier": "taro",
					"password": goodPassword, "device_id": dev}}).status
			}()
		}
		wg.Wait()
		created, conflict := 0, 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflict++
			}
		}
		if created != 1 || conflict != 1 {
			t.Errorf("parallel starts answered %v, want one 201 and one 409", statuses)
		}
	})
}
