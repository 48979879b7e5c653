package connectsid

// Op is what happened to a stored session, as a store's Watch reports it.
// Every store reports the same set, so that whoever follows sessions
// decides once what each one means.
type Op string

// The operations a store's Watch reports.
const (
	// OpDel: the record was removed while still valid (logout, destroy,
	// or a write with a TTL of zero or less).
	OpDel Op = "del"
	// OpExpired: the store dropped the record at its TTL (Redis's expiry,
	// connect-pg-simple's pruning of a row past its expire).
	OpExpired Op = "expired"
	// OpEvicted: the store pushed the record out for memory (Redis's
	// maxmemory).
	OpEvicted Op = "evicted"
	// OpSet: the record was written again; it may hold another login.
	OpSet Op = "set"
)

// Ended says whether op removed the record: after it, the session is gone.
func (op Op) Ended() bool { return op == OpDel || op == OpExpired || op == OpEvicted }
