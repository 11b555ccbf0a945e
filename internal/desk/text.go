package desk

import "strings"

// The desk writes a few texts itself, in the person's language, because
// they are stored in the case's thread and mailed as they were written:
// the status and category names, and the reply templates agents pick.

var labels = map[string]map[string]string{
	"ja": {
		"status.open": "対応中", "status.waiting": "お客様からのご返信待ち", "status.resolved": "解決済み", "status.closed": "終了",
		"category.locked": "アカウントがロック・停止された", "category.code_not_arriving": "確認コードが届かない",
		"category.transfer": "機種変更・引き継ぎ", "category.takeover": "乗っ取られた", "category.cant_sign_in": "ログインできない",
	},
	"en": {
		"status.open": "being handled", "status.waiting": "waiting for your reply", "status.resolved": "resolved", "status.closed": "closed",
		"category.locked": "account locked or suspended", "category.code_not_arriving": "code not arriving",
		"category.transfer": "moving to a new phone", "category.takeover": "account taken over", "category.cant_sign_in": "can't sign in",
	},
}

// Flows are the places a person can ask for help from (the "None of these
// work" box on every failure page says which one); FailedChannels the
// channels that can have failed them there.
var Flows = []string{"signup", "signin", "signin_new_device", "login_help", "locked", "contact_change", "transfer", "limit", "error"}

// FailedChannels are the channels a request can name as failed.
var FailedChannels = []string{"sms", "voice", "email"}

var contextLabels = map[string]map[string]string{
	"ja": {
		"flow.signup": "登録時の確認コード", "flow.signin": "2段階認証でのログイン", "flow.signin_new_device": "新しい端末からのログインの確認",
		"flow.login_help": "ログインできない場合の手続き", "flow.locked": "ロックされたアカウント", "flow.contact_change": "連絡先の変更",
		"flow.transfer": "新しい端末への引き継ぎ", "flow.limit": "回数の上限", "flow.error": "拒否された操作",
		"channel.sms": "SMS", "channel.voice": "音声通話", "channel.email": "メール",
		"where": "状況", "failed": "届かなかった経路",
	},
	"en": {
		"flow.signup": "code at sign-up", "flow.signin": "2-step verification at sign-in", "flow.signin_new_device": "new-device check at sign-in",
		"flow.login_help": "sign-in help", "flow.locked": "locked account", "flow.contact_change": "changing a contact",
		"flow.transfer": "moving to a new device", "flow.limit": "a limit on tries", "flow.error": "a refused step",
		"channel.sms": "SMS", "channel.voice": "voice call", "channel.email": "email",
		"where": "Where", "failed": "Did not arrive by",
	},
}

// ContextLabel names a flow ("flow.signin") or channel ("channel.sms") in lang.
func ContextLabel(lang, key string) string {
	if v, ok := contextLabels[langOf(lang)][key]; ok {
		return v
	}
	return key
}

// Context is the line a request starts with when the person came from a
// failure page: "状況: 2段階認証でのログイン · 届かなかった経路: SMS".
func Context(lang, flow, failed string) string {
	var parts []string
	if flow != "" {
		parts = append(parts, ContextLabel(lang, "where")+": "+ContextLabel(lang, "flow."+flow))
	}
	if failed != "" {
		parts = append(parts, ContextLabel(lang, "failed")+": "+ContextLabel(lang, "channel."+failed))
	}
	return strings.Join(parts, " · ")
}

// Label returns the name of a status ("status.open") or category
// ("category.locked") in lang (Japanese unless "en").
func Label(lang, key string) string {
	if v, ok := labels[langOf(lang)][key]; ok {
		return v
	}
	return key
}

func langOf(l string) string {
	if strings.HasPrefix(strings.ToLower(l), "en") {
		return "en"
	}
	return "ja"
}

// ReplyTemplates are the canned replies agents pick, by name, in ja and en.
var ReplyTemplates = map[string]map[string]string{
	"unlocked": {
		"ja": "ご不便をおかけしました。アカウントのロックを解除しました。いつもの方法でログインしてください。サポートがパスワードを尋ねることはありません。",
		"en": "Sorry for the trouble. We have lifted the lock on your account: please sign in as usual. Support never asks for your password.",
	},
	"need_info": {
		"ja": "ご本人確認のため、ご登録のお名前、ご住所、お支払いカードの下4桁と有効期限をこのページからお知らせください。パスワードは書かないでください。",
		"en": "To confirm it is you, please reply on this page with the name and address on the account and the last 4 digits and expiry of your payment card. Do not write your password.",
	},
	"bypass_granted": {
		"ja": "48時間以内であれば、確認コードの手順を省いて手続きを続けられるようにしました。もう一度お試しください。",
		"en": "For the next 48 hours you can continue without the code step. Please try again.",
	},
	"received": {
		"ja": "お問い合わせを受け付けました。担当者が確認しています。このページで状況をご覧いただけます。",
		"en": "We have received your request and someone is looking at it. You can follow it on this page.",
	},
}

// ReplyTemplateNames lists the templates in the order the console offers them.
var ReplyTemplateNames = []string{"received", "need_info", "unlocked", "bypass_granted"}
