package handlers

// listReader is what the list pages and their CSV exports read.
type listReader interface{}
