// Package delivery owns getting messages to people: the outbox worker that
// claims queued messages, renders them (ja/en), hands them to a channel
// sender and retries with backoff; the senders for email (SMTP), SMS and
// voice (Kannel, a configurable HTTP provider) and the dev outbox; and the
// delivery receipts that move a message from sent to delivered or failed.
package delivery
