package stripefake

import "strings"

// Names a real account accumulates: many scripts and accents, so a mirror
// and its pages must store and render any Unicode.
var plainNames = []string{
	"Jenny Rosen", "José Álvarez", "Zoë Müller", "François Lefèvre", "Søren Kierkegård",
	"Łukasz Żółć", "Ana María Peña", "Björk Guðmundsdóttir", "İsmail Çelik", "Nguyễn Văn An",
	"李小龙", "田中 太郎", "김민준", "محمد العلي", "Ольга Иванова", "Δημήτρης Παπαδόπουλος",
	"שרה כהן", "राहुल शर्मा", "สมชาย ใจดี", "Chloé d'Aubigné", "Ærøskøbing ApS",
	"Acme, Inc.", "Müller & Söhne GmbH", "株式会社テスト", "Grace Hopper", "Alan Turing",
}

// hostileTexts are the strings that break naive code: markup that must be
// escaped, not executed; a right-to-left override (U+202E) that flips the
// displayed text; CSV formulas; SQL; emoji that are several code points.
// Every one of them appears at least once when there are enough customers.
var hostileTexts = []string{
	"<script>alert(1)</script>",
	"Robert <script>alert(1)</script> Tables",
	"<b>x</b> Bold Traders",
	`<img src=x onerror="alert(1)">`,
	"🎉 Party Supplies 🦄",
	"👩‍👩‍👧‍👦 Family Account",
	"Invoice \u202Efdp.exe",
	"\u202Enoitaroproc evil",
	"Robert'); DROP TABLE customers;--",
	`O'Brien & "Sons" Ltd`,
	`=HYPERLINK("http://evil.example","click")`,
	"+1-2 formula",
	"@SUM(A1:A2)",
	"Z\u0337a\u0334l\u0336g\u0338o\u0335 text",
	"  padded with spaces  ",
	"Line one\nLine two",
	"Tab\tseparated",
	"back\\slash and 100% {braces}",
	strings.Repeat("Very long name ", 20) + "end",
}

var lineDescriptions = []string{
	"Pro plan (monthly)", "Setup fee", "Extra seat", "Support hours", "Café au lait ×2",
	"Übersetzung", "翻訳サービス", "استشارة", "Storage 1 TB", "API calls (10k)",
}

var cardBrands = []string{"visa", "visa", "visa", "mastercard", "mastercard", "amex", "discover", "jcb", "unionpay", "diners"}

var failures = []struct{ code, message string }{
	{"card_declined", "Your card was declined."},
	{"expired_card", "Your card has expired."},
	{"insufficient_funds", "Your card has insufficient funds."},
	{"incorrect_cvc", "Your card's security code is incorrect."},
	{"processing_error", "An error occurred while processing your card. Try again in a little bit."},
}

var refundReasons = []any{nil, nil, "duplicate", "fraudulent", "requested_by_customer", "requested_by_customer"}

// currencies with weights; jpy and krw are zero-decimal, bhd three-decimal.
var currencies = []struct {
	code   string
	weight int
	unit   int64 // amounts are multiples of this (bhd: the last digit must be 0)
	scale  int64 // typical size of one minor unit relative to a cent
}{
	{"usd", 50, 1, 1}, {"eur", 20, 1, 1}, {"gbp", 10, 1, 1},
	{"jpy", 8, 1, 1}, {"krw", 6, 1, 10}, {"bhd", 6, 10, 1},
}

func currencyIndex(code string) int {
	for i, c := range currencies {
		if c.code == code {
			return i
		}
	}
	panic("stripefake: unknown currency " + code)
}
