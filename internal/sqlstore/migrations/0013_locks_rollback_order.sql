-- A rollback walks a rule's locks in force in account order (at most one
-- lock per account is in force), so that what each batch writes under
-- account-keyed indexes (locks, notices, messages, audit entries) lands
-- on neighbouring pages instead of one page per lock.
CREATE INDEX locks_rule_active_account ON locks (rule_id, account_id) WHERE lifted_at = 0;
DROP INDEX locks_rule_active;
