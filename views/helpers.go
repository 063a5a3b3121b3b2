package views

import (
	"slices"
	"strconv"
	"strings"
)

// htmxConfig is read by htmx from <meta name="htmx-config">. It keeps htmx
// inside the Content-Security-Policy (no inline indicator <style>, no eval, no
// scripts from swapped HTML), keeps finance pages out of localStorage (no
// history cache; a history miss reloads the page), and swaps 4xx and 5xx
// responses too (still raising htmx:responseError), because handlers answer
// a rejected form with the form and its errors, and a failure with an error
// page, both meant to be seen.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,` +
	`"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[` +
	`{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"[45]..","swap":true,"error":true},{"code":"...","swap":false}]}`

// stripeAPIVersion is the version paydesk pins (stripeapi.APIVersion); views
// does not import stripeapi, so the overview states it here.
const stripeAPIVersion = "2023-10-16"

func pageTitle(title string) string {
	if title == "" {
		return "paydesk"
	}
	return title + " · paydesk"
}

func modeClass(live bool) string {
	if live {
		return "mode-live"
	}
	return "mode-test"
}

// FormatCount writes n with thousands separators: 1234567 -> "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// roleOptions is the role list for a select: roles (DefaultRoles when empty),
// plus current when it is not among them, so a select never silently shows
// another role than the one the user has.
func roleOptions(roles []string, current string) []string {
	if len(roles) == 0 {
		roles = DefaultRoles
	}
	if current == "" || slices.Contains(roles, current) {
		return roles
	}
	return append(slices.Clone(roles), current)
}

// newUserRole is the role preselected in the "Add a user" form: the one
// typed, else the lowest.
func newUserRole(typed string, roles []string) string {
	if typed != "" || len(roles) == 0 {
		return typed
	}
	return roles[0]
}

// otherErrors returns the messages of errs whose keys are not fields,
// sorted by key so the page is stable.
func otherErrors(errs map[string]string, fields ...string) []string {
	var keys []string
	for k, msg := range errs {
		if msg != "" && !slices.Contains(fields, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = errs[k]
	}
	return msgs
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }
