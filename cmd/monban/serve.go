package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/monban-dev/monban"
	"github.com/monban-dev/monban/internal/node"
	"github.com/monban-dev/monban/internal/web"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	log := node.NewLogger(stderr, cfg.LogLevel)
	a, err := node.New(ctx, cfg, log, monban.SystemClock{})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	if cfg.Dev {
		log.Warn("DEVELOPMENT MODE: dev outbox on, cookies without Secure — never use in production")
	}
	// Background work (the outbox worker) stops with the server and finishes
	// the sends in flight before the process exits.
	bg, stopBg := context.WithCancel(context.Background())
	bgDone := make(chan error, 1)
	go func() { bgDone <- a.Run(bg) }()
	defer func() { stopBg(); <-bgDone }()
	fmt.Fprintf(stdout, "monban serving on %s://%s\n", scheme, ln.Addr())
	if cfg.Dev {
		fmt.Fprintf(stdout, "dev outbox: %s://%s/dev/outbox\n", scheme, ln.Addr())
	}
	log.Info("serving", "addr", ln.Addr().String(), "database", a.DB.Dialect(), "dev", cfg.Dev)
	return serveUntil(ctx, web.NewHTTPServer(a.Web.Handler()), ln, cfg)
}

// serveUntil serves until ctx ends, then shuts down gracefully: in-flight
// requests get up to 20 seconds to finish.
func serveUntil(ctx context.Context, srv *http.Server, ln net.Listener, cfg node.Config) error {
	errc := make(chan error, 1)
	if cfg.TLSCert != "" {
		// TLS is terminated here rather than by ServeTLS so that the framing
		// check sees the plain text (HTTP/1.1 only).
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	}
	go func() { errc <- srv.Serve(web.FramingListener(ln)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func cmdMigrate(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cf.load(getenv)
	if err != nil {
		return err
	}
	db, err := node.OpenStore(ctx, cfg, monban.SystemClock{})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "migrated %s database\n", db.Dialect())
	return nil
}
