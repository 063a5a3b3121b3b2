package money

import (
	"errors"
	"math"
	"testing"
)

func TestExponent(t *testing.T) {
	for cur, want := range map[string]int{"usd": 2, "EUR": 2, "jpy": 0, "KRW": 0, "bhd": 3, "kwd": 3, "isk": 2, "xyz": 2} {
		if got := Exponent(cur); got != want {
			t.Errorf("Exponent(%q) = %d, want %d", cur, got, want)
		}
	}
}

func TestFormatAndMajor(t *testing.T) {
	for _, c := range []struct {
		amount        int64
		cur           string
		format, major string
	}{
		{123456, "usd", "$1,234.56", "1234.56"},
		{5, "usd", "$0.05", "0.05"},
		{0, "eur", "€0.00", "0.00"},
		{-50, "eur", "-€0.50", "-0.50"},
		{1234, "jpy", "¥1,234", "1234"},
		{1234567, "krw", "₩1,234,567", "1234567"},
		{1234, "bhd", "BHD\u00a01.234", "1.234"},
		{7, "kwd", "KWD\u00a00.007", "0.007"},
		{5_000_000_000, "usd", "$50,000,000.00", "50000000.00"},
		{math.MaxInt64, "usd", "$92,233,720,368,547,758.07", "92233720368547758.07"},
		{math.MinInt64, "jpy", "-¥9,223,372,036,854,775,808", "-9223372036854775808"},
	} {
		if got := Format(c.amount, c.cur); got != c.format {
			t.Errorf("Format(%d, %s) = %q, want %q", c.amount, c.cur, got, c.format)
		}
		if got := Major(c.amount, c.cur); got != c.major {
			t.Errorf("Major(%d, %s) = %q, want %q", c.amount, c.cur, got, c.major)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"12.50", "usd", 1250, nil},
		{"12.5", "usd", 1250, nil},
		{"12", "usd", 1200, nil},
		{".5", "usd", 50, nil},
		{" 1,234.56 ", "usd", 123456, nil},
		{"12.500", "usd", 1250, nil},
		{"12.345", "usd", 0, ErrTooManyPlaces},
		{"1234", "jpy", 1234, nil},
		{"1234.5", "jpy", 0, ErrTooManyPlaces},
		{"1.234", "bhd", 1234, nil},
		{"1.2345", "bhd", 0, ErrTooManyPlaces},
		{"-1", "usd", 0, ErrNegative},
		{"", "usd", 0, ErrSyntax},
		{".", "usd", 0, ErrSyntax},
		{"12.", "usd", 0, ErrSyntax},
		{"1e3", "usd", 0, ErrSyntax},
		{"+5", "usd", 0, ErrSyntax},
		{"١٢", "usd", 0, ErrSyntax},
		{"92233720368547758.08", "usd", 0, ErrRange},
		{"92233720368547758.07", "usd", math.MaxInt64, nil},
	} {
		got, err := Parse(c.in, c.cur)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d, %v", c.in, c.cur, got, err, c.want, c.err)
		}
	}
}
