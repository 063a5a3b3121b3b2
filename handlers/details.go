package handlers

// detailReader is what the detail pages read.
type detailReader interface{}
