package handlers

// overviewReader is what the overview page reads.
type overviewReader interface{}
