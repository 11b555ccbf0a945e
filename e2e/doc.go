// Package e2e holds monban's browser scenarios: each test starts a real node
// in-process on SQLite, serves it on a loopback port and drives Debian's
// Chromium through it with chromedp, asserting on what a person sees and on
// what the store recorded. Every step saves a full-page screenshot under
// e2e/screenshots/<TestName>/ (git-ignored) for review and as a CI artifact.
//
// Chromium comes from CHROMIUM_PATH or from PATH (/usr/bin/chromium). A
// missing browser fails the suite; set MONBAN_SKIP_BROWSER=1 to skip it on
// purpose.
package e2e
