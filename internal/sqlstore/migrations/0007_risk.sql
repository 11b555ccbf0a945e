-- Risk signals, their pre-aggregated buckets, rule decisions, circuit
-- breakers and locks (issue 5).

-- Raw signals, kept for the retention period as evidence and for
-- "monban rules check". Rules never scan them: they read risk_buckets.
CREATE TABLE risk_signals (
	id         {{autoid}},
	at         BIGINT NOT NULL,
	account_id TEXT NOT NULL,
	type       TEXT NOT NULL,
	ip         TEXT NOT NULL DEFAULT '',
	device_id  TEXT NOT NULL DEFAULT '',
	phone      TEXT NOT NULL DEFAULT '',
	amount     BIGINT NOT NULL DEFAULT 0,
	currency   TEXT NOT NULL DEFAULT '',
	instrument TEXT NOT NULL DEFAULT '',
	attrs      TEXT -- JSON object, NULL when empty
);
CREATE INDEX risk_signals_account ON risk_signals (account_id, at);
CREATE INDEX risk_signals_at ON risk_signals (at);

-- Counts and sums per subject ("a:" account, "d:" device, "i:" IP, "p:"
-- phone), signal type and filter ("" or "instrument=gift_card",
-- "currency=JPY"), in buckets of res seconds (60, 3600 or 86400) starting
-- at start (unix microseconds). A windowed count is a short range read.
CREATE TABLE risk_buckets (
	subject TEXT NOT NULL,
	res     INTEGER NOT NULL,
	start   BIGINT NOT NULL,
	type    TEXT NOT NULL,
	filter  TEXT NOT NULL,
	n       BIGINT NOT NULL,
	total   BIGINT NOT NULL,
	PRIMARY KEY (subject, res, start, type, filter)
);

-- What rules decided: every match, enforced or in shadow mode.
CREATE TABLE risk_decisions (
	id           {{autoid}},
	at           BIGINT NOT NULL,
	account_id   TEXT NOT NULL,
	rule_id      TEXT NOT NULL,
	rule_version TEXT NOT NULL,
	action       TEXT NOT NULL,
	shadow       BOOLEAN NOT NULL,
	signal_type  TEXT NOT NULL
);
CREATE INDEX risk_decisions_rule ON risk_decisions (rule_id, rule_version, at);

-- A tripped circuit breaker puts one version of a rule in shadow mode on
-- every node until a new version of the rules file is loaded.
CREATE TABLE risk_breakers (
	rule_id      TEXT NOT NULL,
	rule_version TEXT NOT NULL,
	tripped_at   BIGINT NOT NULL,
	locks        BIGINT NOT NULL,
	baseline     TEXT NOT NULL,
	PRIMARY KEY (rule_id, rule_version)
);

CREATE TABLE locks (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL,
	kind         TEXT NOT NULL,
	category     TEXT NOT NULL,
	rule_id      TEXT NOT NULL,
	rule_version TEXT NOT NULL,
	evidence     TEXT NOT NULL,
	ways_out     TEXT NOT NULL, -- comma-separated
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	lifted_at    BIGINT NOT NULL DEFAULT 0,
	lifted_by    TEXT NOT NULL DEFAULT '',
	lifted_how   TEXT NOT NULL DEFAULT ''
);
-- At most one lock in force (not lifted) per account.
CREATE UNIQUE INDEX locks_active ON locks (account_id) WHERE lifted_at = 0;
-- Rollback walks a rule's locks in force in id order.
CREATE INDEX locks_rule_active ON locks (rule_id, id) WHERE lifted_at = 0;
-- The breaker counts a rule's recent locks.
CREATE INDEX locks_rule_created ON locks (rule_id, created_at);
CREATE INDEX locks_account ON locks (account_id, created_at);
