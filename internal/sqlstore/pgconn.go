package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A database that goes away must not hang requests. Requests carry no
// deadline of their own (a sign-in may wait for a password hash), and a
// PostgreSQL server that stops answering — a partition, a stopped host, a
// stalled server — leaves database/sql waiting forever: on a query whose
// answer never comes, on a connection attempt, and then on the pool that
// those stuck calls hold. So every PostgreSQL connection is guarded:
//
//   - a connection attempt gives up after pgConnectTimeout (unless the DSN
//     sets connect_timeout);
//   - once a query is written, the server must start answering within
//     pgResponseTimeout, or the connection fails with a timeout;
//   - after such a failure the database counts as down: new connection
//     attempts fail at once, and queries on pooled connections fail at once,
//     except one probe connection per pgProbeInterval. The first probe that
//     connects marks it up again.
//
// Each failure is a net.Error, which wrap turns into EUnavailable (503).
const (
	pgConnectTimeout  = 2 * time.Second
	pgResponseTimeout = 5 * time.Second
	pgProbeInterval   = 500 * time.Millisecond
)

// pgGate remembers whether the database is down.
type pgGate struct {
	down      atomic.Bool
	mu        sync.Mutex
	lastProbe time.Time
}

// errDatabaseDown is returned while the database is known to be down.
var errDatabaseDown = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("database unavailable (recent timeouts; probing)")}

func (g *pgGate) fail() { g.down.Store(true) }

func (g *pgGate) up() { g.down.Store(false) }

// mayProbe reports whether a connection attempt may go out while down.
func (g *pgGate) mayProbe(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.lastProbe) < pgProbeInterval {
		return false
	}
	g.lastProbe = now
	return true
}

// openPostgresGuarded opens the pool with guarded connections.
func openPostgresGuarded(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	g := &pgGate{}
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		probe := g.down.Load()
		if probe && !g.mayProbe(time.Now()) {
			return nil, errDatabaseDown
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			g.fail()
			return nil, err
		}
		return &guardedConn{Conn: c, gate: g, probe: probe}, nil
	}
	return stdlib.OpenDB(*cfg), nil
}

// guardedConn fails a read that waits longer than pgResponseTimeout for the
// server after a write, and fails writes at once while the database is down
// (except on the probe connection). The server's answer marks it up.
type guardedConn struct {
	net.Conn
	gate    *pgGate
	probe   bool
	patient atomic.Bool  // waits as long as the server needs (migrating)
	mine    atomic.Int64 // the read deadline this guard set (unix ns); 0: pgx set its own
}

func (c *guardedConn) Write(b []byte) (int, error) {
	if c.patient.Load() {
		c.mine.Store(0)
		c.Conn.SetReadDeadline(time.Time{})
		return c.Conn.Write(b)
	}
	if !c.probe && c.gate.down.Load() {
		return 0, errDatabaseDown
	}
	d := time.Now().Add(pgResponseTimeout)
	c.mine.Store(d.UnixNano())
	c.Conn.SetReadDeadline(d)
	return c.Conn.Write(b)
}

func (c *guardedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.gate.up()
		// A long answer keeps coming: each part must follow the last in time.
		if c.mine.Load() != 0 {
			d := time.Now().Add(pgResponseTimeout)
			c.mine.Store(d.UnixNano())
			c.Conn.SetReadDeadline(d)
		}
	}
	var ne net.Error
	// Only this guard's deadline says the server stopped answering; pgx's
	// own (a cancelled context, a liveness check) say nothing about it.
	if errors.As(err, &ne) && ne.Timeout() {
		if mine := c.mine.Load(); mine != 0 && time.Now().UnixNano() >= mine {
			c.gate.fail()
		}
	}
	return n, err
}

func (c *guardedConn) SetDeadline(t time.Time) error {
	c.mine.Store(0)
	return c.Conn.SetDeadline(t)
}

func (c *guardedConn) SetReadDeadline(t time.Time) error {
	c.mine.Store(0)
	return c.Conn.SetReadDeadline(t)
}

// setPatient lets conn wait on the server as long as it needs, or not:
// migrating waits for another node's migration (the advisory lock) and
// may build indexes on large tables.
func setPatient(conn *sql.Conn, patient bool) error {
	return conn.Raw(func(dc any) error {
		if c, ok := dc.(*stdlib.Conn); ok {
			if g, ok := c.Conn().PgConn().Conn().(*guardedConn); ok {
				g.patient.Store(patient)
			}
		}
		return nil
	})
}
