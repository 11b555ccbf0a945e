# make test: the whole suite from a fresh clone (scripts/test installs and
# starts what it needs: Chromium, Kannel, a private PostgreSQL cluster).
# make check: formatting, vet and staticcheck.
.PHONY: test check
test:
	scripts/test

check:
	test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	go vet ./...
	GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.7.0
	"$$(go env GOPATH)/bin/staticcheck" ./...
