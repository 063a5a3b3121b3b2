// Package money formats and parses amounts in a currency's minor units.
// Stripe states every amount as an integer count of the currency's smallest
// unit (cents for USD, yen for JPY, fils for BHD); paydesk keeps them as
// int64 and converts to major units only for people, exactly, without
// floating point.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// zeroDecimal are the currencies Stripe counts in whole units.
// https://docs.stripe.com/currencies#zero-decimal
var zeroDecimal = set("bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf")

// threeDecimal are the currencies Stripe counts in thousandths.
// https://docs.stripe.com/currencies#three-decimal
var threeDecimal = set("bhd", "jod", "kwd", "omr", "tnd")

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// Exponent is how many decimal places the currency's amounts have in
// Stripe's API: 0 for zero-decimal currencies, 3 for three-decimal ones,
// 2 for every other currency (ISK, HUF and TWD included: Stripe's API
// states them with two decimals).
func Exponent(currency string) int {
	c := strings.ToLower(currency)
	switch {
	case zeroDecimal[c]:
		return 0
	case threeDecimal[c]:
		return 3
	default:
		return 2
	}
}

// symbols are the prefixes shown for common currencies. Others are shown
// with their ISO code.
var symbols = map[string]string{
	"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "krw": "₩", "inr": "₹",
	"cad": "CA$", "aud": "A$", "nzd": "NZ$", "cny": "CN¥", "brl": "R$",
	"mxn": "MX$", "ils": "₪", "hkd": "HK$", "sgd": "S$", "php": "₱",
	"thb": "฿", "vnd": "₫", "ngn": "₦", "uah": "₴", "try": "₺", "pln": "zł ",
}

// Code is the currency's ISO code as people write it: "usd" -> "USD".
func Code(currency string) string { return strings.ToUpper(currency) }

// Major is amount in major units with exactly the currency's decimals and
// no grouping: 123456 usd -> "1234.56", 1234 jpy -> "1234", 1234 bhd ->
// "1.234". It is what CSV exports and form fields carry.
func Major(amount int64, currency string) string {
	return major(amount, Exponent(currency), false)
}

// Format is amount for people: symbol or code, thousands separators and the
// currency's decimals: "$1,234.56", "-€0.50", "¥1,235", "BHD 1.234".
func Format(amount int64, currency string) string {
	s := major(amount, Exponent(currency), true)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sign := ""
	if neg {
		sign = "-"
	}
	if sym, ok := symbols[strings.ToLower(currency)]; ok {
		return sign + sym + s
	}
	return sign + Code(currency) + "\u00a0" + s
}

// major writes amount / 10^exp exactly. Working on the unsigned magnitude
// keeps math.MinInt64 exact too.
func major(amount int64, exp int, group bool) string {
	neg := amount < 0
	mag := uint64(amount)
	if neg {
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	if group {
		whole = groupThousands(whole)
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(whole)
	if exp > 0 {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

func groupThousands(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Errors from Parse; they read well after "amount: ".
var (
	ErrSyntax        = errors.New("not a number: write it like 12.50")
	ErrTooManyPlaces = errors.New("too many decimal places for this currency")
	ErrRange         = errors.New("amount too large")
	ErrNegative      = errors.New("amount must not be negative")
)

// Parse reads an amount in major units, as typed by a person ("12.5",
// "1,234.50", "1234"), into minor units of currency. It refuses more
// decimals than the currency has, signs, exponents and anything that is
// not a plain decimal number; thousands separators are allowed only in
// the whole part.
func Parse(s, currency string) (int64, error) {
	exp := Exponent(currency)
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, ErrNegative
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	whole = strings.ReplaceAll(whole, ",", "")
	if whole == "" && frac == "" || hasPoint && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return 0, ErrSyntax
	}
	if len(frac) > exp {
		// Trailing zeros beyond the currency's places change nothing.
		if strings.TrimRight(frac[exp:], "0") != "" {
			return 0, fmt.Errorf("%w (%s has %d)", ErrTooManyPlaces, Code(currency), exp)
		}
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	if whole == "" {
		whole = "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, ErrRange
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
