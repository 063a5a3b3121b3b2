package store

// SetSearchTermsLimit makes the searches read at most n terms of a column
// term by term (see textArms), so tests with a few rows take both ways;
// the returned function restores the limit.
func SetSearchTermsLimit(n int) (restore func()) {
	old := searchTermsLimit
	searchTermsLimit = n
	return func() { searchTermsLimit = old }
}
