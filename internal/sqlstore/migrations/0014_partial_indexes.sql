-- Most messages are notices (no code flow) and wait in the outbox (no
-- provider yet); most audit entries have no agent. Their empty values
-- filled three indexes with one huge run of equal keys that every insert
-- paid for — a million times over in a bulk lock rollback. The indexes now
-- hold only the rows a query looks for, and the queries say so.
DROP INDEX messages_flow;
CREATE INDEX messages_flow ON messages (flow_id, created_at) WHERE flow_id <> '';
DROP INDEX messages_provider;
CREATE INDEX messages_provider ON messages (provider, provider_id) WHERE provider <> '';
DROP INDEX audit_events_agent;
CREATE INDEX audit_events_agent ON audit_events (agent_id, id) WHERE agent_id <> '';
