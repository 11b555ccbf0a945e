package identifier

import "strings"

// carriers maps Japanese carrier mail domains to the carrier's name. Their
// mail services often refuse senders the person has not allowed (seed 001),
// so pages warn before the first code goes to such an address.
var carriers = map[string]string{
	"docomo.ne.jp":    "docomo",
	"ezweb.ne.jp":     "au",
	"au.com":          "au",
	"biz.ezweb.ne.jp": "au",
	"softbank.ne.jp":  "SoftBank",
	"i.softbank.jp":   "SoftBank",
	"disney.ne.jp":    "SoftBank",
	"ymobile.ne.jp":   "Y!mobile",
	"yahoo.ne.jp":     "Y!mobile",
	"uqmobile.jp":     "UQ mobile",
	"rakumail.jp":     "Rakuten Mobile",
	"willcom.com":     "Y!mobile",
	"pdx.ne.jp":       "Y!mobile",
}

// Carrier returns the carrier whose mail service hosts email, if any.
// Subdomains such as "xx.pdx.ne.jp" count.
func Carrier(email string) (string, bool) {
	_, domain, ok := strings.Cut(strings.ToLower(email), "@")
	if !ok {
		return "", false
	}
	for d := domain; d != ""; {
		if c, ok := carriers[d]; ok {
			return c, true
		}
		_, rest, found := strings.Cut(d, ".")
		if !found {
			break
		}
		d = rest
	}
	return "", false
}
