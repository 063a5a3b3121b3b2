package handlers

// Mirror is what the pages over the mirror read: the lists, the detail
// pages, the overview and the live-update feed each declare their part
// beside their handlers. *store.Store satisfies it.
type Mirror interface {
	listReader
	detailReader
	overviewReader
	liveReader
}
