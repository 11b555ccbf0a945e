package monban_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monban-dev/monban"
)

// TestSentinelErrors: errors.Is matches a domain error by code and key,
// however it was built (field, params, retry time, cause) and wrapped, and
// never another key or code.
func TestSentinelErrors(t *testing.T) {
	built := monban.Errorf(monban.EInvalid, "code.wrong").WithField("code").
		WithParams(map[string]any{"remaining": 2}).Wrap(errors.New("cause"))
	for _, c := range []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"built with field and params", built, monban.ErrCodeWrong, true},
		{"wrapped", fmt.Errorf("verify: %w", built), monban.ErrCodeWrong, true},
		{"rate limited has a retry time", monban.RateLimited("code.wrong", time.Unix(0, 0)), monban.ErrCodeWrong, false},
		{"same key, other code", monban.Errorf(monban.EConflict, "code.wrong"), monban.ErrCodeWrong, false},
		{"other key", monban.Errorf(monban.EConflict, "lock.exists"), monban.ErrLockBreakerOpen, false},
		{"lock exists", monban.Errorf(monban.EConflict, "lock.exists"), monban.ErrLockExists, true},
		{"not a domain error", errors.New("code.wrong"), monban.ErrCodeWrong, false},
		{"nil", nil, monban.ErrCodeWrong, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(c.err, c.target); got != c.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", c.err, c.target, got, c.want)
			}
		})
	}
}

// TestNoDecisionsOnMessageKeys: code outside tests never branches on an
// i18n message key (`e.Key == "code.wrong"`); it compares sentinels with
// errors.Is, so a reworded message cannot change what the code does.
func TestNoDecisionsOnMessageKeys(t *testing.T) {
	keyCompare := regexp.MustCompile(`\.Key\s*[!=]=\s*"`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "storetest" || d.Name() == "e2e" || d.Name() == "proof" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir // test support: assertions, not decisions
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if keyCompare.MatchString(line) {
				t.Errorf("%s:%d decides on a message key: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
