// Package notices owns what monban tells a person apart from codes: a lock,
// an unlock, a sign-in from a new device, a changed contact, factor or
// password, a support case update, a completed transfer. Each notice gets a
// reference code, is kept in the account's message center, and travels by
// email (and SMS for the topics that warrant it) through the outbox, its
// parameters and reference sealed in each message. Security notices carry
// no sign-in links: they tell the person to open the app or type the
// address themselves, and how to check the reference on the public page.
package notices
