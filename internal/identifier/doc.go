// Package identifier normalises, validates, classifies and masks the
// identifiers people sign in with: usernames, email addresses and phone
// numbers (SPEC §4.1, seeds 001 and 004).
//
// Every input is NFKC-normalised first, so full-width text typed with a
// Japanese IME ("＠ｔａｒｏ", "０９０－１２３４－５６７８") means the same as its
// half-width form, and trimmed of surrounding white space including the
// ideographic space U+3000. Phone numbers are parsed with Japan as the default
// region and stored in E.164 ("+819012345678").
//
// Errors are *monban.Error values with Code EInvalid and one of the message
// keys username.invalid, username.length, username.digits, email.invalid, phone.invalid,
// phone.not_mobile and identifier.required.
package identifier
