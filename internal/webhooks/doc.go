// Package webhooks owns telling host apps what happened: subscriptions per
// API key, and a worker that posts each event from the durable delivery
// queue, signed with HMAC-SHA256 over the event id, a timestamp and the
// body, retrying with capped, jittered backoff until the retries run out
// (then a host app lists the failed deliveries and redelivers). Receivers
// verify with Verify, which refuses stale timestamps (the replay window),
// and deduplicate on the event id that every retry repeats.
package webhooks
